"""Fixtures of the session tests: the shared emulator (tests/emulated.py) with its defaults, speech clips."""

from __future__ import annotations

import numpy as np

from tests.speech import speech_pcm


def clip(*segments: str | float) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Spoken text and silences at 24 kHz (see tests/speech/__init__.py)."""
    return speech_pcm(list(segments))
