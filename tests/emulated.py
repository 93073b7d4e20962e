"""The one emulator fixture of the test suite: a real emulator on loopback, one per test module.

A folder whose tests want it set up differently overrides ``emulator_options`` in its
conftest (``reply``: what the assistant says by default; ``api_key``: require this key;
``asr``: False to skip speech recognition).  Loaded by tests/conftest.py (``pytest_plugins``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from voicelive_nb.connection import ConnectionSettings
from voicelive_nb.emulator import Emulator, EmulatorSettings

__all__ = ["Responder", "connection", "emulator", "emulator_options", "responder"]

CLIENT_KEY = "test-key"
"""The key sessions send when the emulator requires none."""


class Responder:
    """The emulator's responder: answers ``reply`` (a test may set it); counts calls, keeps what it heard."""

    def __init__(self, reply: str = "Sure.") -> None:
        self.reply = reply
        self.calls = 0
        self.heard: list[str | None] = []

    def __call__(self, transcript: str | None, session: dict[str, Any]) -> str:
        self.calls += 1
        self.heard.append(transcript)
        return self.reply


@pytest.fixture(scope="module")
def emulator_options() -> dict[str, Any]:
    """How this folder's emulator is set up (override in a conftest): ``reply``, ``api_key``, ``asr``."""
    return {}


@pytest.fixture(scope="module")
def responder(emulator_options: dict[str, Any]) -> Responder:
    """The module's responder (a test may change ``reply``; a new module starts from the default)."""
    return Responder(emulator_options.get("reply", "Sure."))


@pytest.fixture(scope="module")
def emulator(responder: Responder, emulator_options: dict[str, Any]) -> Iterator[Emulator]:
    """One real emulator on loopback for the module (replies never wait for recognition)."""
    emu = Emulator(
        api_key=emulator_options.get("api_key"),
        responder=responder,
        settings=EmulatorSettings(transcribe_for_responder=False),
        asr=emulator_options.get("asr"),
    )
    emu.start()
    try:
        yield emu
    finally:
        emu.close()


@pytest.fixture
def connection(emulator: Emulator, emulator_options: dict[str, Any]) -> ConnectionSettings:
    """Settings that reach the module's emulator; no fault is armed."""
    emulator.faults.reset()
    return ConnectionSettings(endpoint=emulator.endpoint, api_key=emulator_options.get("api_key") or CLIENT_KEY)
