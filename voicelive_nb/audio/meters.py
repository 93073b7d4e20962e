"""Level meters: RMS and peak of an int16 block in dBFS (full scale = 32768), floored at -120."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["FLOOR_DB", "levels"]

FLOOR_DB = -120.0
"""Level reported for digital silence (and anything quieter)."""

_FULL = 32768.0


def levels(block: np.ndarray | bytes) -> tuple[float, float]:
    """``(rms_dbfs, peak_dbfs)`` of int16 samples (array or PCM16 bytes); -120 for silence.

    One pass of vectorized numpy (a dot product and a min/max); about 5-10 us for 480 samples.
    A full-scale square wave reads 0 dBFS RMS; a full-scale sine -3 dBFS.
    """
    x = np.frombuffer(block, dtype="<i2") if isinstance(block, bytes | bytearray | memoryview) else block
    if x.size == 0:
        return FLOOR_DB, FLOOR_DB
    if x.dtype != np.int16:
        raise TypeError(f"levels expects int16 samples, got {x.dtype}")
    f = x.reshape(-1).astype(np.float32)
    ms = float(np.dot(f, f)) / f.size
    peak = float(np.abs(f).max())
    rms_db = 10.0 * math.log10(ms / (_FULL * _FULL)) if ms > 0 else FLOOR_DB
    peak_db = 20.0 * math.log10(peak / _FULL) if peak > 0 else FLOOR_DB
    return max(FLOOR_DB, rms_db), max(FLOOR_DB, peak_db)
