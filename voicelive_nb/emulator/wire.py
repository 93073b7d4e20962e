"""Ids and small builders for server event dicts (the JSON that goes on the wire)."""

from __future__ import annotations

import random
import string
from typing import Any

_ALPHABET = string.ascii_letters + string.digits


class Ids:
    """Ids shaped like the real service's (``event_…``, ``item_…``, ``resp_…``, ``sess_…``).

    Args:
        seed: Make the sequence reproducible (tests); None draws from the OS.
    """

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)

    def new(self, prefix: str, length: int = 21) -> str:
        """``prefix_`` followed by ``length`` random letters and digits."""
        return prefix + "_" + "".join(self._rng.choices(_ALPHABET, k=length))


def error_event(
    event_id: str,
    code: str,
    message: str,
    *,
    param: str | None = None,
    client_event_id: str | None = None,
    error_type: str = "invalid_request_error",
) -> dict[str, Any]:
    """An ``error`` server event."""
    return {
        "type": "error",
        "event_id": event_id,
        "error": {
            "type": error_type,
            "code": code,
            "message": message,
            "param": param,
            "event_id": client_event_id,
        },
    }


def user_audio_item(item_id: str, transcript: str | None = None) -> dict[str, Any]:
    """A completed user message item holding committed input audio."""
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": transcript}],
    }


def assistant_item(item_id: str, status: str, part: dict[str, Any] | None) -> dict[str, Any]:
    """An assistant message item (``content`` holds ``part`` when given)."""
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [part] if part is not None else [],
    }


def usage(input_audio_ms: float, input_text: str, output_text: str, output_audio_ms: float) -> dict[str, Any]:
    """Approximate token usage (audio: 10 tokens/s in, 20 tokens/s out; text: ~4 chars a token)."""
    in_audio = round(input_audio_ms / 100)
    in_text = max(1, len(input_text) // 4) if input_text else 0
    out_text = max(1, len(output_text) // 4) if output_text else 0
    out_audio = round(output_audio_ms / 50)
    return {
        "total_tokens": in_audio + in_text + out_text + out_audio,
        "input_tokens": in_audio + in_text,
        "output_tokens": out_text + out_audio,
        "input_token_details": {
            "cached_tokens": 0,
            "text_tokens": in_text,
            "audio_tokens": in_audio,
            "image_tokens": 0,
            "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": out_text, "audio_tokens": out_audio},
    }
