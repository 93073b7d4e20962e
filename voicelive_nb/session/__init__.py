"""The live session: :class:`VoiceSession` (the thread and its commands) and what it runs.

==================  ===========================================================
``voice_session``   VoiceSession: the public commands, start/stop
``commands``        CommandResult, CommandFuture: what a command returns
``history``         RecordHistory (wait_for's look-back), SessionFailedError
``observers``       the turn tracker and the recorder on the session's bus
``thread``          the session thread's body; the session.info record
``engine``          SessionEngine: connect, configure, receive, reconnect (I/O shell)
``flush``           a barge-in's flush of playback (player and device)
``pump``            AudioPump: mic blocks -> appends, playback marks -> records
``protocol``        SessionProtocol: sans-I/O session logic (events in, actions out)
``actions``         the protocol's actions: SendEvent, PlayAudio, FlushPlayback ...
``errors``          server errors and connection failures in plain words
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
    "CommandFuture": "voicelive_nb.session.commands",
    "CommandResult": "voicelive_nb.session.commands",
    "SessionFailedError": "voicelive_nb.session.history",
    "Tool": "voicelive_nb.session.tools",
    "tool": "voicelive_nb.session.tools",
}

__all__ = ["CommandFuture", "CommandResult", "SessionFailedError", "Tool", "VoiceSession", "tool"]

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.session.commands import CommandFuture, CommandResult
    from voicelive_nb.session.history import SessionFailedError
    from voicelive_nb.session.tools import Tool, tool
    from voicelive_nb.session.voice_session import VoiceSession

__getattr__, __dir__ = lazy_exports(globals(), _LAZY, __all__)
