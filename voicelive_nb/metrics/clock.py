"""The audio clock: positions on the mic timeline (samples appended) mapped to monotonic time.

:class:`MicClock` is fed the ``mic.audio`` records (each block's sample ``offset`` and the
time of its first sample); :class:`AudioClock` is what the
:class:`~voicelive_nb.metrics.tracker.TurnTracker` needs of such a clock (a recording
brings a file-backed one, :class:`~voicelive_nb.recording.files.FileMicClock`).
"""

from __future__ import annotations

import bisect
from typing import Protocol

__all__ = ["AudioClock", "MicClock"]


class MicClock:
    """Map positions on the mic timeline (samples appended) to monotonic time.

    Fed the ``mic.audio`` records: each block's ``offset``, ``samples``, ``rate`` and
    the time of its first sample -- ``captured_t`` when the source reports it, else
    ``t - samples / rate`` (a block is sent once its last sample is in).  Keeps the
    last ``horizon`` blocks (minutes), all a live turn needs; positions outside are
    extrapolated from the nearest block kept.
    """

    def __init__(self, horizon: int = 12_000) -> None:
        self._starts: list[int] = []  # offset of each block (sorted)
        self._times: list[float] = []  # monotonic time of each block's first sample
        self._horizon = horizon
        self.rate: int | None = None
        self.connection_offset = 0
        """Mic sample at which the current connection's audio began (the server's 0 ms)."""

    def add(self, offset: int, samples: int, rate: int, t: float, captured_t: float | None = None) -> None:
        """Note one block of ``samples`` samples at ``offset``, sent at ``t`` (captured at ``captured_t``)."""
        if rate <= 0:
            return
        self.rate = rate
        if self._starts and offset <= self._starts[-1]:
            return  # out of order or duplicate: keep the index sorted
        self._starts.append(offset)
        self._times.append(captured_t if captured_t is not None else t - samples / rate)
        if len(self._starts) > 2 * self._horizon:
            del self._starts[: self._horizon]
            del self._times[: self._horizon]

    def sample_of(self, server_ms: float) -> float:
        """Mic-timeline sample of a server ``audio_*_ms`` value (relative to the connection's start)."""
        return self.connection_offset + server_ms * (self.rate or 24_000) / 1000.0

    def to_monotonic(self, sample: float) -> float | None:
        """Monotonic time of mic-timeline ``sample``; None before any mic block."""
        if not self._starts or not self.rate:
            return None
        i = max(0, bisect.bisect_right(self._starts, sample) - 1)
        return self._times[i] + (sample - self._starts[i]) / self.rate


class AudioClock(Protocol):
    """What :class:`TurnTracker` needs of a mic clock (:class:`MicClock`, or a file-backed one)."""

    rate: int | None

    @property
    def connection_offset(self) -> int: ...

    def add(self, offset: int, samples: int, rate: int, t: float, captured_t: float | None = None) -> None: ...

    def sample_of(self, server_ms: float) -> float: ...

    def to_monotonic(self, sample: float) -> float | None: ...
