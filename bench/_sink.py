"""What a PulseAudio sink played, recorded off its monitor and dated on ``time.monotonic()``.

:class:`SinkRecorder` is a 4 ms-block sounddevice input stream on ``<sink>.monitor`` that keeps
every sample and the PortAudio time of every block.  Like the latency bench's probe
(``bench/_probe.py``), it maps PortAudio's stream clock (the wall clock on Linux/ALSA) to
:func:`time.monotonic` with the smallest ``monotonic() - currentTime`` seen (the callback runs
after ``currentTime`` was read, never before), and dates sample ``j`` of an ``n``-frame block
that arrived at ``t`` as ending at ``t - (n - 1 - j) / rate``.  ``CLOCK_MONOTONIC`` is one
clock for every process on the machine, so these times compare with a client's event times.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


def opened(env: dict[str, str], make: Callable[[], T]) -> T:
    """``make()`` with ``env`` set in os.environ (PULSE_SINK/PULSE_SOURCE are read when a stream opens)."""
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return make()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class SinkRecorder:
    """Records ``<sink>.monitor`` for up to ``seconds`` (int16 mono, preallocated)."""

    def __init__(self, sink: str, seconds: float, rate: int = 24000, block: int = 96) -> None:
        self.sink, self.rate, self.block = sink, rate, block
        self.samples = np.zeros(round(seconds * rate), dtype=np.int16)
        self.n = 0  # samples kept
        self.ends = np.zeros(self.samples.size // block + 16, dtype=np.int64)  # self.n after each block
        self.times = np.zeros(self.ends.size, dtype=np.float64)  # PortAudio time of each block
        self.blocks = 0
        self.offset = float("inf")  # monotonic - PortAudio time (smallest seen)
        self.overflows = 0
        self._stream: Any = None

    def _in(self, data: np.ndarray, frames: int, ti: Any, status: Any) -> None:
        off = time.monotonic() - ti.currentTime
        if off < self.offset:
            self.offset = off
        if status and status.input_overflow:
            self.overflows += 1
        k = min(frames, self.samples.size - self.n)
        if k <= 0 or self.blocks >= self.ends.size:
            return
        self.samples[self.n : self.n + k] = data[:k, 0]
        self.n += k
        self.ends[self.blocks] = self.n
        self.times[self.blocks] = ti.currentTime - (frames - k) / self.rate
        self.blocks += 1

    def start(self) -> SinkRecorder:
        from voicelive_nb.audio.devices import quiet_alsa

        quiet_alsa()
        import sounddevice as sd

        self._stream = opened(
            {"PULSE_SOURCE": f"{self.sink}.monitor"},
            lambda: sd.InputStream(
                samplerate=self.rate,
                channels=1,
                dtype="int16",
                latency="low",
                blocksize=self.block,
                callback=self._in,
            ),
        )
        self._stream.start()
        return self

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None

    def loud_ends(self, t0: float, t1: float, loud: int) -> np.ndarray:
        """Monotonic end times of the samples louder than ``loud`` (|x|) in blocks that arrived in [t0, t1]."""
        times = self.times[: self.blocks] + self.offset
        b0, b1 = np.searchsorted(times, [t0, t1])
        if b1 <= b0:
            return np.zeros(0)
        ends = self.ends[b0:b1]
        first = int(self.ends[b0 - 1]) if b0 else 0
        idx = first + np.flatnonzero(np.abs(self.samples[first : ends[-1]].astype(np.int32)) > loud)
        block = np.searchsorted(ends, idx, side="right")  # the block each sample came in
        return times[b0 + block] - (ends[block] - 1 - idx) / self.rate
