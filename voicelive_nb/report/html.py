"""Summaries of a recorded session: text, HTML with embedded PNGs, or one PNG.

The command line (``voicelive-nb report``) is :mod:`voicelive_nb.cli.report`.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from voicelive_nb.recording.recording import Recording

TABLE_COLUMNS = (
    "start_s",
    "end_s",
    "detection_ms",
    "response_latency_ms",
    "playout_ms",
    "voice_to_voice_ms",
    "barge_in_stale_ms",
    "interrupted",
    "status",
    "user_transcript",
    "assistant_transcript",
)


def turn_summary_table(rec: Recording) -> pd.DataFrame:
    """The turn table trimmed to the columns worth reading (ms whole, seconds to 0.01)."""
    from voicelive_nb.recording.analysis import readable

    table = rec.turns
    cols = [c for c in TABLE_COLUMNS if c in table.columns]
    return readable(table[cols])


def summary_text(rec: Recording) -> str:
    """Turn table and latency summary as plain text (what the CLI prints)."""
    import pandas as pd

    from voicelive_nb.recording.analysis import summary_frame

    s = rec.summary()
    head = (
        f"{rec.path}: {s['duration_s']:.1f} s, {s['turns']} turns, {s['interrupted']} interrupted, "
        f"{rec.record_count} records"
    )
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 30):
        table = turn_summary_table(rec).to_string(na_rep="-") if s["turns"] else "(no turns)"
        stats = summary_frame(s).to_string(na_rep="-")
    return f"{head}\n\n{table}\n\nlatency (ms):\n{stats}\n"


def _png_tag(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}" style="max-width:100%"/>'


def recording_html(rec: Recording, *, full: bool = True) -> str:
    """HTML for a recording: key figures, timeline PNG, and (``full``) every plot and the turn table."""
    from voicelive_nb.recording.analysis import summary_html
    from voicelive_nb.report import plots

    parts = [summary_html(str(rec.path), rec.summary())]
    parts.append(_png_tag(plots.to_png(plots.timeline(rec)), "timeline"))
    if full:
        parts.append(_png_tag(plots.to_png(plots.latency_breakdown(rec)), "latency breakdown"))
        parts.append(_png_tag(plots.to_png(plots.latency_cdf(rec)), "latency CDF"))
        parts.append(_png_tag(plots.to_png(plots.level_meters(rec)), "level meters"))
        parts.append(turn_summary_table(rec).to_html())
    return "<div class='voicelive-recording'>" + "\n".join(parts) + "</div>"


def report_png(rec: Recording, path: str | Path, dpi: int = 100) -> Path:
    """One PNG with the timeline, level meters, latency breakdown and CDF."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from voicelive_nb.report import plots

    fig = Figure(figsize=(13, 11), layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(3, 2, height_ratios=[1.3, 0.9, 1.2])
    plots.timeline(rec, ax=fig.add_subplot(grid[0, :]))
    plots.level_meters(rec, ax=fig.add_subplot(grid[1, :]))
    plots.latency_breakdown(rec, ax=fig.add_subplot(grid[2, 0]))
    plots.latency_cdf(rec, ax=fig.add_subplot(grid[2, 1]))
    fig.suptitle(str(rec.path))
    out = Path(path)
    fig.savefig(out, dpi=dpi)
    return out


PAGE_WIDTH_PX = 1000
"""Width the report page is laid out for; every figure is rendered at most this wide."""

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2937; margin: 0; }
main { max-width: 1000px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; padding-bottom: 4px;
  border-bottom: 1px solid #e5e7eb; }
.meta { color: #6b7280; margin: 0 0 16px; word-break: break-all; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 8px 0 14px; }
.card { border: 1px solid #e5e7eb; border-radius: 6px; padding: 8px 12px; min-width: 110px; }
.card b { display: block; font-size: 20px; font-variant-numeric: tabular-nums; }
.card span { color: #6b7280; font-size: 12px; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e5e7eb; text-align: right; vertical-align: top; }
thead th { background: #f3f4f6; border-bottom: 1px solid #d1d5db; }
tbody th { text-align: left; font-weight: 600; }
td { font-variant-numeric: tabular-nums; }
td.text { text-align: left; max-width: 260px; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; }
figure { margin: 8px 0 4px; } figure img { display: block; max-width: 100%; height: auto; }
figcaption, .note { color: #6b7280; font-size: 12px; }
.turns { overflow-x: auto; }
"""


def _figure_png(draw: Any, height_in: float, alt: str) -> str:
    """Render ``draw(ax)`` into a figure :data:`PAGE_WIDTH_PX` wide at 100 dpi; an ``<img>``."""
    from matplotlib.figure import Figure

    from voicelive_nb.report import plots

    fig = Figure(figsize=(PAGE_WIDTH_PX / 100.0 - 0.4, height_in), layout="constrained")
    draw(fig.add_subplot())
    return _png_tag(plots.to_png(fig, dpi=100), alt)


def _cell(value: Any, text: bool = False) -> str:
    import pandas as pd

    shown = "-" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
    return f'<td class="text">{html.escape(shown)}</td>' if text else f"<td>{html.escape(shown)}</td>"


def _summary_section(rec: Recording) -> str:
    from voicelive_nb.metrics import LATENCY_STAGES
    from voicelive_nb.recording.analysis import rounded, summary_frame

    s = rec.summary()
    v2v = s.get("voice_to_voice_ms", {})
    cards = [
        (f"{s['duration_s']:.1f} s", "session length"),
        (str(s["turns"]), "turns"),
        (str(s["interrupted"]), "interrupted"),
        (_ms(v2v.get("p50")), "voice-to-voice p50"),
        (_ms(v2v.get("p90")), "voice-to-voice p90"),
    ]
    card_html = "".join(
        f"<div class='card'><b>{html.escape(v)}</b><span>{html.escape(k)}</span></div>" for v, k in cards
    )
    frame = summary_frame(s)
    names = {st.field: st.label for st in LATENCY_STAGES} | {
        "voice_to_voice_ms": "voice-to-voice",
        "barge_in_stale_ms": "barge-in: stale audio",
        "tool_ms": "tool calls",
        "tool_to_audio_ms": "tool output → audio",
    }
    colours = {st.field: st.colour for st in LATENCY_STAGES}
    rows = []
    for field, row in frame.iterrows():
        swatch = f"<span class='swatch' style='background:{colours[field]}'></span>" if field in colours else ""
        label = html.escape(names.get(str(field), str(field)))
        cells = "".join(_cell(rounded(row[c], str(field)) if c != "count" else row[c]) for c in frame.columns)
        rows.append(f"<tr><th>{swatch}{label}</th>{cells}</tr>")
    spans = "".join(
        f"<li><span class='swatch' style='background:{st.colour}'></span><b>{html.escape(st.label)}</b>: "
        f"{html.escape(st.span)}</li>"
        for st in LATENCY_STAGES
    )
    return (
        f"<h2>Summary</h2><div class='cards'>{card_html}</div>"
        "<table><thead><tr><th>latency (ms)</th><th>turns</th><th>p50</th><th>p90</th><th>max</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        f"<p class='note'>The stages add up to voice-to-voice:</p><ul class='note'>{spans}</ul>"
    )


def _ms(value: Any) -> str:
    return "-" if value is None or value != value else f"{value:.0f} ms"


def _turns_section(rec: Recording) -> str:
    from voicelive_nb.metrics import LATENCY_STAGES

    table = turn_summary_table(rec)
    if table.empty:
        return "<h2>Turns</h2><p class='note'>No turns.</p>"
    headers = {
        "start_s": "start s",
        "end_s": "end s",
        "voice_to_voice_ms": "voice-to-voice ms",
        "barge_in_stale_ms": "stale ms",
        "user_transcript": "you said",
        "assistant_transcript": "assistant said",
    } | {st.field: f"{st.label} ms" for st in LATENCY_STAGES}
    text_cols = {"status", "user_transcript", "assistant_transcript"}
    head = "<th>#</th>" + "".join(f"<th>{html.escape(headers.get(c, c))}</th>" for c in table.columns)
    body = "".join(
        f"<tr><th>{html.escape(str(index))}</th>"
        + "".join(_cell(row[c], c in text_cols) for c in table.columns)
        + "</tr>"
        for index, row in table.iterrows()
    )
    return f"<h2>Turns</h2><div class='turns'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def report_page(rec: Recording) -> str:
    """A whole HTML page for a recording: a title, the summary first, then the figures (at most
    :data:`PAGE_WIDTH_PX` wide) and the turn table; self-contained (figures embedded)."""
    from voicelive_nb.report import plots

    start = rec.session.get("start")
    started = start.get("iso") if isinstance(start, dict) else None
    meta = f"{rec.path}" + (f" · recorded {started}" if started else "")
    figures = [
        ("Timeline", lambda ax: plots.timeline(rec, ax=ax), 3.9,
         "Mic (sent) above, assistant (played) below; shaded: user speech as the server's VAD saw it and the "
         "assistant playing; labels: the transcripts."),
        ("Latency per turn", lambda ax: plots.latency_breakdown(rec, ax=ax), 3.6,
         "Each bar is one turn, split into the stages above; the black mark is voice-to-voice."),
        ("Latency distribution", lambda ax: plots.latency_cdf(rec, ax=ax), 3.2, ""),
        ("Levels", lambda ax: plots.level_meters(rec, ax=ax), 2.8, "RMS level of both tracks (dBFS)."),
    ]  # fmt: skip
    body = [
        "<main><h1>Voice Live session report</h1>",
        f"<p class='meta'>{html.escape(meta)}</p>",
        _summary_section(rec),
    ]
    for title, draw, height, caption in figures:
        img = _figure_png(draw, height, title.lower())
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        body.append(f"<h2>{html.escape(title)}</h2><figure>{img}{cap}</figure>")
    body.append(_turns_section(rec))
    body.append("</main>")
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>Voice Live session report: {html.escape(rec.path.name)}</title><style>{_CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>"
    )


def write_report(rec: Recording, out: str | Path) -> Path:
    """Write ``out`` as HTML (``.html``/``.htm``: :func:`report_page`) or PNG (``.png``)."""
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        path.write_text(report_page(rec), encoding="utf-8")
        return path
    if suffix == ".png":
        return report_png(rec, path)
    raise ValueError(f"--out {out}: use a .html or .png file name")
