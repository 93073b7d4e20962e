"""What the emulated assistant answers: words, or tool calls.

A responder is any ``callable(transcript, session) -> reply``: ``transcript`` is what the
user said (the ASR result, the text of a ``conversation.item.create``, or None when
unknown) and ``session`` a copy of the session dict; the emulator adds
``session["emulator"]`` with ``input_audio_ms``, ``response_id``, ``tool_outputs`` (the
function/MCP outputs given since the user spoke: ``name``, ``call_id``, ``arguments``,
``output``, ``error``; empty for a fresh question) and ``mcp_tools`` (the tools the
session's MCP servers listed).  The reply is a ``str`` (spoken), or a
:class:`~voicelive_nb.emulator.tools.ToolCall` or a list of them (the response calls those
tools instead of speaking).  It runs in a worker thread, so it may block.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from voicelive_nb.emulator.tools import ToolCall, answer_from_outputs, choose_calls

Reply = str | ToolCall | list[ToolCall]
Responder = Callable[[str | None, dict[str, Any]], Reply]


def default_responder(transcript: str | None, session: dict[str, Any]) -> Reply:
    """Answer with the tool outputs when there are some; else call the tools the rule picks
    (:func:`~voicelive_nb.emulator.tools.choose_calls`); else say back what was heard, or
    how long the user spoke when there is no transcript."""
    emu = session.get("emulator", {})
    outputs = emu.get("tool_outputs") or []
    if outputs:
        return answer_from_outputs(outputs)
    calls = choose_calls(transcript, session, emu.get("mcp_tools") or [])
    if calls:
        return calls
    if transcript and transcript.strip():
        return f"You said: {transcript.strip()}"
    ms = float(emu.get("input_audio_ms") or 0.0)
    if ms > 0:
        return f"I heard you speak for {ms / 1000:.1f} seconds."
    return "Hello from the local Voice Live emulator."
