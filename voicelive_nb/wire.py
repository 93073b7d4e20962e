"""The audio frames' wire text, fast: encode mic appends, decode server frames (sans-I/O).

Audio is most of what crosses the socket: 50-100 ``input_audio_buffer.append`` events a second
go out and a ``response.audio.delta`` arrives for every chunk of the answer, each carrying
base64 PCM16 that is far longer than the rest of the event.  Going through ``json.dumps`` /
``json.loads`` makes the JSON codec scan (and copy) every base64 character; the SDK's typed
models add more on top.  This module does the least work that gives the same result:

* :func:`append_text` writes the append event as a string template around
  ``pybase64``'s SIMD base64 (base64 needs no JSON escaping, so the text is valid JSON);
* :func:`parse_frame` returns what :func:`json.loads` would, except that the base64 audio of a
  ``response.audio.delta`` comes already decoded (``bytes``): it cuts the long ``"delta"``
  string out of the frame, parses the rest and decodes the cut-out part with ``pybase64``
  (validating).  Anything unusual -- an escape in the string, a nested ``"delta"`` key,
  invalid base64 -- falls back to plain ``json.loads``, so the result never differs;
* :func:`b64decode` decodes base64 with ``pybase64`` (strict, like the standard library's
  ``validate=True``).

Example::

    text = append_text(block)     # block: int16 numpy array or PCM16 bytes -> str to send
    event = parse_frame(raw)      # raw: a text frame's bytes (or str)
    event["delta"]                # bytes (PCM16) for response.audio.delta, else as json.loads gives it
"""

from __future__ import annotations

import binascii
import contextlib
import json
import re
from collections.abc import Container
from typing import Any

import numpy as np
import pybase64

__all__ = [
    "APPEND_PREFIX",
    "APPEND_SUFFIX",
    "AUDIO_DELTA_TYPES",
    "append_text",
    "b64decode",
    "b64encode",
    "parse_frame",
]

APPEND_PREFIX = '{"type":"input_audio_buffer.append","audio":"'
APPEND_SUFFIX = '"}'

_KEY = b'"delta"'
_SENTINEL = b"\\u0000"  # a JSON string that decodes to "\x00": marks where the delta was cut out
_COLON_QUOTE = re.compile(rb'[ \t\r\n]*:[ \t\r\n]*"')
_SCAN = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # the C scanner json.loads runs, without its Python wrapper
_MIN_CUT = 64  # shorter deltas are not worth the bookkeeping

AUDIO_DELTA_TYPES = frozenset({"response.audio.delta"})
"""Event types whose ``delta`` is base64 audio."""


def append_text(pcm: np.ndarray | bytes | bytearray | memoryview) -> str:
    """The JSON text of ``{"type": "input_audio_buffer.append", "audio": <base64 of pcm>}``.

    Args:
        pcm: PCM16 samples: an int16 numpy array or little-endian bytes.

    The same text ``json.dumps`` would give, minus the spaces, in about 1 us for a 20 ms
    block instead of 6 us (and 1.5 us instead of 48 us for 200 ms).
    """
    return APPEND_PREFIX + b64encode(pcm) + APPEND_SUFFIX


def b64encode(pcm: np.ndarray | bytes | bytearray | memoryview) -> str:
    """Base64 text of PCM16 samples (an int16 numpy array or bytes)."""
    if isinstance(pcm, np.ndarray) and not pcm.flags.c_contiguous:
        pcm = np.ascontiguousarray(pcm)
    return pybase64.b64encode_as_string(pcm)  # type: ignore[arg-type]  # (any buffer)


def b64decode(text: str | bytes) -> bytes:
    """Decode base64 strictly (``binascii.Error`` on a character outside the alphabet or bad padding)."""
    return pybase64.b64decode(text, validate=True)


def parse_frame(raw: bytes | str, audio_types: Container[str] = AUDIO_DELTA_TYPES) -> Any:
    """Parse one server text frame like :func:`json.loads`, with audio deltas decoded.

    Args:
        raw: The frame's text, as UTF-8 bytes or str.
        audio_types: Event types whose top-level ``delta`` is base64 audio.

    Returns:
        What ``json.loads(raw)`` returns, except that for an event of one of ``audio_types``
        whose ``delta`` is valid base64, ``event["delta"]`` is the decoded ``bytes``.  An
        invalid delta stays the string it was (the caller reports it).

    Raises ``ValueError`` (``json.JSONDecodeError``) exactly when :func:`json.loads` does.
    """
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    cut = _delta_span(data)
    if cut is None:
        return _loads(data, audio_types)
    start, end = cut
    head, tail = data[:start], data[end:]  # (the cut part has no backslash, so no sentinel)
    if _SENTINEL in head or _SENTINEL in tail:
        return _loads(data, audio_types)
    event = _loads_small(head + _SENTINEL + tail)
    if not isinstance(event, dict) or event.get("delta") != "\x00" or not _is_audio(event, audio_types):
        return _loads(data, audio_types)  # not the top-level delta of an audio event: no shortcut
    try:
        event["delta"] = pybase64.b64decode(memoryview(data)[start:end], validate=True)
    except (binascii.Error, ValueError):
        return _loads(data, audio_types)  # not base64 (so maybe not even valid JSON): the plain answer
    return event


def _loads(data: bytes, audio_types: Container[str]) -> Any:
    event = json.loads(data)
    if isinstance(event, dict) and isinstance(event.get("delta"), str) and _is_audio(event, audio_types):
        with contextlib.suppress(binascii.Error, ValueError):  # else left as the string: the caller reports it
            event["delta"] = pybase64.b64decode(event["delta"], validate=True)
    return event


def _loads_small(data: bytes) -> Any:
    """``json.loads`` of a short object frame without its per-call overhead; None if unsure."""
    try:
        text = data.decode("utf-8")
        if not text.startswith("{"):
            return None
        value, end = _SCAN(text, 0)
    except (ValueError, StopIteration):
        return None  # the caller falls back to json.loads, which says what is wrong
    if end != len(text) and text[end:].strip(" \t\r\n"):
        return None
    return value


def _is_audio(event: dict[str, Any], audio_types: Container[str]) -> bool:
    etype = event.get("type")
    return isinstance(etype, str) and etype in audio_types


def _delta_span(data: bytes) -> tuple[int, int] | None:
    """Where a long, escape-free ``"delta"`` string value sits in ``data`` (its characters only)."""
    i = data.find(_KEY)
    if i < 0:
        return None
    m = _COLON_QUOTE.match(data, i + len(_KEY))
    if m is None:
        return None
    start = m.end()
    end = data.find(b'"', start)
    if end - start < _MIN_CUT or data.find(b"\\", start, end) >= 0:  # (end < 0 is caught too)
        return None
    return start, end
