"""What the barge-in player says about playback: its marks, its flush report, its errors.

:class:`PlaybackMark` (what the output side did: an item started, a chunk was handed to
the device, an item stopped) and :class:`FlushInfo` (what a barge-in dropped, for
``conversation.item.truncate``) are the vocabulary between :class:`~voicelive_nb.audio.player.Player`
and the session; :func:`as_int16` checks what is pushed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["FlushInfo", "MarkKind", "PlaybackMark", "PlayerFullError", "as_int16"]

MarkKind = Literal["started", "chunk", "stopped"]


class PlayerFullError(RuntimeError):
    """The player's ring buffer cannot take more audio (is the output device running?)."""


@dataclass(frozen=True, slots=True)
class PlaybackMark:
    """Something the output side did, drained with :meth:`Player.drain_marks`.

    Attributes:
        kind: ``"started"`` (first sample of the item handed to the device),
            ``"chunk"`` (one callback's worth of the item's audio handed over),
            ``"stopped"`` (the item's last queued sample played after :meth:`Player.done`).
        response_id: The response the audio belongs to.
        item_id: The conversation item the audio belongs to.
        t: Monotonic seconds: the first sample's play time (started, chunk) or the
            end of the last sample (stopped).
        offset: Position in the item's audio, in samples, of the chunk's first sample
            (started: 0; stopped: samples played of the item).
        samples: Samples in the chunk (0 for started/stopped).
        pcm: For chunks, the PCM16 bytes handed over (None for other kinds, or if the
            ring overwrote them before the drain -- only when drains lag by ``capacity_s``).
    """

    kind: MarkKind
    response_id: str
    item_id: str
    t: float
    offset: int
    samples: int
    pcm: bytes | None = None


@dataclass(frozen=True, slots=True)
class FlushInfo:
    """What :meth:`Player.flush` dropped, for ``conversation.item.truncate`` and records.

    Attributes:
        response_id: The response that was playing (or first in the queue).
        item_id: Its item: send ``conversation.item.truncate(item_id, audio_end_ms=played_ms)``.
        played_ms: Audio of the item handed to the device, including the block in flight.
        dropped_ms: Queued audio (of all flushed items) that will never play.
        stale_ms: How long audio still comes out after the flush: the rest of the block
            in flight plus the device latency included in ``fill``'s ``t`` (>= 0).
        reason: What caused it (``"speech_started"``, ``"cancel"``, ...).
        t: Monotonic time of the flush.
    """

    response_id: str
    item_id: str
    played_ms: float
    dropped_ms: float
    stale_ms: float
    reason: str
    t: float


def as_int16(pcm: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    """``pcm`` (PCM16 bytes, or an int16 array, mono) as a 1-D int16 array; a clear error otherwise."""
    if isinstance(pcm, np.ndarray):
        if pcm.dtype != np.int16:
            raise TypeError(
                f"Player.push expects int16 samples, got dtype {pcm.dtype}; "
                "convert with (x * 32767).astype(np.int16) for float audio"
            )
        if pcm.ndim == 2 and pcm.shape[1] == 1:
            pcm = pcm[:, 0]
        if pcm.ndim != 1:
            raise ValueError(f"Player.push expects mono audio, got an array of shape {pcm.shape}")
        return pcm
    if not isinstance(pcm, bytes | bytearray | memoryview):
        raise TypeError(f"Player.push expects PCM16 bytes or an int16 array, got {type(pcm).__name__}")
    if len(pcm) % 2:
        raise ValueError(
            f"Player.push got {len(pcm)} bytes: PCM16 needs an even number of bytes (was the base64 delta decoded?)"
        )
    return np.frombuffer(pcm, dtype="<i2")
