"""BrowserSpeaker: the page's speaker as an :class:`~voicelive_nb.audio.sources.AudioSink`.

A pacing thread drains the :class:`~voicelive_nb.audio.player.Player` like a device would,
but only ``lead_ms`` ahead of the page's playhead: every 20 ms it sends chunks of up to
``chunk_ms`` while less than the lead is queued at the page.  ``fill``'s ``t`` is when the
chunk's first sample will be heard there (:class:`~voicelive_nb.audio.browser.messages.
PlayheadModel`, corrected by the page's position reports, output latency included), so
playback marks, recordings and turn latencies keep their meaning.

Barge-in: the engine flushes the player and calls :meth:`BrowserSpeaker.drop_buffered`, which
sends ``flush`` to the page (its worklet drops its ring at once and the page cuts its output:
it suspends and resumes its playback AudioContext, which drops the audio the output path still
held) and returns a future of the page's :class:`FlushReport`: how many of the samples sent
were heard before the cut (not merely rendered).  The engine subtracts the rest from the
player's count, so ``conversation.item.truncate`` carries what the listener heard.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from voicelive_nb.audio.browser.messages import RATE, PlayheadModel, page_to_mono

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.audio.browser.link import BrowserAudioLink
    from voicelive_nb.audio.player import Player

__all__ = ["BrowserSpeaker", "FlushReport"]

_TICK_S = 0.02
_MAX_PER_S = 24  # audio messages a second at most (acks and ends fit under 25 beside them)


@dataclass(frozen=True, slots=True)
class FlushReport:
    """The page's answer to a flush.

    Attributes:
        sent: Samples sent on the link when the flush was sent.
        played: Of those, the samples the listener heard: the page's render position at the
            context time heard when its output was cut (or, without a cut, after its fade).
        unplayed_ms: ``(sent - played)`` in ms: audio the player counted as played that the
            listener never heard; subtract it from ``FlushInfo.played_ms``.
        stale_ms: Flush sent -> the page's output silent at the speaker (the cut, or the fade's
            end heard; the page's clock moved onto ours).
    """

    sent: int
    played: int
    unplayed_ms: float
    stale_ms: float


def _resolve(future: concurrent.futures.Future[FlushReport], report: FlushReport) -> None:
    with contextlib.suppress(concurrent.futures.InvalidStateError):  # the engine stopped waiting
        future.set_result(report)


class BrowserSpeaker:
    """The browser's speaker, through a :class:`BrowserAudioLink`.

    Args:
        link: The link whose page plays the audio.
        lead_ms: Audio kept queued ahead of the page's playhead (default: the link's).
    """

    def __init__(self, link: BrowserAudioLink, lead_ms: int | None = None) -> None:
        self.link = link
        self.lead_s = (lead_ms if lead_ms is not None else link.lead_ms) / 1000.0
        self.chunk = round(link.chunk_ms * RATE / 1000)
        self.model = PlayheadModel(RATE)
        self._buf = np.zeros(self.chunk, dtype=np.int16)
        self._lock = threading.Lock()  # fill + send vs flush: the page sees them in order
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._player: Player | None = None
        self._ended = True
        self._sends: collections.deque[float] = collections.deque()
        self._fid = 0
        self._flushes: dict[int, tuple[concurrent.futures.Future[FlushReport], int, float]] = {}
        self._underruns = 0
        self.page_events: list[tuple[str, int, float]] = []
        """Playback events the page reported: (started | underrun | drained, sample g, monotonic t heard)."""
        self.page_flushes: list[dict[str, Any]] = []
        """The page's ``flushed`` reports as received (page clock: ``sw`` is when its output went silent)."""
        self.sent_chunks: list[tuple[int, float]] = []
        """(g, monotonic time sent) of each chunk's first sample (benches pair them with page events)."""

    @property
    def rate(self) -> int:
        """24 kHz."""
        return RATE

    @property
    def blocksize(self) -> int:
        """Samples per ``player.fill`` call (one message)."""
        return self.chunk

    @property
    def underflows(self) -> int:
        """Times the page's ring ran dry mid-answer (reported by the page)."""
        return self._underruns

    @property
    def output_latency_s(self) -> float:
        """The page's reported output latency (AudioContext outputLatency + baseLatency)."""
        return self.link.output_latency_s

    @property
    def description(self) -> str:
        """For logs and ``session.info``."""
        return f"browser speaker ({self.link.chunk_ms} ms messages, {round(self.lead_s * 1000)} ms lead)"

    def start(self, player: Player) -> None:
        """Start sending ``player``'s audio to the page."""
        if player.rate != RATE:
            raise ValueError(f"BrowserSpeaker plays {RATE} Hz; the player runs at {player.rate} Hz")
        if self._thread is not None:
            return
        self._player = player
        self._stop.clear()
        self.link.attach(self)
        self._thread = threading.Thread(target=self._run, name="voicelive-browser-speaker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the pacing thread (idempotent); pending flush futures get no report."""
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(5.0)
        if thread is not None:
            self.link.detach(self)
        with self._lock:
            for future, _, _ in self._flushes.values():
                future.cancel()
            self._flushes.clear()

    def audio_queued(self) -> None:
        """Answer audio was just queued (the session loop): send it now, not at the next 20 ms tick."""
        self._wake.set()

    def drop_buffered(self) -> concurrent.futures.Future[FlushReport] | None:
        """Barge-in (after ``player.flush``): the page drops what it holds; a future of its report.

        None when no page is there to ask.
        """
        with self._lock:
            self._fid += 1
            fid = self._fid
            now = time.monotonic()
            if not self.link.send_to_page({"t": "flush", "fid": fid, "kt": time.time() * 1000.0}):
                return None
            self.model.reset()
            self._ended = True
            future: concurrent.futures.Future[FlushReport] = concurrent.futures.Future()
            self._flushes = {k: v for k, v in self._flushes.items() if k > fid - 8}
            self._flushes[fid] = (future, self.model.sent, now)
            return future

    # ------------------------------------------------------------------ page reports (link thread)

    def page_flushed(self, content: dict[str, Any], now_mono: float, now_wall_ms: float) -> None:
        """The page's ``flushed``: resolve the flush's future."""
        fid, g = content.get("fid"), content.get("g")
        if len(self.page_flushes) < 10_000:
            self.page_flushes.append(dict(content))
        with self._lock:
            entry = self._flushes.pop(fid, None) if isinstance(fid, int) else None
        if entry is None:
            return
        future, sent, t_flush = entry
        if not isinstance(g, int):  # the page had no playback running
            _resolve(future, FlushReport(sent, sent, 0.0, 0.0))
            return
        played = min(max(0, g), sent)
        sw, off = content.get("sw"), content.get("off")
        stale = 0.0
        if isinstance(sw, (int, float)):
            offset = float(off) if isinstance(off, (int, float)) else 0.0
            silent = page_to_mono(float(sw), offset, now_mono, now_wall_ms / 1000.0)  # (heard time)
            stale = max(0.0, (silent - t_flush) * 1000.0)
        _resolve(future, FlushReport(sent, played, (sent - played) * 1000.0 / RATE, stale))

    def page_report(self, content: dict[str, Any], now_mono: float, now_wall_ms: float) -> None:
        """The position and events in a page's ``up`` message (the link's thread)."""
        off = content.get("off")
        offset = float(off) if isinstance(off, (int, float)) else 0.0

        def heard(pw: Any) -> float | None:  # (the page stamps playback facts with when they are heard)
            if not isinstance(pw, (int, float)):
                return None
            return page_to_mono(float(pw), offset, now_mono, now_wall_ms / 1000.0)

        for ev in content.get("ev") or ():
            if isinstance(ev, dict) and isinstance(ev.get("g"), int):
                t = heard(ev.get("pw"))
                kind = str(ev.get("k"))
                if kind == "underrun":
                    self._underruns += 1
                if t is not None and len(self.page_events) < 100_000:
                    self.page_events.append((kind, int(ev["g"]), t))
        pos = content.get("pos")
        if isinstance(pos, dict) and isinstance(pos.get("g"), int):
            t = heard(pos.get("pw"))
            if t is not None:
                with self._lock:
                    self.model.page_position(int(pos["g"]), t, bool(pos.get("playing")))

    # ------------------------------------------------------------------ pacing thread

    def _run(self) -> None:
        wake, stop = self._wake, self._stop
        while not stop.is_set():
            wake.wait(_TICK_S)  # a tick, or audio just queued
            wake.clear()
            with self._lock:
                self._pace(time.monotonic())

    def _pace(self, now: float) -> None:
        player = self._player
        if player is None or not self.link.ready:
            return
        link = self.link
        while True:
            queued = round(player.queued_ms * RATE / 1000)
            if queued <= 0:
                if not self._ended and not player.streaming:
                    self._ended = True
                    link.send_to_page({"t": "end"})
                return
            rtt = link.rtt_ms if link.rtt_ms is not None else 20.0
            t = self.model.when(now, rtt / 2000.0 + self.output_latency_s)
            ahead = t - now
            sends = self._sends
            while sends and sends[0] <= now - 1.0:
                sends.popleft()
            if ahead >= self.lead_s or len(sends) >= _MAX_PER_S:
                return
            n = min(queued, self.chunk)
            if n < self.chunk and player.streaming and ahead > 2 * link.chunk_ms / 1000.0:
                return  # more is coming: wait for a whole chunk rather than send slivers
            out = self._buf[:n]
            player.fill(out, t)
            g = self.model.sent
            if not link.send_to_page({"t": "pcm", "g": g}, [out.tobytes()]):
                return
            self.model.advance(n)
            link.last_pcm_t = now
            sends.append(now)
            self._ended = False
            if len(self.sent_chunks) < 100_000:
                self.sent_chunks.append((g, now))

    def __repr__(self) -> str:
        return f"<BrowserSpeaker {self.description}>"
