"""Fixtures of the recording tests: the shared emulator (tests/emulated.py), requiring a key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

API_KEY = "rec-test-key-5ecret-0123456789"
"""The emulator requires this key; tests check it never reaches a recording."""


@pytest.fixture(scope="module")
def emulator_options() -> dict[str, Any]:
    return {"api_key": API_KEY, "reply": "Okay, noted."}
