"""Fixtures for the notebook tests: a clean headless environment for executed notebooks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

# Settings that would send a test to Azure (or change its audio) if they leaked in from the shell.
_LEAKY = ("AZURE_VOICELIVE_ENDPOINT", "AZURE_VOICELIVE_API_KEY", "AZURE_VOICELIVE_AUTH", "PULSE_SERVER")


@pytest.fixture
def headless_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Environment for a kernel that runs a notebook headless against the embedded emulator."""
    for name in _LEAKY:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VOICELIVE_NB_HEADLESS", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield dict(os.environ)
