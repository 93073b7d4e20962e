"""Start/stop cycles leave no thread, socket, file descriptor or stream behind."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import psutil
import pytest

from voicelive_nb.audio.wav import CaptureSpeaker, WavMic
from voicelive_nb.connection import ConnectionSettings
from voicelive_nb.events import Local
from voicelive_nb.session import VoiceSession

CYCLES = 100


def _settle(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def _one_cycle(connection: ConnectionSettings, session: VoiceSession | None = None) -> VoiceSession:
    session = session or VoiceSession(
        connection=connection,
        mic=WavMic(np.zeros(2400, dtype=np.int16), loop=True),
        speaker=CaptureSpeaker(),
    )
    session.start()
    session.wait_for("session.updated", timeout=10, since=0)
    session.stop()
    return session


def test_100_start_stop_cycles_leave_nothing_behind(
    emulator: Any, connection: ConnectionSettings, caplog: pytest.LogCaptureFixture
) -> None:
    proc = psutil.Process()
    _one_cycle(connection)  # warm-up: lazy imports, PortAudio-free module state
    assert _settle(lambda: emulator.connections == 0)
    threads0 = {t.ident for t in threading.enumerate()}
    fds0 = proc.num_fds()
    sockets0 = len(proc.net_connections(kind="tcp"))
    t0 = time.monotonic()
    for _ in range(CYCLES):
        session = _one_cycle(connection)
        assert session.state == "closed"
        assert session.records(Local.CONNECTION)[-1].get("state") == "closed"
        assert not session.running
    elapsed = time.monotonic() - t0
    print(f"\n{CYCLES} start/stop cycles in {elapsed:.1f} s ({elapsed / CYCLES * 1000:.0f} ms each)")
    assert not [m for m in caplog.messages if "did not finish" in m]
    assert _settle(lambda: emulator.connections == 0)
    assert _settle(lambda: {t.ident for t in threading.enumerate()} <= threads0), [
        t.name for t in threading.enumerate() if t.ident not in threads0
    ]
    assert _settle(lambda: proc.num_fds() <= fds0 + 2), (fds0, proc.num_fds())
    assert _settle(lambda: len(proc.net_connections(kind="tcp")) <= sockets0)


def test_one_session_object_restarts(connection: ConnectionSettings) -> None:
    session = VoiceSession(connection=connection, mic=np_path_free_mic(), speaker=CaptureSpeaker())
    session.start()
    session.wait_for("session.updated", timeout=10, since=0)
    session.start()  # idempotent while running
    session.stop()
    session.stop()  # idempotent
    first = len(session.records(Local.CONNECTION))
    restarted = time.monotonic()
    session.start()
    session.wait_for(Local.CONNECTION, timeout=10, predicate=lambda r: r.get("state") == "connected", since=restarted)
    session.stop()
    assert len(session.records(Local.CONNECTION)) > first
    assert session.state == "closed"


def test_stop_right_after_start_is_not_lost(connection: ConnectionSettings) -> None:
    for _ in range(5):
        session = VoiceSession(connection=connection, mic=np_path_free_mic(), speaker=CaptureSpeaker())
        session.start()
        session.stop()
        assert not session.running and session.state == "closed"


def np_path_free_mic() -> WavMic:
    return WavMic(np.zeros(480, dtype=np.int16), loop=True)
