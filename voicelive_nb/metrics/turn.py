"""Turn records and the latency definitions: :class:`Turn`, :data:`LATENCY_STAGES`, :func:`summarize`.

A :class:`Turn` is one user turn and the response it got, with every timestamp of the latency
chain (``DESIGN.md``, "Latency, defined once") and the latencies derived from them.
:data:`LATENCY_STAGES` is the one definition of the voice-to-voice stages (name, label, span,
colour) that the panel's chart, the plots, the report and the tables take; :func:`summarize`
gives the p50/p90/max of each latency over turns.  The
:class:`~voicelive_nb.metrics.tracker.TurnTracker` makes the turns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["LATENCY_FIELDS", "LATENCY_STAGES", "LatencyStage", "Turn", "stage_ms", "summarize"]

LATENCY_FIELDS: tuple[str, ...] = (
    "detection_ms",
    "response_latency_ms",
    "playout_ms",
    "voice_to_voice_ms",
    "barge_in_stale_ms",
    "tool_ms",
    "tool_to_audio_ms",
)
"""The derived latencies (milliseconds) that :meth:`TurnTracker.summary` summarises."""


@dataclass(frozen=True, slots=True)
class LatencyStage:
    """One stage of the voice-to-voice time: the one name, label and colour of it everywhere.

    The panel's chart, the plots, the report and the tables all take their stage names,
    labels and colours from :data:`LATENCY_STAGES`, so a stage is called the same wherever
    it is shown.
    """

    key: str
    """Short identifier: ``detection``, ``response``, ``playout``, ``output``."""
    field: str
    """The :class:`Turn` attribute (and turn-table column) holding it in ms."""
    label: str
    """What legends and table headers call it."""
    span: str
    """From which instant to which (for captions and explanations)."""
    colour: str
    """Colour of its bars and areas (hex)."""


LATENCY_STAGES: tuple[LatencyStage, ...] = (
    LatencyStage("detection", "detection_ms", "detection", "end of speech → speech_stopped received", "#9aa5b1"),
    LatencyStage("response", "response_latency_ms", "response", "speech_stopped → first audio delta", "#3b82f6"),
    LatencyStage("playout", "playout_ms", "playout", "first audio delta → first sample to the device", "#f59e0b"),
    LatencyStage("output", "output_ms", "device output", "first sample to the device → heard", "#10b981"),
)
"""The stages of voice-to-voice latency in time order; their sum is ``voice_to_voice_ms``."""


def stage_ms(turn: Turn | Any) -> dict[str, float]:
    """Each stage's duration in ms (``key -> ms``; a stage that did not happen, or that a
    turn-like object lacks, counts 0)."""
    out = {}
    for stage in LATENCY_STAGES:
        value = getattr(turn, stage.field, None)
        out[stage.key] = max(0.0, float(value)) if isinstance(value, (int, float)) else 0.0
    return out


@dataclass(slots=True)
class Turn:
    """One user turn and the assistant response it got.

    Timestamps are monotonic seconds (``*_rx`` = when the client received the event),
    ``None`` when it did not happen.  ``speech_start``/``speech_end`` are on the audio
    clock (seconds of appended mic audio); ``speech_start_t``/``speech_end_t`` are the
    same instants mapped to the monotonic clock.
    """

    index: int
    """Turn number in the session, counting from 1 (as the panel, tables and plots show it)."""
    source: str = "speech"
    """``"speech"`` (server VAD), ``"commit"`` (manual commit) or ``"text"`` (no audio)."""
    item_id: str | None = None
    response_id: str | None = None
    speech_start: float | None = None
    speech_end: float | None = None
    speech_start_t: float | None = None
    speech_end_t: float | None = None
    speech_started_rx: float | None = None
    speech_stopped_rx: float | None = None
    committed_rx: float | None = None
    response_created_rx: float | None = None
    first_delta_rx: float | None = None
    first_played: float | None = None
    output_latency_s: float = 0.0
    audio_done_rx: float | None = None
    response_done_rx: float | None = None
    last_played: float | None = None
    status: str | None = None
    interrupted: bool = False
    barge_in_rx: float | None = None
    barge_in_stale_ms: float | None = None
    played_ms: float | None = None
    user_transcript: str | None = None
    assistant_transcript: str | None = None
    tool_calls: list[str] = field(default_factory=list)
    """Names of the tools called in this turn (functions and MCP tools), in call order."""
    tool_errors: int = 0
    """Calls that ended in an error, a timeout or bad arguments."""
    tool_start_rx: float | None = None
    tool_done_rx: float | None = None
    tool_audio_rx: float | None = None
    """First audio delta received after the last tool output."""
    _transcript_parts: list[str] = field(default_factory=list, repr=False)

    @property
    def tool_ms(self) -> float | None:
        """First call's arguments complete -> last tool output sent (or MCP call completed)."""
        return _ms(self.tool_done_rx, self.tool_start_rx)

    @property
    def tool_to_audio_ms(self) -> float | None:
        """Last tool output -> the first audio of the answer that uses it."""
        return _ms(self.tool_audio_rx, self.tool_done_rx)

    @property
    def detection_ms(self) -> float | None:
        """From the end of speech (mapped to the monotonic clock) to ``speech_stopped`` received."""
        return _ms(self.speech_stopped_rx, self.speech_end_t)

    @property
    def response_latency_ms(self) -> float | None:
        """``first_delta_rx - speech_stopped_rx``."""
        return _ms(self.first_delta_rx, self.speech_stopped_rx)

    @property
    def playout_ms(self) -> float | None:
        """``first_played - first_delta_rx``."""
        return _ms(self.first_played, self.first_delta_rx)

    @property
    def output_ms(self) -> float | None:
        """The output device's latency added to the first sample played (None before it played)."""
        return None if self.first_played is None else self.output_latency_s * 1000.0

    @property
    def voice_to_voice_ms(self) -> float | None:
        """``first_played + output latency - speech_end`` (speech_end on the monotonic clock)."""
        if self.first_played is None:
            return None
        return _ms(self.first_played + self.output_latency_s, self.speech_end_t)

    @property
    def duration_ms(self) -> float | None:
        """Length of the user's speech as the server's VAD saw it."""
        if self.speech_start is None or self.speech_end is None:
            return None
        return (self.speech_end - self.speech_start) * 1000.0

    def to_dict(self) -> dict[str, Any]:
        """Every field and derived latency as a plain dict (one row of a turn table)."""
        row = asdict(self)
        row.pop("_transcript_parts", None)
        row["duration_ms"] = self.duration_ms
        row["output_ms"] = self.output_ms
        for name in LATENCY_FIELDS:
            row[name] = getattr(self, name)
        return row


def _ms(later: float | None, earlier: float | None) -> float | None:
    if later is None or earlier is None:
        return None
    return (later - earlier) * 1000.0


def summarize(turns: Iterable[Turn]) -> dict[str, Any]:
    """Counts and p50/p90/max/count (ms) of each latency in :data:`LATENCY_FIELDS`."""
    values: dict[str, list[float]] = {name: [] for name in LATENCY_FIELDS}
    total = interrupted = 0
    for turn in turns:
        total += 1
        interrupted += turn.interrupted
        for name in LATENCY_FIELDS:
            value = getattr(turn, name)
            if value is not None:
                values[name].append(value)
    out: dict[str, Any] = {"turns": total, "interrupted": interrupted}
    for name, vals in values.items():
        out[name] = _stats(vals)
    return out


def _stats(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"count": 0, "p50": None, "p90": None, "max": None}
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50": _percentile(ordered, 0.5),
        "p90": _percentile(ordered, 0.9),
        "max": ordered[-1],
    }


def _percentile(ordered: list[float], q: float) -> float:
    """Linear-interpolated percentile of sorted values (same as numpy's default)."""
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
