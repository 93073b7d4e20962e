"""Summaries of a recorded session: text, HTML with embedded PNGs, or one PNG.

The command line (``voicelive-nb report``) is :mod:`voicelive_nb.cli.report`.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import TYPE_CHECKING

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
    """The turn table trimmed to the columns worth reading (ms rounded)."""
    table = rec.turns
    cols = [c for c in TABLE_COLUMNS if c in table.columns]
    out: pd.DataFrame = table[cols].copy()
    for c in cols:
        if c.endswith("_ms"):
            out[c] = out[c].astype(float).round(0)
        elif c.endswith("_s"):
            out[c] = out[c].astype(float).round(2)
    return out


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
        frame = summary_frame(s).astype(float).round(1)
        frame["count"] = frame["count"].astype(int)
        stats = frame.to_string(na_rep="-")
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


def write_report(rec: Recording, out: str | Path) -> Path:
    """Write ``out`` as HTML (``.html``/``.htm``) or PNG (``.png``)."""
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        page = (
            "<!doctype html><html><head><meta charset='utf-8'><title>voicelive-nb report</title></head>"
            f"<body>{recording_html(rec, full=True)}</body></html>"
        )
        path.write_text(page, encoding="utf-8")
        return path
    if suffix == ".png":
        return report_png(rec, path)
    raise ValueError(f"--out {out}: use a .html or .png file name")
