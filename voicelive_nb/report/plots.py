"""Matplotlib figures of a session: timeline, latency breakdown, latency CDF, level meters.

Each function returns a :class:`matplotlib.figure.Figure` and takes an optional ``ax``
to draw into (then the figure is ``ax.figure``).  Figures are made without pyplot, so
they work under any backend (Agg included), leak no global state, and still display
inline in Jupyter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from voicelive_nb.metrics import LATENCY_STAGES, Turn, TurnTracker
from voicelive_nb.recording.analysis import barge_ins, level_trace, playback_spans, speech_spans, turn_table

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from voicelive_nb.recording.recording import Recording

TurnsLike = Any  # Recording | DataFrame | list[Turn] | TurnTracker


def latency_label(field: str) -> str:
    """What a latency column is called in legends: a stage's label, else plain words."""
    for stage in LATENCY_STAGES:
        if stage.field == field:
            return stage.label
    return {"voice_to_voice_ms": "voice-to-voice", "barge_in_stale_ms": "barge-in stale audio"}.get(
        field, field.removesuffix("_ms").replace("_", " ")
    )


BREAKDOWN: tuple[tuple[str, str, str], ...] = tuple((s.field, s.label, s.colour) for s in LATENCY_STAGES)
"""(turn-table column, legend label, colour) of each stage, from :data:`~voicelive_nb.metrics.LATENCY_STAGES`."""


def _fig_ax(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _turns(data: TurnsLike) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, TurnTracker):
        return turn_table(data.turns)
    if isinstance(data, Sequence) and (not data or isinstance(data[0], Turn)):
        return turn_table(data)
    turns = getattr(data, "turns", None)
    if isinstance(turns, pd.DataFrame):
        return turns
    raise TypeError(
        f"expected a Recording, a turn DataFrame, a TurnTracker or a list of Turn, not {type(data).__name__}"
    )


def _envelope(
    ax: Axes, audio: np.ndarray, rate: int, y: float, color: str, label: str, width: int, lo_s: float, hi_s: float
) -> None:
    """Min/max envelope of ``audio`` between ``lo_s`` and ``hi_s`` in about ``width`` buckets,
    centred at ``y`` and scaled to ±0.9 (only the visible part is read: cheap on long tracks)."""
    first = max(0, int(lo_s * rate))
    last = min(len(audio), int(np.ceil(hi_s * rate)))
    n = last - first
    if n <= 0:
        return
    step = max(1, n // width)
    usable = n // step * step
    blocks = np.asarray(audio[first : first + usable]).reshape(-1, step)
    lo = blocks.min(axis=1).astype(np.float32) / 32768.0
    hi = blocks.max(axis=1).astype(np.float32) / 32768.0
    peak = max(float(np.abs(lo).max()), float(np.abs(hi).max()), 1e-3)
    x = (first + np.arange(len(lo)) * step + step / 2) / rate
    ax.fill_between(x, y + lo / peak * 0.9, y + hi / peak * 0.9, color=color, lw=0, label=label)


def _short(value: Any, limit: int = 40) -> str:
    text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def timeline(
    rec: Recording,
    *,
    ax: Axes | None = None,
    start: float | None = None,
    end: float | None = None,
    transcripts: bool = True,
    width: int = 3000,
    max_labels: int = 60,
) -> Figure:
    """Both tracks on one time axis (seconds from ``t0``) with what happened on them.

    Mic (sent) above, assistant (played) below; shaded: the user's speech as the
    server's VAD saw it, and the spans where assistant audio played; dashed red lines:
    barge-ins; labels: the transcripts (when at most ``max_labels`` turns are in view).
    ``start``/``end`` zoom in (seconds); only the part in view is drawn.
    """
    fig, ax = _fig_ax(ax, (12, 3.6))
    duration = max(len(rec.mic) / rec.rate, len(rec.assistant) / rec.assistant_rate, 1e-3)
    lo_s = 0.0 if start is None else float(start)
    hi_s = duration if end is None else float(end)
    if hi_s <= lo_s:
        raise ValueError(f"timeline: end ({end}) must be after start ({start})")
    _envelope(ax, rec.mic, rec.rate, 1.0, "#1f77b4", "mic (sent)", width, lo_s, hi_s)
    _envelope(ax, rec.assistant, rec.assistant_rate, -1.0, "#ff7f0e", "assistant (played)", width, lo_s, hi_s)

    def visible(spans: list[Any]) -> list[tuple[float, float]]:
        return [(sp.start, max(sp.end - sp.start, 1e-3)) for sp in spans if sp.end >= lo_s and sp.start <= hi_s]

    speech = visible(speech_spans(rec.turns))
    if speech:  # one collection each: thousands of spans stay cheap
        ax.broken_barh(speech, (0.0, _TOP), color="#1f77b4", alpha=0.15, lw=0, label="user speech (VAD)")
    played = visible(playback_spans(rec.blocks("speaker")))
    if played:
        ax.broken_barh(played, (-_TOP, _TOP), color="#ff7f0e", alpha=0.15, lw=0, label="assistant playing")
    cuts = [x for x in barge_ins(rec.other_events, rec.t0 or 0.0) if lo_s <= x <= hi_s]
    if cuts:
        ax.vlines(cuts, -_TOP, _TOP, color="red", ls="--", lw=1, label="barge-in")
    table = rec.turns
    if transcripts and len(table):
        starts = pd.to_numeric(table["start_s"], errors="coerce")
        shown = table[(starts >= lo_s) & (starts <= hi_s)]
        if 0 < len(shown) <= max_labels:
            said = [(float(r["start_s"]), _short(r.get("user_transcript"))) for _, r in shown.iterrows()]
            answers = [
                (float(at), _short(r.get("assistant_transcript")))
                for _, r in shown.iterrows()
                if (at := r.get("first_played_s")) is not None and not pd.isna(at) and lo_s <= at <= hi_s
            ]
            _labels(ax, said, (1.92, 2.32), "bottom", "#1f4e79", hi_s - lo_s, hi_s)
            _labels(ax, answers, (-1.92, -2.32), "top", "#7f3f00", hi_s - lo_s, hi_s)
    ax.set_ylim(-_TOP, _TOP)
    ax.set_yticks([1.0, -1.0], ["mic", "assistant"])
    ax.set_xlabel("seconds")
    ax.set_xlim(lo_s, hi_s)
    # below the axes: inside it covered the transcript labels
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=7, ncols=5, frameon=False)
    ax.set_title("Session timeline")
    return fig


_TOP = 2.75  # the y range of the timeline: the tracks at +-1, two lanes of labels beyond each
_LABEL_PT = 7.0


def _labels(
    ax: Axes, items: list[tuple[float, str]], lanes: tuple[float, ...], va: str, color: str, span: float, end: float
) -> None:
    """Transcript labels at their times, taking turns between ``lanes`` (y values), each shortened
    to end before the next label of its lane (and the axes' end): they never run into each other.

    Widths are measured with the font's glyph outlines and the axes' width before any layout
    engine widens it, so they err on the short side.
    """
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    if not items:
        return
    prop = FontProperties(size=_LABEL_PT)
    fig: Any = ax.figure  # a SubFigure's size is its root figure's
    while fig is not None and not hasattr(fig, "get_size_inches"):
        fig = getattr(fig, "figure", None)
    fig_w = float(fig.get_size_inches()[0]) if fig is not None else 10.0
    width_in = fig_w * ax.get_position().width
    s_per_pt = span / max(width_in * 72.0, 1.0)

    def width_s(text: str) -> float:
        return (TextPath((0, 0), text, size=_LABEL_PT, prop=prop).get_extents().width + 4.0) * s_per_pt

    items = sorted(items)
    k = len(lanes)
    for i, (x, text) in enumerate(items):
        limit = (items[i + k][0] if i + k < len(items) else end) - x
        while text and width_s(text) > limit:
            text = text[:-2] + "…" if len(text) > 2 else ""
        if text and text != "…":
            ax.text(x, lanes[i % k], text, fontsize=_LABEL_PT, va=va, color=color, clip_on=True)


def latency_breakdown(turns: TurnsLike, *, ax: Axes | None = None) -> Figure:
    """Stacked bars per turn: the pieces that add up to voice-to-voice latency (ms)."""
    df = _turns(turns)
    fig, ax = _fig_ax(ax, (10, 3.6))
    if df.empty:
        ax.text(0.5, 0.5, "no turns", ha="center", va="center", transform=ax.transAxes)
        return fig
    parts = pd.DataFrame(index=df.index)
    for name, _, _ in BREAKDOWN:
        parts[name] = pd.to_numeric(df[name], errors="coerce") if name in df.columns else np.nan
    if "output_ms" not in df.columns:  # a table made before output_ms was a column
        has_played = pd.to_numeric(df["first_played"], errors="coerce").notna()
        parts["output_ms"] = pd.to_numeric(df["output_latency_s"], errors="coerce") * 1000.0 * has_played
    # bars stand at their turn numbers (from 1, as everywhere)
    numbers = pd.to_numeric(pd.Series(df.index), errors="coerce")
    x = numbers.to_numpy(dtype=float) if numbers.notna().all() else np.arange(1, len(parts) + 1, dtype=float)
    bottom = np.zeros(len(parts))
    many = len(x) > 80  # hundreds of bars cost seconds to lay out: stacked areas instead
    layers = [parts[name].fillna(0.0).clip(lower=0.0).to_numpy() for name, _, _ in BREAKDOWN]
    if many:
        ax.stackplot(x, *layers, colors=[c for _, _, c in BREAKDOWN], labels=[lb for _, lb, _ in BREAKDOWN],
                     step="mid", lw=0)  # fmt: skip
        bottom = np.sum(layers, axis=0)
    else:
        for values, (_, label, color) in zip(layers, BREAKDOWN, strict=True):
            ax.bar(x, values, bottom=bottom, color=color, label=label, width=0.8)
            bottom += values
    v2v = pd.to_numeric(df["voice_to_voice_ms"], errors="coerce").to_numpy()
    ax.plot(x, v2v, "k." if many else "k_", ms=3 if many else 14, mew=2, label="voice-to-voice")
    interrupted = df["interrupted"].astype(bool).to_numpy()
    if interrupted.any():
        ax.plot(x[interrupted], bottom[interrupted] * 1.04 + 5, "rv", label="interrupted")
    if len(x) <= 40:
        ax.set_xticks(x, [str(int(i)) for i in x])
    else:  # hundreds of turns: let matplotlib pick a few integer ticks (a label each is slow and unreadable)
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(nbins=12, integer=True))
    top = float(np.nanmax(np.concatenate([bottom, np.nan_to_num(v2v)]))) if len(bottom) else 0.0
    ax.set_ylim(0, max(top, 1.0) * 1.45)  # headroom for the legend
    ax.set_xlabel("turn")
    ax.set_ylabel("ms")
    ax.legend(fontsize=7, loc="upper left", ncols=3)
    ax.set_title("Latency breakdown per turn")
    return fig


def latency_cdf(
    data: TurnsLike | Mapping[str, TurnsLike],
    metric: str | Sequence[str] = ("response_latency_ms", "voice_to_voice_ms"),
    *,
    ax: Axes | None = None,
) -> Figure:
    """Empirical CDF of one or more latencies, for one or several (named) sessions."""
    fig, ax = _fig_ax(ax, (6, 3.6))
    metrics = [metric] if isinstance(metric, str) else list(metric)
    series = data.items() if isinstance(data, Mapping) else [("", data)]
    drawn = 0
    for name, item in series:
        df = _turns(item)
        for m in metrics:
            values = np.sort(pd.to_numeric(df.get(m, pd.Series(dtype=float)), errors="coerce").dropna())
            if not len(values):
                continue
            y = np.arange(1, len(values) + 1) / len(values)
            label = f"{name} {latency_label(m)}".strip()
            ax.step(np.concatenate([[values[0]], values]), np.concatenate([[0.0], y]), where="post", label=label)
            drawn += 1
    if not drawn:
        ax.text(0.5, 0.5, "no latencies", ha="center", va="center", transform=ax.transAxes)
    else:
        ax.legend(fontsize=7, loc="lower right")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("ms")
    ax.set_ylabel("fraction of turns")
    ax.grid(alpha=0.3)
    ax.set_title("Latency CDF")
    return fig


def level_meters(rec: Recording, *, ax: Axes | None = None, floor_db: float = -90.0, max_points: int = 6000) -> Figure:
    """RMS level (dBFS) of the mic blocks sent and the blocks played, over time.

    Long sessions are decimated to about ``max_points`` blocks per track.
    """
    fig, ax = _fig_ax(ax, (12, 2.8))
    step_mic = max(1, len(rec.file.mic_lines) // max_points)
    step_spk = max(1, len(rec.file.speaker_lines) // max_points)
    trace = level_trace(rec.blocks("mic", step_mic), rec.blocks("speaker", step_spk))
    for track, color in (("mic", "#1f77b4"), ("assistant", "#ff7f0e")):
        part = trace[trace["track"] == track]
        if len(part):
            x = part["seconds"].to_numpy(dtype=float)
            level = pd.to_numeric(part["rms_db"], errors="coerce").clip(lower=floor_db).to_numpy(dtype=float)
            steps = np.diff(x)
            limit = max(0.2, 3.0 * float(np.median(steps))) if len(steps) else 0.2  # decimated: wider
            gaps = np.flatnonzero(steps > limit) + 1  # no line across silence
            x = np.insert(x, gaps, np.nan)
            level = np.insert(level, gaps, np.nan)
            ax.plot(x, level, color=color, lw=0.7, label=f"{track} rms")
    ax.set_ylim(floor_db, 3)
    ax.set_xlabel("seconds")
    ax.set_ylabel("dBFS")
    if len(trace):
        ax.legend(fontsize=7, loc="upper right")
    ax.grid(alpha=0.3)
    ax.set_title("Level meters")
    return fig


def to_png(fig: Figure, dpi: int = 100) -> bytes:
    """Render ``fig`` to PNG bytes (Agg, no display needed)."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
