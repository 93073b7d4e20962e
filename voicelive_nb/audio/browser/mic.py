"""BrowserMic: the page's microphone as an :class:`~voicelive_nb.audio.sources.AudioSource`.

The page captures 20 ms frames at 24 kHz (its capture worklet resamples) and sends them in
chunks (:class:`~voicelive_nb.audio.browser.link.BrowserAudioLink` ``chunk_ms``).  The link
hands each chunk to :meth:`BrowserMic.page_audio` on the thread that handles the page's
messages (a kernel subshell where there is one); it is cut into ``blocksize`` blocks stamped
with their capture time on this process's monotonic clock, queued (bounded), and the session
loop is woken through ``notify``.
"""

from __future__ import annotations

import collections
import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from voicelive_nb.audio.browser.messages import FRAME, RATE, MicTimeline
from voicelive_nb.audio.sources import Notify

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.audio.browser.link import BrowserAudioLink

__all__ = ["BrowserMic"]


class BrowserMic:
    """The browser's microphone, through a :class:`BrowserAudioLink`.

    Args:
        link: The link whose page captures the audio.
        blocksize: Samples per block returned by :meth:`read`.
        max_queue_s: Blocks held for a slow reader before the oldest are dropped (``overflows``).
    """

    def __init__(self, link: BrowserAudioLink, blocksize: int = FRAME, max_queue_s: float = 5.0) -> None:
        self.link = link
        self._blocksize = blocksize
        self.timeline = MicTimeline(blocksize, max_age_s=link.max_mic_age_s)
        self._queue: collections.deque[tuple[np.ndarray, float]] = collections.deque(
            maxlen=max(1, round(max_queue_s * RATE / blocksize))
        )
        self._dropped = 0
        self._notify: Notify | None = None
        self._lock = threading.Lock()
        self._started = False

    @property
    def rate(self) -> int:
        """24 kHz: the page resamples to it."""
        return RATE

    @property
    def blocksize(self) -> int:
        """Samples per block."""
        return self._blocksize

    @property
    def overflows(self) -> int:
        """Blocks lost: frames the page dropped (paused while the kernel was busy), audio that
        arrived too late to send (``max_mic_age_s``), or blocks the reader did not take in time."""
        st = self.timeline.stats
        frames = st.gap_frames + st.stale_frames
        return frames * FRAME // self._blocksize + self._dropped

    @property
    def input_latency_s(self) -> float:
        """0: the capture time of each block already comes from the page's clock."""
        return 0.0

    @property
    def description(self) -> str:
        """For logs and ``session.info``."""
        return f"browser mic ({self.link.chunk_ms} ms messages, page {self.link.state})"

    @property
    def finished(self) -> bool:
        """Never: a live mic."""
        return False

    def start(self, notify: Notify | None = None) -> None:
        """Ask the page to capture; ``notify()`` is called from the link's thread per chunk."""
        self._notify = notify
        self._started = True
        self.link.attach(self)

    def read(self) -> tuple[np.ndarray, float] | None:
        """Next block and the monotonic time its first sample was captured in the page."""
        try:
            return self._queue.popleft()
        except IndexError:
            return None

    def stop(self) -> None:
        """Stop taking the page's audio (the page releases the mic if the speaker is gone too)."""
        if self._started:
            self._started = False
            self.link.detach(self)

    def page_audio(self, content: dict[str, Any], pcm: bytes, now_mono: float, now_wall: float) -> None:
        """One chunk from the page (the link's thread): queue its blocks, wake the reader."""
        if not self._started:
            return
        with self._lock:
            blocks = self.timeline.feed(content, pcm, now_mono, now_wall)
            for block, t in blocks:
                if len(self._queue) == self._queue.maxlen:
                    self._dropped += 1
                self._queue.append((block, t))
        notify = self._notify
        if blocks and notify is not None:
            notify()

    def __repr__(self) -> str:
        return f"<BrowserMic {self.description}>"
