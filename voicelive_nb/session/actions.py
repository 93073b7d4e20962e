"""What the sans-I/O protocol asks the session to do: the actions it returns.

:class:`~voicelive_nb.session.protocol.SessionProtocol` answers every server event, playback
fact and command with a list of these, in order; the engine
(:class:`~voicelive_nb.session.engine.SessionEngine`) carries them out.  The tool actions
(:class:`RunTool`, :class:`ApproveMcp`) are :mod:`voicelive_nb.session.tool_protocol`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from voicelive_nb.session.tool_protocol import ApproveMcp, RunTool

__all__ = [
    "Action",
    "ApproveMcp",
    "CommandDone",
    "FinishAudio",
    "FlushPlayback",
    "PlayAudio",
    "ReportError",
    "RunTool",
    "SendEvent",
    "StartAudio",
]


@dataclass(frozen=True, slots=True)
class SendEvent:
    """Send this client event (a JSON-ready dict) to the server."""

    event: dict[str, Any]

    @property
    def type(self) -> str:
        """The client event's type."""
        return str(self.event.get("type", ""))


@dataclass(frozen=True, slots=True)
class FlushPlayback:
    """Drop queued assistant audio now; report the result to :meth:`SessionProtocol.playback_flushed`."""

    reason: str  # "speech_started" | "cancel"


@dataclass(frozen=True, slots=True)
class PlayAudio:
    """Queue decoded PCM16 (mono, little-endian) of an assistant item for playback."""

    pcm: bytes
    response_id: str
    item_id: str


@dataclass(frozen=True, slots=True)
class FinishAudio:
    """All audio of an assistant item was received (``response.audio.done``)."""

    response_id: str
    item_id: str


@dataclass(frozen=True, slots=True)
class StartAudio:
    """The session is configured: mic audio may be appended from now on."""


@dataclass(frozen=True, slots=True)
class ReportError:
    """Tell the user about a problem, in plain words."""

    message: str
    code: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CommandDone:
    """A command that awaited the server's answer got it (or failed)."""

    command_id: str
    ok: bool
    detail: Any = None


Action = (
    SendEvent | FlushPlayback | PlayAudio | FinishAudio | StartAudio | ReportError | CommandDone | RunTool | ApproveMcp
)
