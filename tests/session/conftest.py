"""Fixtures of the session tests: one real emulator on loopback per module, speech clips."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from tests.speech import speech_pcm


class SwitchableResponder:
    """The emulator's responder; tests set ``reply`` to choose what the assistant says."""

    def __init__(self) -> None:
        self.reply = "Sure."
        self.heard: list[str | None] = []

    def __call__(self, transcript: str | None, session: dict[str, Any]) -> str:
        self.heard.append(transcript)
        return self.reply


@pytest.fixture(scope="module")
def responder() -> SwitchableResponder:
    return SwitchableResponder()


@pytest.fixture(scope="module")
def emulator(responder: SwitchableResponder) -> Iterator[Any]:
    from voicelive_nb.emulator import Emulator
    from voicelive_nb.emulator.settings import EmulatorSettings

    emu = Emulator(responder=responder, settings=EmulatorSettings(transcribe_for_responder=False))
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def connection(emulator: Any) -> Any:
    from voicelive_nb.connection import ConnectionSettings

    emulator.faults.reset()
    return ConnectionSettings(endpoint=emulator.endpoint, api_key="test-key")


def clip(*segments: str | float) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Spoken text and silences at 24 kHz (see tests/speech.py)."""
    return speech_pcm(list(segments))
