"""Turn tables, summaries and comparisons (pandas), and the spans plots are drawn from.

Everything here takes plain data -- :class:`~voicelive_nb.metrics.Turn` lists, event
dicts as stored in ``events.jsonl``, summary dicts -- so it works the same on a live
tracker and on a loaded :class:`~voicelive_nb.recording.Recording`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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


def summary_frame(summary: Mapping[str, Any]) -> pd.DataFrame:
    """A tracker summary (:func:`metrics.summarize`) as a table: latency x (count, p50, p90, max)."""
    rows = {name: summary[name] for name in LATENCY_FIELDS if name in summary}
    return pd.DataFrame(rows).T[["count", "p50", "p90", "max"]]


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
    """Summaries side by side: one row per figure, one column per named summary."""
    return pd.DataFrame({name: flat_summary(s) for name, s in summaries.items()})


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


def speech_spans(events: Iterable[Mapping[str, Any]]) -> list[Span]:
    """User speech as the server's VAD saw it (audio clock = seconds into mic.wav)."""
    spans: list[Span] = []
    start: float | None = None
    for e in events:
        typ = e["type"]
        if typ == "input_audio_buffer.speech_started":
            start = (e.get("data") or {}).get("audio_start_ms", 0) / 1000.0
        elif typ == "input_audio_buffer.speech_stopped" and start is not None:
            end = (e.get("data") or {}).get("audio_end_ms", start * 1000.0) / 1000.0
            spans.append(Span(start, end))
            start = None
    return spans


def playback_spans(events: Iterable[Mapping[str, Any]], t0: float) -> list[Span]:
    """Assistant audio actually played (``speaker.audio`` blocks merged), seconds from ``t0``."""
    spans: list[Span] = []
    start = end = None
    for e in events:
        if e["type"] != Local.SPEAKER_AUDIO:
            continue
        data = e.get("data") or {}
        audio = e.get("audio") or {}
        rate = data.get("rate") or 24_000
        s = audio["offset"] / rate if audio.get("offset") is not None else e["t"] - t0
        d = (audio.get("samples") or data.get("samples") or 0) / rate
        if end is not None and s - end <= 0.05:
            end = max(end, s + d)
            continue
        if start is not None and end is not None:
            spans.append(Span(start, end))
        start, end = s, s + d
    if start is not None and end is not None:
        spans.append(Span(start, end))
    return spans


def barge_ins(events: Iterable[Mapping[str, Any]], t0: float) -> list[float]:
    """Seconds from ``t0`` of each barge-in flush (``playback.flushed`` for speech)."""
    return [
        e["t"] - t0
        for e in events
        if e["type"] == Local.PLAYBACK_FLUSHED and (e.get("data") or {}).get("reason") != "cancel"
    ]


def level_trace(events: Iterable[Mapping[str, Any]], t0: float | None = None) -> pd.DataFrame:
    """Level meter readings: ``seconds``, ``track`` (mic/assistant), ``rms_db``, ``peak_db``."""
    rows = []
    base = t0 or 0.0
    for e in events:
        typ = e["type"]
        if typ == Local.MIC_AUDIO:
            track = "mic"
        elif typ == Local.SPEAKER_AUDIO:
            track = "assistant"
        else:
            continue
        data = e.get("data") or {}
        rows.append((e["t"] - base, track, data.get("rms_db"), data.get("peak_db")))
    return pd.DataFrame(rows, columns=["seconds", "track", "rms_db", "peak_db"])
