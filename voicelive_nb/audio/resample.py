"""Band-limited sample-rate conversion in numpy (no SciPy needed).

:func:`resample` converts a whole signal (the filter delay is compensated, so the
output lines up with the input in time); :class:`Resampler` converts a stream block by
block, keeping its history between calls (a constant delay of :attr:`Resampler.delay_s`).

Both use a Kaiser-windowed sinc polyphase filter for the rational ratio
``to_rate / from_rate`` (e.g. 48000 -> 24000 is 1/2, 44100 -> 24000 is 80/147),
cut off at 0.95 of the lower Nyquist frequency.  Used on the loop side only (mic
``read()``, WAV loading): it allocates, so never call it from an audio callback.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["Resampler", "resample"]


class Resampler:
    """Stateful int16 mono resampler.

    Args:
        from_rate: Input sample rate (Hz).
        to_rate: Output sample rate (Hz).
        taps: Filter taps per polyphase branch (quality vs. CPU; 32 is plenty for speech).
    """

    def __init__(self, from_rate: int, to_rate: int, taps: int = 32) -> None:
        for name, value in (("from_rate", from_rate), ("to_rate", to_rate)):
            if not isinstance(value, int | np.integer) or value <= 0:
                raise ValueError(f"Resampler {name} must be a positive integer rate in Hz, got {value!r}")
        self.from_rate = int(from_rate)
        self.to_rate = int(to_rate)
        g = math.gcd(self.from_rate, self.to_rate)
        self.up = self.to_rate // g
        self.down = self.from_rate // g
        if self.up > 1000:
            raise ValueError(
                f"Resampler ratio {self.to_rate}/{self.from_rate} reduces to {self.up}/{self.down}: "
                "too fine for the polyphase filter; pick standard rates (8k, 16k, 22.05k, 24k, 44.1k, 48k)"
            )
        self.taps = int(taps)
        n = self.taps * self.up
        odd = n - 1 if n % 2 == 0 else n  # odd length: a whole-sample delay we can cancel exactly
        fc = 0.95 * min(self.from_rate, self.to_rate) / 2 / (self.from_rate * self.up)
        k = np.arange(odd) - (odd - 1) / 2
        h = np.zeros(n)
        h[:odd] = 2 * fc * np.sinc(2 * fc * k) * np.kaiser(odd, 8.0) * self.up
        self._shift = (odd - 1) // 2  # filter delay, in upsampled samples
        # branch p holds h[p], h[p+L], h[p+2L], ...: the taps applied to x[base], x[base-1], ...
        self._poly = h.reshape(self.taps, self.up).T.copy()
        self._hist = np.zeros(self.taps - 1, dtype=np.float64)
        self._n_in = 0  # input samples consumed
        self._n_out = 0  # output samples produced
        self.delay_s = self._shift / (self.from_rate * self.up)
        """Look-ahead: output sample ``j`` (time ``j / to_rate``, aligned with the input
        exactly) is returned once input up to ``delay_s`` later has arrived."""

    @property
    def passthrough(self) -> bool:
        """True when the rates are equal (blocks are returned unchanged)."""
        return self.up == self.down == 1

    def process(self, block: np.ndarray) -> np.ndarray:
        """Convert the next input block (int16 1-D) and return the output it completes (int16)."""
        x = np.asarray(block)
        if x.ndim != 1:
            raise ValueError(f"Resampler.process expects a 1-D mono block, got shape {x.shape}")
        if self.passthrough:
            return x.astype(np.int16, copy=True)
        n0 = self._n_in
        buf = np.concatenate([self._hist, x.astype(np.float64)])
        last = n0 + x.shape[0] - 1
        # outputs j whose newest input index floor(j*M/L) is available
        j_end = (last * self.up + self.up - 1 - self._shift) // self.down + 1
        j = np.arange(self._n_out, max(j_end, self._n_out), dtype=np.int64)
        u = j * self.down + self._shift
        base = u // self.up
        phase = u % self.up
        rel = base - (n0 - (self.taps - 1))  # index into buf
        idx = rel[:, None] - np.arange(self.taps)[None, :]
        y = np.einsum("ij,ij->i", buf[idx], self._poly[phase])
        self._n_out += j.shape[0]
        self._n_in += x.shape[0]
        self._hist = buf[-(self.taps - 1) :].copy() if self.taps > 1 else self._hist
        out: np.ndarray = np.clip(np.rint(y), -32768, 32767).astype(np.int16)
        return out


def resample(x: np.ndarray, from_rate: int, to_rate: int, taps: int = 32) -> np.ndarray:
    """Resample a whole int16 mono signal; output length ``round(len(x) * to / from)``, time-aligned."""
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"resample expects a 1-D mono signal, got shape {x.shape}")
    if from_rate == to_rate:
        return x.astype(np.int16, copy=True)
    r = Resampler(from_rate, to_rate, taps)
    n_out = round(x.shape[0] * to_rate / from_rate)
    pad = np.zeros(math.ceil(r.delay_s * from_rate) + 2, dtype=np.int16)
    y = np.concatenate([r.process(x), r.process(pad)])
    return y[:n_out]
