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


def match_after(causes: Sequence[float], effects: Sequence[float], window: float) -> list[float]:
    """For each cause, ms to the first effect at or after it within ``window`` seconds."""
    eff = np.sort(np.asarray(effects, dtype=np.float64))
    out: list[float] = []
    for c in causes:
        j = int(np.searchsorted(eff, c))
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
    by the length of each loss.  Returns (number of steps > half a block, total lost ms).
    """
    if len(t) < 2:
        return 0, 0.0
    tt = np.asarray(t, dtype=np.float64)
    pos = np.concatenate([[0], np.cumsum(np.asarray(n, dtype=np.int64))[:-1]])
    resid = tt - tt[0] - pos / rate
    m = resid.size
    floor = np.array([resid[i : i + window].min() for i in range(m)])
    steps = np.diff(floor)
    half = 0.5 * block / rate
    big = steps[steps > half]
    return int(big.size), float(big.sum() * 1000.0)
