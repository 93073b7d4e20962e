"""Reply text of the emulated assistant.

A responder is any ``callable(transcript, session) -> str``: ``transcript`` is what the
user said (the ASR result, the text of a ``conversation.item.create``, or None when
unknown) and ``session`` a copy of the session dict; the emulator adds
``session["emulator"] = {"input_audio_ms": ..., "response_id": ...}`` to it.  It runs in
a worker thread, so it may block (call a model, look something up).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Responder = Callable[[str | None, dict[str, Any]], str]


def default_responder(transcript: str | None, session: dict[str, Any]) -> str:
    """Say back what was heard, or how long the user spoke when there is no transcript."""
    if transcript and transcript.strip():
        return f"You said: {transcript.strip()}"
    ms = float(session.get("emulator", {}).get("input_audio_ms") or 0.0)
    if ms > 0:
        return f"I heard you speak for {ms / 1000:.1f} seconds."
    return "Hello from the local Voice Live emulator."
