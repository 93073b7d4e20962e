"""The panel's data: immutable snapshots and the lines they carry (no logic, no widgets).

:class:`~voicelive_nb.panel.state.PanelState` produces these; the panel's views
(:mod:`voicelive_nb.panel.views`) and the widgets consume them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from voicelive_nb.events import EventRecord

__all__ = ["FLOOR_DB", "FieldStatus", "LogLine", "PanelSnapshot", "TranscriptLine", "summarize_record"]

FLOOR_DB = -90.0
"""Level shown for silence and for a meter that has had no audio lately."""

Role = Literal["user", "assistant", "tool"]
FieldState = Literal["pending", "ok", "error", "default"]


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    """One utterance in the transcript view.

    Attributes:
        role: ``"user"``, ``"assistant"`` or ``"tool"`` (a function or MCP call: name,
            arguments, result or error, and how long it ran; or an MCP approval request).
        text: What was said so far (``""`` until a transcript arrives).
        item_id: The conversation item it belongs to.
        t: Monotonic seconds when the utterance began.
        final: True once the transcript is complete.
        interrupted: True if the user barged in on it (assistant) or it was truncated.
        speech_ms: Length of the user's speech as the server's VAD saw it (user lines).
    """

    role: Role
    text: str
    item_id: str
    t: float
    final: bool = False
    interrupted: bool = False
    speech_ms: float | None = None
    error: bool = False
    """A tool line whose call failed (error, timeout, refused)."""


@dataclass(frozen=True, slots=True)
class LogLine:
    """One row of the event log: seconds since the first record, kind, type and a short summary."""

    t: float
    kind: str
    type: str
    summary: str


@dataclass(frozen=True, slots=True)
class FieldStatus:
    """The server's answer to a live change of one turn-detection control (or, ``default``,
    that the control shows the service's default because the config leaves it unset)."""

    state: FieldState
    detail: str = ""


@dataclass(frozen=True, slots=True)
class PanelSnapshot:
    """Everything the panel displays at one moment; immutable, cheap to compare.

    ``*_version`` counters change only when the matching part changed, so the
    refresher can skip rebuilding the transcript, the log or the latency plot.
    """

    connection: str = "idle"
    endpoint: str = ""
    status: str = "Not connected."
    error: str = ""
    device_trouble: tuple[str, ...] = ()
    """``"mic"`` and/or ``"speaker"`` when they failed to start or stopped delivering."""
    mic_db: float = FLOOR_DB
    mic_peak_db: float = FLOOR_DB
    speaker_db: float = FLOOR_DB
    vad_onset_db: float | None = None
    """Mic level (dBFS) where the server's VAD last detected the start of speech."""
    user_speaking: bool = False
    assistant_speaking: bool = False
    muted: bool = False
    echo: Mapping[str, Any] | None = None
    """The latest ``audio.echo`` figures (``erl_db``, ``erle_db``, ``enabled``) while the
    assistant speaks or its echo lasts (None otherwise, or with no metered device pair)."""
    counters: Mapping[str, float] = field(default_factory=dict)
    fields: Mapping[str, FieldStatus] = field(default_factory=dict)
    fields_version: int = 0
    server_session: Mapping[str, Any] = field(default_factory=dict)
    transcript: tuple[TranscriptLine, ...] = ()
    transcript_version: int = 0
    log: tuple[LogLine, ...] = ()
    log_version: int = 0
    turns: tuple[Any, ...] = ()
    turns_version: int = 0
    type_counts: Mapping[str, int] = field(default_factory=dict)
    tool_wishes: Mapping[str, bool] = field(default_factory=dict)
    """Tool switches the user turned and the server has not answered yet (name -> on)."""


def summarize_record(record: EventRecord, limit: int = 160) -> str:
    """A one-line, secret-free description of a record for the event log."""
    data = dict(record.data)
    for key in ("delta", "audio"):
        if isinstance(data.get(key), (bytes, str)) and len(data[key]) > 40:
            data[key] = f"<{len(data[key])} chars>"
    if record.type in ("session.updated", "session.created", "session.update"):
        session = data.get("session")
        if isinstance(session, Mapping):
            td = session.get("turn_detection")
            data = {"turn_detection": td} if td is not None else {"session": "…"}
    try:
        text = json.dumps(data, default=str, separators=(",", ":"))
    except (TypeError, ValueError):
        text = repr(data)
    if record.audio is not None:
        text = f"[{len(record.audio)} B audio] {text}"
    return text if len(text) <= limit else text[: limit - 1] + "…"
