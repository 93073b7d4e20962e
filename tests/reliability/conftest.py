"""Fixtures of the reliability tests: an emulator with fault injection, leak guards."""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from tests.emulated import Responder

RATE = 24_000

# Threads that belong to the process, not to one session: they may outlive a test.
_SHARED_PREFIXES = ("voicelive-emulator", "emulator-", "asyncio_", "ThreadPoolExecutor", "pydevd", "Dummy")


@pytest.fixture(scope="module")
def emulator_options() -> dict[str, Any]:
    """No ASR: replies do not depend on what was said."""
    return {"asr": False, "reply": "Sure, here is my answer."}


@pytest.fixture(scope="module")
def replies(responder: Responder) -> Responder:
    """The module's responder, by its name in these tests."""
    return responder


@pytest.fixture
def emu(emulator: Any) -> Iterator[Any]:
    """The module's emulator with no fault armed before and after the test."""
    emulator.faults.reset()
    yield emulator
    emulator.faults.reset()


def session_threads() -> list[threading.Thread]:
    """Live threads that a session (or its audio) owns."""
    return [t for t in threading.enumerate() if t.is_alive() and not t.name.startswith(_SHARED_PREFIXES)]


@pytest.fixture
def no_leaks(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail if the test leaves threads, file descriptors or pending asyncio tasks behind.

    Waits (up to 10 s) for threads to finish; asyncio reports a task destroyed while
    pending, or an exception nobody retrieved, on its logger at ERROR.
    """
    caplog.set_level(logging.WARNING, logger="asyncio")
    before = {t.ident for t in session_threads()}
    fds = len(os.listdir("/proc/self/fd"))
    yield
    gc.collect()
    complaints = [r.getMessage() for r in caplog.records if r.name == "asyncio" and r.levelno >= logging.ERROR]
    assert not complaints, f"asyncio tasks leaked or failed unseen: {complaints}"
    deadline = time.monotonic() + 10.0
    while True:
        extra = [t for t in session_threads() if t.ident not in before]
        if not extra or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not extra, f"threads left running: {[t.name for t in extra]}"
    gc.collect()
    grown = len(os.listdir("/proc/self/fd")) - fds
    assert grown <= 2, f"{grown} file descriptors left open"


def silence(seconds: float = 1.0) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.int16)
