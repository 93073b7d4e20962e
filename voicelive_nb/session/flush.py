"""A barge-in's flush of playback: what the player and the device dropped, and what was heard.

:func:`flush_playback` is the engine's half of a :class:`~voicelive_nb.session.actions.FlushPlayback`:
the player drops every queued item, a sink that can drops what its device holds too, and a sink
far from the listener (the browser's page) answers with what it really played, so the
``conversation.item.truncate`` that follows carries what was heard.  :func:`flushed_data` is the
``playback.flushed`` record it leads to.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from voicelive_nb.audio.sources import AudioSink, DropsOnFlush, FlushReport

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.audio.playback import FlushInfo
    from voicelive_nb.audio.player import Player

__all__ = ["flush_playback", "flushed_data"]

log = logging.getLogger(__name__)


async def flush_playback(
    player: Player, sink: AudioSink, reason: str, *, drain_marks: Callable[[], Any], confirm_s: float
) -> tuple[FlushInfo, str] | None:
    """Flush ``player`` (and ``sink``'s device buffer); ``(info, played_by)`` or None if nothing played.

    ``drain_marks`` publishes the player's marks right after the drop (before any wait);
    ``confirm_s`` is the longest wait for a sink's own count of what it played.  ``played_by``
    is ``"device"`` when that count corrected ``info``, else ``"player"``.
    """
    info = player.flush(reason)
    confirm = None
    if info is not None and isinstance(sink, DropsOnFlush):
        # also drop what the device holds (AdaptiveSpeaker: abort + restart, 2-7 ms); a sink
        # far from the listener (BrowserSpeaker) answers with a future of what it really played
        confirm = sink.drop_buffered()
    drain_marks()
    if info is None:
        return None
    played_by = "player"
    if isinstance(confirm, concurrent.futures.Future):
        report = None
        try:
            report = await asyncio.wait_for(asyncio.wrap_future(confirm), confirm_s)
        except asyncio.TimeoutError:
            log.warning("no flush report from the speaker in %g s: truncating at the sent count", confirm_s)
        except asyncio.CancelledError:
            if not confirm.cancelled():
                raise  # this task was cancelled, not the speaker's future
        if isinstance(report, FlushReport):
            unplayed = max(0.0, float(report.unplayed_ms))
            info = dataclasses.replace(
                info,
                played_ms=max(0.0, info.played_ms - unplayed),
                stale_ms=float(report.stale_ms),
            )
            played_by = "device"
    return info, played_by


def flushed_data(info: FlushInfo, played_by: str) -> dict[str, Any]:
    """The data of the ``playback.flushed`` record of a flush."""
    return {
        "response_id": info.response_id,
        "item_id": info.item_id,
        "played_ms": round(info.played_ms, 3),
        "dropped_ms": round(info.dropped_ms, 3),
        # still heard after the flush: the rest of the block in flight plus what
        # the device buffer held (speakers that drop their buffer at a flush: ~0)
        "stale_ms": round(info.stale_ms, 3),
        "reason": info.reason,
        "played_by": played_by,
    }
