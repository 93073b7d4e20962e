"""Turn tables, summaries and comparisons (pandas), and the spans plots are drawn from.

Everything here takes plain data -- :class:`~voicelive_nb.metrics.Turn` lists, event
dicts as stored in ``events.jsonl``, summary dicts -- so it works the same on a live
tracker and on a loaded :class:`~voicelive_nb.recording.Recording`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from voicelive_nb.events import Local
from voicelive_nb.metrics import LATENCY_FIELDS, Turn

TURN_COLUMNS: tuple[str, ...] = (
    "index",
    "source",
    "start_s",
    "end_s",
    "duration_ms",
    *LATENCY_FIELDS,
    "tool_calls",
    "interrupted",
    "status",
    "user_transcript",
    "assistant_transcript",
)
"""Columns shown first in a turn table (every other Turn field follows)."""


def turn_table(turns: Iterable[Turn], *, t0: float | None = None) -> pd.DataFrame:
    """One row per turn: the columns of :data:`TURN_COLUMNS`, then every raw timestamp.

    ``start_s``/``end_s`` are the user's speech on the audio clock (seconds into the
    mic track); with ``t0`` given, every monotonic ``*_rx``/``*_t``/``*played`` column
    gets a ``..._s`` twin measured from ``t0`` (seconds into the recorded tracks).
    """
    rows = [turn.to_dict() for turn in turns]
    if not rows:
        return pd.DataFrame(columns=list(TURN_COLUMNS)).set_index("index")
    df = pd.DataFrame(rows)
    df["start_s"] = df["speech_start"]
    df["end_s"] = df["speech_end"]
    if t0 is not None:
        for col in list(df.columns):
            if col.endswith(("_rx", "_played", "_t")) or col in ("first_played", "last_played"):
                df[col + "_s"] = df[col] - t0
    ordered = [c for c in TURN_COLUMNS if c in df.columns]
    df = df[ordered + [c for c in df.columns if c not in ordered]]
    return df.set_index("index")


def rounded(value: Any, name: str) -> Any:
    """``value`` as a person reads it: a ``..._ms`` figure to whole ms, a ``..._s`` one to 0.01 s,
    any other fraction to 0.01; counts, text and missing values as they are."""
    if isinstance(value, bool) or not isinstance(value, (float, np.floating)) or not np.isfinite(value):
        return value
    if "_ms" in name or (float(value).is_integer() and not name.endswith("_s")):
        return round(float(value))  # ms, or a count that a NaN elsewhere made a float
    return round(float(value), 2)


def readable(table: pd.DataFrame, *, by: str = "columns") -> pd.DataFrame:
    """A copy of ``table`` rounded for reading (:func:`rounded`), by column names (``by="columns"``)
    or by row names (``by="index"``, e.g. a :func:`compare` table).  Rounded figures stay
    numbers (object columns where a column mixes kinds), so the table still sorts and plots."""
    if by == "index":
        rows = {name: [rounded(v, str(name)) for v in table.loc[name]] for name in table.index}
        return pd.DataFrame.from_dict(rows, orient="index", columns=table.columns, dtype=object)
    out = table.copy()
    for col in out.columns:
        values = [np.nan if v is None else rounded(v, str(col)) for v in out[col]]
        kinds = {type(v) for v in values if not pd.isna(v)}
        if kinds == {int} and len(kinds) < len({type(v) for v in values}):  # whole numbers with gaps
            values = [np.nan if pd.isna(v) else v for v in values]  # stays "1", not "1.0"; gaps read NaN / na_rep
            out[col] = pd.Series(values, index=out.index, dtype=object)
        else:
            out[col] = pd.Series(values, index=out.index, dtype=object if len(kinds) > 1 else None)
    return out


def summary_frame(summary: Mapping[str, Any]) -> pd.DataFrame:
    """A tracker summary (:func:`metrics.summarize`) as a table: latency x (count, p50, p90, max),
    in whole ms."""
    rows = {name: summary[name] for name in LATENCY_FIELDS if name in summary}
    frame = pd.DataFrame(rows).T[["count", "p50", "p90", "max"]]
    return readable(frame, by="index")


def summary_html(path: str, summary: Mapping[str, Any]) -> str:
    """A recording's key figures and latency table as HTML (no plots: those are :mod:`voicelive_nb.report`)."""
    figures = (
        f"<b>{html.escape(path)}</b>: {summary['duration_s']:.1f} s, {summary['turns']} turns, "
        f"{summary['interrupted']} interrupted"
    )
    return f"<div>{figures}</div>" + summary_frame(summary).to_html(na_rep="-")


def flat_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    """A summary flattened to ``{"turns": .., "response_latency_ms p50": .., ...}``."""
    out: dict[str, Any] = {}
    for key, value in summary.items():
        if isinstance(value, Mapping):
            for stat, v in value.items():
                out[f"{key} {stat}"] = v
        else:
            out[key] = value
    return out


def compare(summaries: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Summaries side by side: one row per figure, one column per named summary (ms in whole
    numbers, seconds to 0.01)."""
    return readable(pd.DataFrame({name: flat_summary(s) for name, s in summaries.items()}), by="index")


def event_table(
    events: Sequence[Mapping[str, Any]], *, t0: float | None = None, types: str | list[str] | None = None
) -> pd.DataFrame:
    """Events (dicts as in ``events.jsonl``) as a DataFrame with a ``seconds`` column from ``t0``."""
    wanted = {types} if isinstance(types, str) else set(types) if types else None
    rows = [
        {"t": e["t"], "wall": e.get("wall"), "kind": e.get("kind"), "type": e["type"], "data": e.get("data")}
        for e in events
        if wanted is None or e["type"] in wanted
    ]
    df = pd.DataFrame(rows, columns=["t", "wall", "kind", "type", "data"])
    df.insert(0, "seconds", df["t"] - (t0 or 0.0))
    return df


@dataclass(frozen=True, slots=True)
class Span:
    """An interval in seconds on the recording's track timeline, with an optional label."""

    start: float
    end: float
    label: str = ""


def speech_spans(turns: pd.DataFrame) -> list[Span]:
    """User speech as the server's VAD saw it (seconds into mic.wav), from a turn table."""
    if turns.empty or "start_s" not in turns:
        return []
    spans = []
    for start, end, text in zip(turns["start_s"], turns["end_s"], turns["user_transcript"], strict=True):
        if start is None or pd.isna(start):
            continue
        stop = start if end is None or pd.isna(end) else end
        spans.append(Span(float(start), float(stop), "" if text is None or pd.isna(text) else str(text)))
    return spans


def playback_spans(blocks: pd.DataFrame, *, gap_s: float = 0.05) -> list[Span]:
    """Spans where assistant audio played (seconds into assistant.wav), from speaker blocks.

    ``blocks`` is :meth:`Recording.blocks("speaker") <voicelive_nb.recording.Recording.blocks>`;
    blocks less than ``gap_s`` apart are merged.
    """
    if blocks.empty:
        return []
    rate = blocks["rate"].fillna(24_000).to_numpy()
    start = blocks["placed"].to_numpy() / rate
    end = start + blocks["samples"].fillna(0).to_numpy() / rate
    order = np.argsort(start, kind="stable")
    start, end = start[order], end[order]
    reach = np.maximum.accumulate(end)
    breaks = np.flatnonzero(start[1:] - reach[:-1] > gap_s) + 1
    firsts = np.concatenate([[0], breaks])
    lasts = np.concatenate([breaks - 1, [len(start) - 1]])
    return [Span(float(start[a]), float(reach[b])) for a, b in zip(firsts, lasts, strict=True)]


def barge_ins(events: Iterable[Mapping[str, Any]], t0: float) -> list[float]:
    """Seconds from ``t0`` of each barge-in flush (``playback.flushed`` for speech)."""
    return [
        e["t"] - t0
        for e in events
        if e["type"] == Local.PLAYBACK_FLUSHED and (e.get("data") or {}).get("reason") != "cancel"
    ]


def level_trace(mic: pd.DataFrame, speaker: pd.DataFrame) -> pd.DataFrame:
    """Level meter readings: ``seconds``, ``track`` (mic/assistant), ``rms_db``, ``peak_db``.

    ``mic``/``speaker`` are block tables (:meth:`Recording.blocks`), possibly decimated.
    """
    parts = []
    for track, df in (("mic", mic), ("assistant", speaker)):
        if len(df):
            part = df[["seconds", "rms_db", "peak_db"]].copy()
            part.insert(1, "track", track)
            parts.append(part)
    if not parts:
        return pd.DataFrame(columns=["seconds", "track", "rms_db", "peak_db"])
    return pd.concat(parts, ignore_index=True)
