"""What the sans-I/O core asks its I/O shell to do, besides sending events.

:class:`~voicelive_nb.emulator.core.Conversation` methods return a list of
:data:`Output`: server event dicts to send in order, and these effects for slow work
the shell runs off the event loop (ASR, responder, TTS).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Transcribe:
    """Effect: transcribe ``pcm`` (int16 at ``rate``) of user item ``item_id``."""

    item_id: str
    pcm: np.ndarray
    rate: int
    report: bool
    """Send ``input_audio_transcription`` events (the session asked for them)."""


@dataclass
class Generate:
    """Effect: make the reply of response ``response_id``."""

    response_id: str
    input_item_id: str | None
    """The user item whose transcript the responder should get (None: no user turn)."""
    known_text: str | None
    """The user's words when they came as text (``conversation.item.create``)."""
    input_audio_ms: float
    audio: bool
    """The reply needs audio (TTS)."""
    output_format: str
    rate_factor: float
    """Speaking-rate factor from an Azure voice's ``rate``."""
    session: dict[str, Any] = field(default_factory=dict)
    tool_outputs: list[dict[str, Any]] = field(default_factory=list)
    """Function outputs given since the user spoke (``name``, ``call_id``, ``arguments``, ``output``)."""
    mcp_tools: list[dict[str, Any]] = field(default_factory=list)
    """Tools the session's MCP servers listed (``name``, ``description``, ``input_schema``, ``server_label``)."""
    approvals: list[dict[str, Any]] = field(default_factory=list)
    """MCP approval answers this response acts on (``approve``, ``approval_request_id``, ``server_label``,
    ``name``, ``arguments``)."""


@dataclass
class ListMcpTools:
    """Effect: list the tools of an MCP server (``tools`` entry of type ``mcp``), then call
    :meth:`~voicelive_nb.emulator.core.Conversation.mcp_tools_listed`."""

    item_id: str
    server: dict[str, Any]


@dataclass
class CallMcp:
    """Effect: call tool ``name`` on an MCP server, then call
    :meth:`~voicelive_nb.emulator.core.Conversation.mcp_call_result`."""

    response_id: str
    item_id: str
    server: dict[str, Any]
    name: str
    arguments: dict[str, Any]


Output = dict[str, Any] | Transcribe | Generate | ListMcpTools | CallMcp
