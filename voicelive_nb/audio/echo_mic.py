"""Local echo cancellation for a sound-device mic and speaker, aligned by PortAudio's clocks.

* :class:`EchoReference` -- what the speaker *actually plays*, on the heard-time clock.
  :class:`~voicelive_nb.audio.streams.DeviceSpeaker`'s callback calls :meth:`~EchoReference.write`
  with each block it hands the device and the monotonic time its first sample is heard
  (PortAudio's ``outputBufferDacTime``); that is one copy into a preallocated ring, no
  allocation.  A speaker that aborts its stream (the adaptive speaker at an edge) calls
  :meth:`~EchoReference.cut`: what the device held was never heard.
* :class:`EchoCancellingMic` -- an :class:`~voicelive_nb.audio.sources.AudioSource` around a
  device mic.  Its :meth:`~EchoCancellingMic.read` runs right where the session reads the mic
  (the session loop, woken by the mic's own pipe): for each 10 ms of mic audio captured at
  time ``t`` (PortAudio's ``inputBufferAdcTime``) it feeds the canceller the far end heard at
  ``t`` and then the mic frame, so the canceller sees render and capture in lockstep and the
  delay between them is only the room's (plus timing error; AEC3 estimates the rest).

Why not inside the callbacks: the canceller is Python and numpy around AEC3 (and livekit's
public API builds protobuf objects per call), which the real-time callbacks must not run.
Next to them it adds no block of latency: a 10 ms mic block is cleaned as soon as it is read
(about 0.1 ms of work), and only the canceller's own filter delay
(:data:`~voicelive_nb.audio.echo.APM_DELAY`, 9.3 ms at 24 kHz) is added; the block's capture
time is moved back by it, so latency figures include it.

Each re-anchor of the reference (the speaker's stream restarted: an answer's start, a
barge-in, an underflow) is a new echo path: the canceller starts afresh when the mic reaches
it (see :meth:`EchoCanceller.restart <voicelive_nb.audio.echo.EchoCanceller.restart>`).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from voicelive_nb.audio.echo import EchoCanceller
from voicelive_nb.audio.sources import Notify

__all__ = ["EchoCancellingMic", "EchoReference"]

IDLE_AFTER_FRAMES = 100
"""The canceller rests when the speaker has played nothing for this many 10 ms frames (1 s:
the echo's delay and the room's tail are well inside it)."""


class EchoReference:
    """A ring of what the speaker played, indexed by the time it is heard (see the module docstring).

    Args:
        rate: The speaker's rate.
        capacity_s: Audio kept (the mic must read within this long; 2 s is ample).
        tolerance_s: A block whose heard time is within this of "right after the previous
            block" is taken as contiguous (PortAudio's times jitter); further off re-anchors.
    """

    def __init__(self, rate: int = 24000, capacity_s: float = 2.0, tolerance_s: float = 0.02) -> None:
        self.rate = rate
        self.frame = max(1, rate // 100)
        nframes = max(4, round(capacity_s * 100))
        self.capacity = nframes * self.frame
        self._ring = np.zeros(self.capacity, dtype=np.int16)
        self._ring.fill(0)  # touch every page now
        self._stamp = np.full(nframes, -1, dtype=np.int64)  # frame index last written in each slot
        self._nframes = nframes
        self._tol = round(tolerance_s * rate)
        self._next = -1  # position right after the last block written (-1: re-anchor)
        self.reanchors = 0
        """Blocks whose heard time jumped (stream restarts, underflows): the timeline re-anchored."""
        self.anchor = -1
        """Position (samples of the heard clock) of the latest re-anchor: from there on the
        speaker plays on a new stream's timing, a new echo path for the canceller."""
        self.blocks = 0

    def write(self, block: np.ndarray, t_heard: float) -> None:
        """Called from the speaker's callback: ``block`` (frames x 1 or 1-D int16) is heard at ``t_heard``."""
        data = block[:, 0] if block.ndim == 2 else block
        n = data.shape[0]
        est = round(t_heard * self.rate)
        nxt = self._next
        if nxt >= 0 and -self._tol <= est - nxt <= self._tol:
            pos = nxt
        else:
            pos = est
            self.anchor = est
            self.reanchors += 1
        cap = self.capacity
        start = pos % cap
        first = min(n, cap - start)
        self._ring[start : start + first] = data[:first]
        if first < n:
            self._ring[: n - first] = data[first:n]
        f = pos // self.frame
        last = (pos + n - 1) // self.frame
        while f <= last:
            self._stamp[f % self._nframes] = f
            f += 1
        self._next = pos + n
        self.blocks += 1

    def cut(self, t: float) -> None:
        """The device dropped what it held (an aborted stream): nothing after ``t`` was heard."""
        nxt = self._next
        pos = round(t * self.rate)
        if nxt < 0 or pos >= nxt:
            self._next = -1
            return
        f = pos // self.frame + 1  # whole frames after the cut are forgotten
        last = (nxt - 1) // self.frame
        while f <= last:
            self._stamp[f % self._nframes] = -1
            f += 1
        self._next = -1

    def read(self, pos: int, out: np.ndarray) -> None:
        """Fill ``out`` with what was heard from sample ``pos`` on (zeros where nothing played)."""
        n = out.shape[0]
        fr = self.frame
        i = 0
        while i < n:
            p = pos + i
            f = p // fr
            take = min(n - i, (f + 1) * fr - p)
            if self._stamp[f % self._nframes] == f:
                s = p % self.capacity
                out[i : i + take] = self._ring[s : s + take]
            else:
                out[i : i + take] = 0
            i += take


class EchoCancellingMic:
    """A device mic whose blocks come out with the speaker's echo removed.

    Args:
        mic: The device mic (an AudioSource with ``wake_fileno``, capture times from PortAudio).
        reference: The speaker's :class:`EchoReference` (install it with
            ``speaker.echo_reference = reference`` before the speaker starts).
        enabled: Cancel (True) or pass the mic through, still metering the echo (False).

    Everything else (rate, blocksize, wake_fileno, overflows, ...) is the mic's.  Blocks are
    the mic's block size; when it is not a multiple of 10 ms, a block waits for the next
    one's first frame (at most one block of latency).
    """

    def __init__(self, mic: Any, reference: EchoReference, enabled: bool = True) -> None:
        self.mic = mic
        self.reference = reference
        self.canceller = EchoCanceller(mic.rate, reference.read, reference.rate, enabled=enabled)
        self.canceller.idle_after = IDLE_AFTER_FRAMES
        self._lock = threading.Lock()  # read() vs a toggle from the caller's thread
        self._out = np.zeros(0, dtype=np.int16)
        self._out_t = 0.0  # capture time of _out[0]
        self._t_next = -1.0  # capture time right after the last block read
        self._anchor_seen = -1  # the reference's latest re-anchor the canceller restarted at
        self.restarts = 0
        """Fresh cancellers started at speaker re-anchors (see :meth:`_clean`)."""
        self._busy_s = self._cpu_s = 0.0  # time spent cleaning (wall, this thread's CPU)
        self._blocks = self._samples = 0

    # -- AudioSource ------------------------------------------------------------------------

    @property
    def rate(self) -> int:
        """The mic's rate (Hz)."""
        return int(self.mic.rate)

    @property
    def blocksize(self) -> int:
        """The mic's block size (samples)."""
        return int(self.mic.blocksize)

    @property
    def overflows(self) -> int:
        """The mic's overflows."""
        return int(self.mic.overflows)

    @property
    def input_latency_s(self) -> float:
        """The mic's latency plus the canceller's filter delay."""
        return float(self.mic.input_latency_s) + self.canceller.delay / self.rate

    @property
    def description(self) -> str:
        """The mic's description, with the echo canceller's state."""
        state = "on" if self.canceller.enabled else "off"
        return f"{self.mic.description} + echo canceller ({state})"

    @property
    def finished(self) -> bool:
        """False: a mic does not end."""
        return bool(self.mic.finished)

    def start(self, notify: Notify | None = None) -> None:
        """Start the mic."""
        self.mic.start(notify)

    def wake_fileno(self) -> int:
        """The mic's wake pipe (see ``DeviceMic.wake_fileno``)."""
        return int(self.mic.wake_fileno())

    def stop(self) -> None:
        """Stop the mic (idempotent)."""
        self.mic.stop()

    def __getattr__(self, name: str) -> Any:
        """Anything else is the mic's (its stream, latency setting ...)."""
        if name == "mic":  # (not set yet: no recursion while constructing)
            raise AttributeError(name)
        return getattr(self.mic, name)

    # -- echo -------------------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        """Whether the echo is cancelled (settable at any time, from any thread)."""
        return self.canceller.enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        with self._lock:
            self.canceller.enabled = bool(value)

    def echo_stats(self) -> dict[str, Any] | None:
        """Echo figures since the last call, None if the speaker did not play since.

        ``erl_db`` (speaker level over mic level: what the room removed), ``erle_db`` (what
        the canceller removed; None while it is off), ``frames`` (10 ms frames counted),
        ``enabled``.
        """
        with self._lock:
            window = self.canceller.meter.window()
            enabled = self.canceller.enabled
        if window is None:
            return None
        return {**window, "erle_db": window["erle_db"] if enabled else None, "enabled": enabled}

    def stats(self) -> dict[str, Any]:
        """Totals since start (see :meth:`EchoCanceller.stats <voicelive_nb.audio.echo.EchoCanceller.stats>`),
        with the whole read path's cost: ``read_cpu_share`` (CPU of the reading thread per second
        of audio: re-chunking, far-end look-up, canceller, meters), ``block_ms`` (mean wall time
        to clean a mic block) and ``added_ms`` (what the mic's latency gains: the filter delay
        and that wall time)."""
        with self._lock:
            s = self.canceller.stats()
            blocks, audio_s = max(1, self._blocks), self._samples / max(1, self.rate)
            block_ms = 1000.0 * self._busy_s / blocks
            return {
                **s,
                "reanchors": self.reference.reanchors,
                "restarts": self.restarts,
                "read_cpu_share": round(self._cpu_s / audio_s, 5) if audio_s else 0.0,
                "block_ms": round(block_ms, 3),
                "added_ms": round(s["delay_ms"] + block_ms, 2),
            }

    def read(self) -> tuple[np.ndarray, float] | None:
        """The next cleaned block and the capture time of its first sample (shifted by the filter delay)."""
        n = self.blocksize
        with self._lock:
            while self._out.shape[0] < n:
                item = self.mic.read()
                if item is None:
                    return None
                block, t = item
                t0, c0 = time.perf_counter(), time.thread_time()
                self._clean(np.asarray(block, dtype=np.int16).reshape(-1), float(t))
                self._busy_s += time.perf_counter() - t0
                self._cpu_s += time.thread_time() - c0
                self._blocks += 1
                self._samples += len(block)
            block = self._out[:n].copy()
            t = self._out_t
            self._out = self._out[n:]
            self._out_t = t + n / self.rate
        return block, t - self.canceller.delay / self.rate

    def _clean(self, block: np.ndarray, t: float) -> None:
        rate, far_rate = self.rate, self.reference.rate
        canceller = self.canceller
        pending = canceller._npending

        def far_pos(k: int) -> int:
            return round((t + k / rate) * far_rate)

        anchor = self.reference.anchor
        if anchor != self._anchor_seen and far_pos(block.shape[0]) >= anchor:
            # The speaker re-anchored (a restarted stream: an answer's start, a barge-in, an
            # underflow): its timing, so the echo path, changed by a fraction of a ms or more.
            # A trained AEC3 would trust its old filter and let the new echo through for ~0.5 s;
            # a fresh one suppresses until it has learnt the new path (see emulator/echo.py).
            self._anchor_seen = anchor
            canceller.restart()
            self.restarts += 1
        cleaned = canceller.process(block, far_pos)
        if cleaned.shape[0] == 0:
            return
        first_t = t - pending / rate  # capture time of cleaned[0] (before the filter delay)
        if self._out.shape[0] == 0:
            self._out = cleaned
            self._out_t = first_t
        else:
            self._out = np.concatenate([self._out, cleaned])
