"""The live session: :class:`VoiceSession` (the thread and its commands) and what it runs.

==================  ===========================================================
``voice_session``   VoiceSession, CommandResult: the public commands, the thread
``engine``          SessionEngine: connect, configure, receive, reconnect (I/O shell)
``pump``            AudioPump: mic blocks -> appends, playback marks -> records
``protocol``        SessionProtocol: sans-I/O session logic (events in, actions out)
``wire``            sans-I/O audio wire text: append_text, parse_frame
``eager``           start_eagerly: run a coroutine's first step inline
``transport``       text_sender / text_receiver: the SDK's socket, used directly
``devices``         mic= / speaker= arguments -> sources and sinks
``tools``           tool / Tool: Python functions as tools, run in a worker pool
``tool_protocol``   sans-I/O tool calls: RunTool, ApproveMcp, ToolCalls
==================  ===========================================================

Names are imported lazily (``import voicelive_nb.session`` does not load the SDK).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from voicelive_nb._lazy import lazy_exports

_LAZY = {
    "VoiceSession": "voicelive_nb.session.voice_session",
    "CommandFuture": "voicelive_nb.session.voice_session",
    "CommandResult": "voicelive_nb.session.voice_session",
    "SessionFailedError": "voicelive_nb.session.voice_session",
    "Tool": "voicelive_nb.session.tools",
    "tool": "voicelive_nb.session.tools",
}

__all__ = ["CommandFuture", "CommandResult", "SessionFailedError", "Tool", "VoiceSession", "tool"]

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.session.tools import Tool, tool
    from voicelive_nb.session.voice_session import CommandFuture, CommandResult, SessionFailedError, VoiceSession

__getattr__, __dir__ = lazy_exports(globals(), _LAZY, __all__)
