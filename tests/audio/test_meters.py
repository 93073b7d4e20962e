"""Level meters."""

from __future__ import annotations

import numpy as np
import pytest

from voicelive_nb.audio.meters import FLOOR_DB, levels


def test_reference_levels() -> None:
    assert levels(np.full(480, -32768, np.int16)) == (0.0, 0.0)
    sine = (32767 * np.sin(np.arange(4800) * 2 * np.pi / 48)).astype(np.int16)
    rms, peak = levels(sine)
    assert rms == pytest.approx(-3.01, abs=0.02) and peak == pytest.approx(0.0, abs=0.01)
    quiet = (sine // 100).astype(np.int16)
    assert levels(quiet)[0] == pytest.approx(-43.0, abs=0.1)


def test_silence_empty_and_bytes() -> None:
    assert levels(np.zeros(480, np.int16)) == (FLOOR_DB, FLOOR_DB)
    assert levels(b"") == (FLOOR_DB, FLOOR_DB)
    one = np.array([1], np.int16)
    assert levels(one.tobytes()) == levels(one)
    assert levels(np.zeros((480, 1), np.int16)) == (FLOOR_DB, FLOOR_DB)


def test_wrong_dtype_is_named() -> None:
    with pytest.raises(TypeError, match="int16"):
        levels(np.zeros(4, np.float32))
