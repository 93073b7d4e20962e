"""Acoustic echo cancellation: WebRTC's AEC3 through the ``livekit`` package, on 10 ms frames.

With open speakers the assistant's voice comes back into the mic; server VAD takes it for
the user and the assistant interrupts itself.  An echo canceller subtracts what the speaker
played (the *far end*) from what the mic hears (the *near end*).  Pieces:

* :class:`~voicelive_nb.audio.apm.Apm` -- livekit's ``AudioProcessingModule`` (echo canceller
  on, nothing else) on preallocated 10 ms frames, called the cheap way (:mod:`.apm`); the
  far end and the near end may have different rates.
* :class:`EchoCanceller` -- sans-I/O: far frames and near frames in (any block sizes,
  re-chunked to exactly 10 ms), cleaned near audio out, with echo meters
  (:class:`EchoMeter`: ERL and ERLE while the far end is active).  The far end comes from a
  ``far(position, out)`` function; the caller decides the timeline (:mod:`.echo_mic` uses
  PortAudio's heard/captured times, the emulator its appended-audio timeline).
* :data:`APM_DELAY` -- the output of AEC3 lags its input (band-split and resampling filters):
  measured with speech here, 9.3 ms at 24 kHz.  Callers shift their time stamps by it.

Meters: ``erle_db`` (echo return loss *enhancement*: mic level in over mic level out, what
the canceller removed) and ``erl_db`` (echo return *loss*: far-end level over mic level in,
what the room removed), both over the frames in which the far end played (plus a tail
for the echo still in the room).  When the user talks over the assistant (double talk) the
near end holds speech, so ERLE then reads low: it is meaningful while only the assistant
speaks.

``livekit`` is imported on first use; without it :class:`~voicelive_nb.audio.apm.Apm` raises
:class:`EchoCancellerUnavailable` naming the install command.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from voicelive_nb.audio.apm import Apm, EchoCancellerUnavailable, check_rate

__all__ = [
    "APM_DELAY",
    "Apm",
    "EchoCanceller",
    "EchoCancellerUnavailable",
    "EchoGate",
    "EchoMeter",
    "apm_delay_samples",
]

APM_DELAY = {8000: 87, 16000: 127, 24000: 222, 32000: 290, 48000: 429}
"""Samples the canceller's output lags its input, per near-end rate (measured with speech:
the cross-correlation peak of a clean signal through a fresh APM with no far end)."""

FarSource = Callable[[int, np.ndarray], None]
"""``far(position, out)``: write the far-end samples heard at far ``position`` into ``out``
(zeros where nothing played)."""


def apm_delay_samples(rate: int) -> int:
    """Output lag of the canceller at ``rate`` Hz, in samples (about 9 ms)."""
    return APM_DELAY.get(rate, round(0.009 * rate))


def _ms(x: np.ndarray) -> float:
    """Mean square of int16 samples."""
    f = x.astype(np.float32)
    return float(np.dot(f, f)) / max(1, int(f.shape[0]))


@dataclass
class EchoMeter:
    """Echo levels over the frames in which the far end played (see the module docstring).

    Attributes:
        tail_frames: Frames after the far end went quiet that still count (the room's echo).
        far_floor: Far-end frame RMS (int16 units) above which the far end is "playing".
    """

    tail_frames: int = 50
    far_floor: float = 33.0  # -60 dBFS
    far_energy: float = 0.0
    in_energy: float = 0.0
    out_energy: float = 0.0
    frames: int = 0
    _hold: int = 0
    win_far: float = 0.0
    win_in: float = 0.0
    win_out: float = 0.0
    win_frames: int = 0

    def add(self, far_ms: float, in_ms: float, out_ms: float) -> None:
        """One frame's mean squares (far end, mic in, canceller out)."""
        if far_ms > self.far_floor * self.far_floor:
            self._hold = self.tail_frames
        elif self._hold > 0:
            self._hold -= 1
        else:
            return
        self.far_energy += far_ms
        self.in_energy += in_ms
        self.out_energy += out_ms
        self.frames += 1
        self.win_far += far_ms
        self.win_in += in_ms
        self.win_out += out_ms
        self.win_frames += 1

    @property
    def active(self) -> bool:
        """The far end played within the last ``tail_frames`` frames."""
        return self._hold > 0

    @staticmethod
    def _db(num: float, den: float) -> float | None:
        if num <= 0.0 or den <= 0.0:
            return None
        return round(10.0 * math.log10(num / den), 1)

    def totals(self) -> dict[str, Any]:
        """ERL and ERLE (dB) over every far-active frame so far, and how many frames that was."""
        return {
            "erl_db": self._db(self.far_energy, self.in_energy),
            "erle_db": self._db(self.in_energy, max(self.out_energy, 1e-3)),
            "frames": self.frames,
            "far_energy": self.far_energy,
            "in_energy": self.in_energy,
            "out_energy": self.out_energy,
        }

    def window(self) -> dict[str, Any] | None:
        """ERL/ERLE since the last call, or None if the far end did not play since then."""
        if self.win_frames == 0:
            return None
        out = {
            "erl_db": self._db(self.win_far, self.win_in),
            "erle_db": self._db(self.win_in, max(self.win_out, 1e-3)),
            "frames": self.win_frames,
        }
        self.win_far = self.win_in = self.win_out = 0.0
        self.win_frames = 0
        return out


class EchoGate:
    """Is there an echo at all?  Headphones, or a canceller upstream, leave none.

    AEC3 assumes a strong echo until it has learnt the room, and with no echo to learn from it
    ducks the near end while the far end plays (measured: 9-23 dB for the first ~8 s), which
    would swallow a barge-in.  So the mic level is compared with the far end's over the last
    0.7 s in 200 ms windows while the far end plays; the lower quartile of the last
    ``windows`` ratios is the echo's level: an echo is in every window, the user only in
    some and only adds to it (the median read the user's voice as an echo once the user had
    talked over the assistant for ~1.5 s, and the canceller then ducked them).  Below
    ``threshold_db`` there is no echo worth cancelling and the input passes as it is.
    Until the first windows are in, an echo is assumed.
    """

    def __init__(self, threshold_db: float = -40.0, windows: int = 15, window_frames: int = 20) -> None:
        self.threshold_db = threshold_db
        self.window_frames = window_frames
        self._far = np.zeros(70, dtype=np.float64)  # far mean squares of the last 0.7 s
        self._far_i = 0
        self._near = 0.0
        self._n = 0
        self._ratios: list[float] = []
        self._windows = windows
        self.echo = True
        """Cancel (True) or let the input through (False)."""
        self.level_db: float | None = None
        """The echo's estimated level relative to the far end (dB), once measured."""

    def add(self, far_ms: float, near_ms: float, far_floor: float) -> None:
        """One frame's far and near mean squares."""
        self._far[self._far_i % self._far.shape[0]] = far_ms
        self._far_i += 1
        self._near += near_ms
        self._n += 1
        if self._n < self.window_frames:
            return
        near, self._near, self._n = self._near / self._n, 0.0, 0
        if self._far_i < self._far.shape[0] or np.count_nonzero(self._far > far_floor) < 0.7 * self._far.shape[0]:
            return
        ratio = 10.0 * math.log10(max(near, 1e-6) / max(float(self._far.mean()), 1e-6))
        self._ratios.append(ratio)
        del self._ratios[: -self._windows]
        self.level_db = round(float(np.percentile(self._ratios, 25)), 1)
        self.echo = self.level_db > self.threshold_db


class EchoCanceller:
    """Sans-I/O echo canceller: near-end blocks in, cleaned blocks out (see the module docstring).

    Args:
        near_rate: Rate of the mic audio.
        far: ``far(position, out)`` -- fills ``out`` with the far end at far-rate sample
            ``position`` (see :meth:`process`).  None: no far end (only meters the input).
        far_rate: Rate of the far end (default ``near_rate``).
        enabled: Cancel (True) or only meter and pass the audio through (False).
        high_pass: The APM's high-pass filter (removes DC and rumble below ~80 Hz).

    :meth:`process` returns as many samples as it was given once the first 10 ms frame is
    complete; the cleaned audio lags the input by :attr:`delay` samples when enabled (the
    canceller's filters), and re-chunking holds back at most one frame minus one sample.
    """

    def __init__(
        self,
        near_rate: int = 24000,
        far: FarSource | None = None,
        far_rate: int | None = None,
        *,
        enabled: bool = True,
        high_pass: bool = True,
    ) -> None:
        self.near_rate = near_rate
        self.far_rate = far_rate or near_rate
        check_rate(near_rate, "near-end")
        check_rate(self.far_rate, "far-end")
        self.near_n = near_rate // 100
        self.far_n = self.far_rate // 100
        self._far_fn = far
        self._high_pass = high_pass
        self._apm: Apm | None = None
        self._enabled = False
        self.meter = EchoMeter()
        self._far = np.zeros(self.far_n, dtype=np.int16)
        self.gate = EchoGate()
        delay = apm_delay_samples(near_rate)
        self._recent = np.zeros(-(-delay // self.near_n) * self.near_n, dtype=np.int16)  # input history
        self._delayed = np.zeros(self.near_n, dtype=np.int16)
        self._was_active = False
        self.prime_frames = 30
        """Frames of far end a fresh or re-activated AEC3 is primed with (see :meth:`_prime`)."""
        self._pending = np.zeros(self.near_n, dtype=np.int16)
        self._npending = 0
        self.busy_s = 0.0
        """Wall time spent in the canceller (s)."""
        self.cpu_s = 0.0
        """CPU time of the calling thread spent in the canceller (s)."""
        self.frames = 0
        """Near-end frames processed."""
        self.idle_after: int | None = None
        """None: every frame goes through AEC3.  N: only while the far end played within the
        last N frames (its echo still in the room); otherwise the frame skips AEC3 (only the
        delay line moves) and AEC3 is primed again when the far end next plays -- the device
        canceller then costs nothing while nobody or only the user speaks."""
        self._far_seen = -(10**9)  # frame count when the far end last played
        self.far_ms = 0.0
        """Mean square of the far end of the last frame cancelled (int16 units)."""
        self.in_ms = 0.0
        """Mean square of the mic input of the last frame cancelled."""
        self.enabled = enabled

    @property
    def enabled(self) -> bool:
        """True: cancel; False: meter only, audio passes unchanged."""
        return self._enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        if value and self._apm is None:
            self._apm = Apm(self.near_rate, self.far_rate, high_pass=self._high_pass)
        elif not value:
            self._apm = None  # a fresh one on re-enable: its filters hold stale audio
        self._was_active = False
        self._enabled = bool(value)

    def restart(self) -> None:
        """Start over with a fresh AEC3 (what it learnt of the echo path is dropped).

        For when the echo path is known to have changed -- the emulator's model of a new
        reply's playback: a trained AEC3 trusts its stale filter and lets the echo of the
        first ~0.5 s through, a fresh one suppresses until it has learnt the new path.  (It
        is not primed with older audio: half a second of the old path is enough for it to
        trust that again.)  Its output continues seamlessly; meters and the echo gate carry on.
        """
        if self._enabled:
            self._apm = Apm(self.near_rate, self.far_rate, high_pass=self._high_pass)
            self._was_active = False

    @property
    def delay(self) -> int:
        """Samples the output lags the input (0 when disabled)."""
        return apm_delay_samples(self.near_rate) if self._enabled else 0

    def process(self, block: np.ndarray, far_pos: Callable[[int], int] | None = None) -> np.ndarray:
        """Clean ``block`` (int16 mono at ``near_rate``); returns the cleaned samples ready so far.

        ``far_pos(k)``: the far-end position (far-rate samples) heard at the same instant as
        the ``k``-th near sample of this block (k may be negative: a frame begun in an earlier
        block).  Without it (or without a far source) the far end is silence.
        """
        x = np.asarray(block, dtype=np.int16).reshape(-1)
        n = self.near_n
        total = self._npending + x.shape[0]
        out = np.empty(total - total % n, dtype=np.int16)
        done = 0
        i = 0
        while i < x.shape[0]:
            take = min(n - self._npending, x.shape[0] - i)
            self._pending[self._npending : self._npending + take] = x[i : i + take]
            self._npending += take
            i += take
            if self._npending < n:
                break
            self.process_frame(self._pending, far_pos(i - n) if far_pos is not None else None)
            out[done : done + n] = self._pending
            done += n
            self._npending = 0
        return out

    def process_frame(self, frame: np.ndarray, far_position: int | None, active: bool = True) -> None:
        """Clean one 10 ms near-end ``frame`` in place; ``far_position``: where its far end is.

        Enabled, the output is the input delayed by :attr:`delay` samples: cancelled, or as it
        was when :class:`EchoGate` finds no echo, or when ``active`` is False (the caller knows
        no far end plays: no work is done, only the delay line moves; see also
        :attr:`idle_after`).  Going active again first primes the canceller (:meth:`_prime`),
        so its output continues seamlessly.
        """
        t0 = time.perf_counter()
        c0 = time.thread_time()
        apm = self._apm
        n = self.near_n
        if apm is None:  # disabled: meter only, no delay
            self._fill_far(far_position)
            far_ms, in_ms = _ms(self._far), _ms(frame)
            self.meter.add(far_ms, in_ms, in_ms)
        else:
            recent = self._recent
            r, dly = recent.shape[0], self.delay
            idle = self.idle_after
            if active and idle is not None and far_position is not None:
                self._fill_far(far_position, apm.far_frame)  # has the far end played lately?
                if _ms(apm.far_frame) > self.meter.far_floor**2:
                    self._far_seen = self.frames
                active = self.frames - self._far_seen <= idle
            if active and not self._was_active and far_position is not None:
                self._prime(apm, far_position)
            self._was_active = active
            delayed = self._delayed  # the input, ``delay`` samples late
            if dly <= n:
                delayed[:dly] = recent[r - dly :]
                delayed[dly:] = frame[: n - dly]
            else:
                delayed[:] = recent[r - dly : r - dly + n]
            recent[:-n] = recent[n:]
            recent[-n:] = frame
            if active:
                self._fill_far(far_position, apm.far_frame)
                apm.render()
                far_ms, in_ms = _ms(apm.far_frame), _ms(frame)
                apm.near_frame[:] = frame
                apm.capture()
                self.far_ms, self.in_ms = far_ms, in_ms
                self.gate.add(far_ms, in_ms, self.meter.far_floor**2)
                if self.gate.echo:
                    frame[:] = apm.near_frame
                else:
                    frame[:] = delayed
                self.meter.add(far_ms, in_ms, _ms(frame))
            else:
                frame[:] = delayed
        self.frames += 1
        self.busy_s += time.perf_counter() - t0
        self.cpu_s += time.thread_time() - c0

    def _prime(self, apm: Apm, far_position: int) -> None:
        """Prepare ``apm`` to continue from here (its output is dropped).

        The far end of the last :attr:`prime_frames` frames goes in with a silent near end,
        so it knows what was just played (an echo of it may still arrive) without learning
        an echo path from it; then the recent input, so that its filters hold what its
        output continues from.
        """
        recent, n = self._recent, self.near_n
        k = recent.shape[0] // n
        silent = self.prime_frames - k
        for j in range(-silent, k):
            self._fill_far(far_position - (k - j) * self.far_n, apm.far_frame)
            apm.render()
            if j < 0:
                apm.near_frame.fill(0)
            else:
                apm.near_frame[:] = recent[j * n : (j + 1) * n]
            apm.capture()

    def _fill_far(self, far_position: int | None, out: np.ndarray | None = None) -> None:
        far = self._far if out is None else out
        if far_position is not None and self._far_fn is not None:
            self._far_fn(far_position, far)
        else:
            far.fill(0)

    def stats(self) -> dict[str, Any]:
        """Totals: ERL/ERLE (dB), frames, processing time per second of audio (``cpu_share``)."""
        audio_s = self.frames / 100.0
        return {
            **self.meter.totals(),
            "enabled": self._enabled,
            "delay_ms": round(self.delay * 1000.0 / self.near_rate, 2),
            "cpu_share": round(self.cpu_s / audio_s, 5) if audio_s else 0.0,
            "busy_share": round(self.busy_s / audio_s, 5) if audio_s else 0.0,
            "audio_s": round(audio_s, 2),
        }
