"""Fixtures of the recording tests: one real emulator on loopback per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

API_KEY = "rec-test-key-5ecret-0123456789"
"""The emulator requires this key; tests check it never reaches a recording."""


class Responder:
    """The emulator's responder; a test may set ``reply`` (reset to the default per module)."""

    def __init__(self) -> None:
        self.reply = "Okay, noted."

    def __call__(self, transcript: str | None, session: dict[str, Any]) -> str:
        return self.reply


@pytest.fixture(scope="module")
def responder() -> Responder:
    return Responder()


@pytest.fixture(scope="module")
def emulator(responder: Responder) -> Iterator[Any]:
    from voicelive_nb.emulator import Emulator
    from voicelive_nb.emulator.settings import EmulatorSettings

    emu = Emulator(api_key=API_KEY, responder=responder, settings=EmulatorSettings(transcribe_for_responder=False))
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def connection(emulator: Any) -> Any:
    from voicelive_nb.connection import ConnectionSettings

    return ConnectionSettings(endpoint=emulator.endpoint, api_key=API_KEY)
