"""Pure functions that turn the probe's timestamps into the bench's figures (no I/O).

All inputs are monotonic seconds; outputs are milliseconds.  Kept apart from the
I/O so tests/latency can check the arithmetic on synthetic timestamps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Stat:
    """Median / p95 / count of a list of milliseconds (NaN when empty)."""

    median: float
    p95: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Stat:
        if not values:
            return cls(float("nan"), float("nan"), 0)
        a = np.asarray(values, dtype=np.float64)
        return cls(float(np.median(a)), float(np.percentile(a, 95)), int(a.size))

    def text(self) -> str:
        if self.n == 0:
            return "n/a"
        return f"{self.median:6.1f} / {self.p95:6.1f}"


def match_after(causes: Sequence[float], effects: Sequence[float], window: float, lead: float = 0.0) -> list[float]:
    """For each cause, ms to the first effect at or after it within ``window`` seconds.

    ``lead``: effects up to this many seconds *before* the cause still count (the result
    is then negative): when the true delay is about as small as the instruments'
    resolution, a strict "after" would skip the real effect and match the next one.
    """
    eff = np.sort(np.asarray(effects, dtype=np.float64))
    out: list[float] = []
    for c in causes:
        j = int(np.searchsorted(eff, c - lead))
        if j < eff.size and eff[j] - c <= window:
            out.append(float(eff[j] - c) * 1000.0)
    return out


def match_before(effects: Sequence[float], causes: Sequence[float], window: float) -> list[float]:
    """For each effect, ms since the latest cause at or before it within ``window`` seconds."""
    cau = np.sort(np.asarray(causes, dtype=np.float64))
    out: list[float] = []
    for e in effects:
        j = int(np.searchsorted(cau, e, side="right")) - 1
        if j >= 0 and e - cau[j] <= window:
            out.append(float(e - cau[j]) * 1000.0)
    return out


def mic_gaps(t: Sequence[float], n: Sequence[int], rate: int, block: int, window: int = 50) -> tuple[int, float]:
    """Gaps in a captured mic track from its blocks' capture times and sizes.

    A block's *residual* is its capture time minus where the samples before it say it
    should be.  Scheduling jitter delays a block's stamp for a while (the residual rises,
    then falls back); lost audio shifts every later block for good.  The forward-looking
    minimum of the residual (over ``window`` blocks) ignores the jitter and steps up
    by the length of each loss.  Returns (number of steps > 3/4 block, total lost ms): the loss unit is a block, and
    smaller steps are the device's latency estimate moving, not lost audio.
    """
    if len(t) < 2:
        return 0, 0.0
    tt = np.asarray(t, dtype=np.float64)
    pos = np.concatenate([[0], np.cumsum(np.asarray(n, dtype=np.int64))[:-1]])
    resid = tt - tt[0] - pos / rate
    m = resid.size
    floor = np.array([resid[i : i + window].min() for i in range(m)])
    steps = np.diff(floor)
    half = 0.75 * block / rate
    big = steps[steps > half]
    return int(big.size), float(big.sum() * 1000.0)


def content_gaps(track: np.ndarray, loop: np.ndarray, chunk: int = 2400) -> tuple[int, float, int, float]:
    """Gaps in a recorded mic track that captured a looped stimulus, found by content.

    The virtual mic path is bit-exact, so once the track is aligned with the loop every
    chunk must equal the loop at the predicted position.  A chunk that does not is
    re-located by cross-correlation; the change of alignment is audio that went missing
    (or was inserted).  A loud chunk found nowhere in the loop is a dropout spliced into
    the chunk (one gap per run).  Quiet chunks that cannot be located wait for the next
    loud chunk.

    Returns (gaps, ms missing, chunks checked, ms inserted).  Inserted audio (the track
    runs *behind* the loop) means the stimulus itself stalled, not the client.
    """
    x = np.asarray(track, dtype=np.int16)
    lp = np.asarray(loop, dtype=np.int16)
    n_loop = lp.shape[0]
    ext = np.concatenate([lp, lp[:chunk]])
    phase: int | None = None  # loop position of track sample 0, modulo the loop
    gaps = 0
    moved = 0
    inserted = 0
    checked = 0
    corrupt = False  # inside a run of loud chunks that match nowhere
    for start in range(0, x.shape[0] - chunk + 1, chunk):
        c = x[start : start + chunk]
        if phase is not None:
            pos = (start + phase) % n_loop
            if np.array_equal(c, ext[pos : pos + chunk]):
                checked += 1
                corrupt = False
                continue
        if np.abs(c).max() < 1000:
            continue  # too quiet to locate; the next loud chunk will tell
        found = _locate(c, ext, n_loop)
        if found is None:
            if phase is not None and not corrupt:
                gaps += 1  # a dropout or glitch inside the chunk (silence or garbage spliced in)
                corrupt = True
            continue
        new_phase = (found - start) % n_loop
        if phase is not None and new_phase != phase:
            d = (new_phase - phase) % n_loop
            d = d if d <= n_loop // 2 else d - n_loop
            gaps += 0 if corrupt else 1  # the splice's own chunk already counted it
            moved += d  # > 0: audio missing from the track; < 0: inserted (the stimulus stalled)
            inserted += max(0, -d)
        corrupt = False
        phase = new_phase
        checked += 1
    missing = moved + inserted
    return gaps, missing * 1000.0 / 24000.0, checked, inserted * 1000.0 / 24000.0


def _locate(c: np.ndarray, ext: np.ndarray, n_loop: int) -> int | None:
    """Loop position where chunk ``c`` occurs exactly (FFT correlation, then exact check)."""
    a = ext.astype(np.float64)
    b = c.astype(np.float64)
    size = 1 << int(np.ceil(np.log2(a.shape[0] + b.shape[0])))
    corr = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)[:n_loop]
    for pos in np.argsort(corr)[-5:][::-1]:
        p = int(pos)
        if np.array_equal(ext[p : p + c.shape[0]], c):
            return p
    return None
