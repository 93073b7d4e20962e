"""Fixtures of the emulator tests: synthesized speech (shared) and emulators."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from tests.speech import speech_pcm
from voicelive_nb.emulator import Emulator, EmulatorSettings

Speech = tuple[np.ndarray, list[tuple[float, float]]]

# Phrases that start and end on voiced sounds, so the energy boundaries of the WAV and
# Silero's idea of speech agree closely (an initial "s" is invisible to Silero).
TURN = "hello there how are you"
BARGE = "wait a moment"


@pytest.fixture(scope="session")
def turn_speech() -> Speech:
    """One user turn at 24 kHz: 0.7 s silence, speech, 1.5 s silence; with its bounds."""
    return speech_pcm([0.7, TURN, 1.5])


@pytest.fixture(scope="session")
def barge_speech() -> Speech:
    """A short interruption with 1 s of trailing silence."""
    return speech_pcm([0.2, BARGE, 1.0])


@pytest.fixture(scope="module")
def fast_emulator() -> Iterator[Emulator]:
    """An emulator without ASR that sends replies unpaced (shared by a module; faults reset per test)."""
    settings = EmulatorSettings(realtime_factor=0, time_to_first_audio_ms=0)
    with Emulator(settings=settings, asr=False) as emu:
        yield emu


@pytest.fixture
def emu(fast_emulator: Emulator) -> Iterator[Emulator]:
    """The module's fast emulator with no faults armed."""
    fast_emulator.faults.reset()
    yield fast_emulator
    fast_emulator.faults.reset()
