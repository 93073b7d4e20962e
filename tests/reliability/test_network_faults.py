"""Network faults injected by the emulator, against the real session over a loopback socket.

Each test arms one fault (``Emulator.faults``), runs a real :class:`VoiceSession` (real SDK,
WavMic paced in real time, CaptureSpeaker draining the player in real time, a Recorder)
and checks what the user sees (``connection.state`` / ``local.error`` records, the
panel's model), that the session recovers or stops with a clear error, that the
recording stays loadable and aligned, and that no thread or task is left behind.
Waits are on records (``wait_for``), never on sleeps.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.emulated import Responder
from voicelive_nb.audio.wav import CaptureSpeaker, WavMic
from voicelive_nb.config import SessionConfig
from voicelive_nb.connection import ConnectionSettings
from voicelive_nb.events import EventRecord, Local
from voicelive_nb.panel.state import PanelState
from voicelive_nb.recording import Recording
from voicelive_nb.session import VoiceSession

from .conftest import RATE, silence

pytestmark = pytest.mark.usefixtures("no_leaks")


def make_session(emu: Any, folder: Path | None, config: SessionConfig | None = None, **kw: Any) -> VoiceSession:
    return VoiceSession(
        config,
        connection=ConnectionSettings(endpoint=emu.endpoint, api_key="reliability-key"),
        mic=WavMic(silence(1.0), loop=True),
        speaker=CaptureSpeaker(max_s=30),
        record=folder,
        **kw,
    )


def state_is(state: str, min_attempt: int = 0) -> Any:
    def match(r: EventRecord) -> bool:
        return r.get("state") == state and int(r.get("attempt") or 0) >= min_attempt

    return match


def completed(r: EventRecord) -> bool:
    return r.data.get("response", {}).get("status") == "completed"


def watch_panel(session: VoiceSession) -> PanelState:
    panel = PanelState()
    session.subscribe(panel.feed)
    return panel


def assert_recording_aligned(folder: Path) -> Recording:
    """The recording loads; its mic track spans the session's time, gaps included (as silence)."""
    rec = Recording.load(folder)
    mic_events = [e for e in rec.events if e["type"] == Local.MIC_AUDIO]
    assert mic_events, "no mic audio was recorded"
    last = mic_events[-1]
    assert rec.t0 is not None
    # the last block's samples end where its send time says (within the pump's jitter)
    expected_end = last["audio"]["offset"] + last["audio"]["samples"]
    assert len(rec.mic) == expected_end
    elapsed = last["t"] - rec.t0
    assert abs(len(rec.mic) / RATE - elapsed) < 0.25, (
        f"mic track is {len(rec.mic) / RATE:.2f} s but {elapsed:.2f} s passed: tracks are misaligned"
    )
    return rec


def no_asyncio_complaints(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r.getMessage() for r in caplog.records if r.name == "asyncio" and r.levelno >= logging.ERROR]
    assert not bad, bad


# --------------------------------------------------------------------------- socket dropped


def test_socket_dropped_mid_response_reconnects_and_restores_config(
    emu: Any, replies: Responder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    replies.reply = "This answer is long enough to be cut off in the middle. " * 3
    config = SessionConfig(voice="alloy").with_vad(silence_duration_ms=700)
    session = make_session(emu, tmp_path / "rec", config)
    panel = watch_panel(session)
    with session:
        session.wait_for("session.updated", timeout=20, since=0)
        result = session.update_vad(silence_duration_ms=850).result(timeout=15)
        assert result.ok, result.detail
        emu.faults.drop_mid_response = True
        session.send_text("Tell me something.")
        lost = session.wait_for(Local.CONNECTION, timeout=20, since=0, predicate=state_is("reconnecting"))
        assert "closed the connection" in lost.get("detail"), lost.data
        back = session.wait_for(Local.CONNECTION, timeout=30, since=lost.t, predicate=state_is("connected", 2))
        restored = session.wait_for("session.updated", timeout=20, since=back.t)
        td = restored.data["session"]["turn_detection"]
        assert td["silence_duration_ms"] == 850, "the live VAD change was not restored after reconnecting"
        assert restored.data["session"]["voice"] in ("alloy", {"type": "openai", "name": "alloy"})
        assert panel.snapshot(time.monotonic()).connection == "connected"
        # the session works again: a full answer, and the mic flows
        session.send_text("And now?")
        done = session.wait_for("response.done", timeout=30, since=restored.t, predicate=completed)
        session.wait_for(Local.MIC_AUDIO, timeout=10, since=done.t)
    assert "drop_mid_response" in emu.faults.fired
    assert session.state == "closed" and not session.running
    rec = assert_recording_aligned(tmp_path / "rec")
    states = [e["data"]["state"] for e in rec.events if e["type"] == Local.CONNECTION]
    assert states[0] == "connecting" and "reconnecting" in states and states[-1] == "closed"
    no_asyncio_complaints(caplog)


def test_socket_dropped_repeatedly_keeps_reconnecting(emu: Any, tmp_path: Path) -> None:
    session = make_session(emu, None)
    with session:
        first = session.wait_for("session.updated", timeout=20, since=0)
        for n in range(3):
            emu.faults.drop_after_events = 1  # the next server event is the last on that socket
            session.send_text(f"drop number {n}")
            lost = session.wait_for(Local.CONNECTION, timeout=20, since=first.t, predicate=state_is("reconnecting"))
            first = session.wait_for("session.updated", timeout=30, since=lost.t)
        assert session.state == "connected"
    assert emu.faults.fired.count("drop_after_events") >= 3


# --------------------------------------------------------------------------- handshake refused


def test_refused_handshakes_are_retried_with_growing_backoff(emu: Any, tmp_path: Path) -> None:
    emu.faults.refuse_handshakes = 2
    session = make_session(emu, tmp_path / "rec", max_failures=5)
    panel = watch_panel(session)
    with session:
        connected = session.wait_for(Local.CONNECTION, timeout=30, since=0, predicate=state_is("connected"))
        ready = session.wait_for("session.updated", timeout=20, since=connected.t)
        session.wait_for(Local.MIC_AUDIO, timeout=10, since=ready.t)
    assert connected.get("attempt") == 3
    retries = [r for r in session.records(Local.CONNECTION) if "retrying in" in str(r.get("detail"))]
    delays = [float(str(r.get("detail")).rsplit("retrying in ", 1)[1].split(" ")[0]) for r in retries]
    assert len(delays) == 2 and delays[1] > delays[0] > 0, delays
    assert "503" in str(retries[0].get("detail")), retries[0].get("detail")
    assert panel.connection == "closed"
    assert_recording_aligned(tmp_path / "rec")


def test_handshake_refused_for_good_stops_with_a_clear_error(emu: Any, tmp_path: Path) -> None:
    emu.faults.refuse_handshakes = -1
    session = make_session(emu, tmp_path / "rec", max_failures=3)
    panel = watch_panel(session)
    session.start()
    try:
        failed = session.wait_for(Local.CONNECTION, timeout=30, since=0, predicate=state_is("failed"))
        session.bus.flush()
        error = session.wait_for(Local.ERROR, timeout=1, since=0)
        # the session thread ends by itself; commands then say plainly that it is not running
        deadline = time.monotonic() + 10
        while session.running and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not session.running
        with pytest.raises(RuntimeError, match="not running"):
            session.send_text("anyone?")
    finally:
        session.stop()
    assert failed.get("attempt") == 3
    assert "503" in error.get("message"), error.get("message")
    snap = panel.snapshot(time.monotonic())
    assert snap.connection == "failed" and "503" in snap.error
    assert session.state == "failed"
    Recording.load(tmp_path / "rec")  # no audio ever flowed, but the folder loads


def test_wrong_api_key_fails_at_once_without_retrying(tmp_path: Path) -> None:
    from voicelive_nb.emulator import Emulator

    with Emulator(api_key="the-right-key-0123", asr=False) as locked:
        session = VoiceSession(
            connection=ConnectionSettings(endpoint=locked.endpoint, api_key="a-wrong-key-4567"),
            mic=WavMic(silence(), loop=True),
            speaker=CaptureSpeaker(max_s=5),
            max_failures=5,
        )
        with session:
            failed = session.wait_for(Local.CONNECTION, timeout=30, since=0, predicate=state_is("failed"))
        assert failed.get("attempt") == 1, "a refused credential must not be retried"
        assert "401" in failed.get("detail") and "API key" in failed.get("detail")
        assert locked.total_connections == 0


# --------------------------------------------------------------------------- server silent


def test_silent_server_is_detected_and_the_session_recovers(emu: Any, tmp_path: Path) -> None:
    emu.faults.silent = True
    session = make_session(emu, tmp_path / "rec", max_failures=10)
    with session:
        error = session.wait_for(Local.ERROR, timeout=40, since=0)
        assert "did not answer" in error.get("message") or "no answer" in error.get("message"), error.data
        emu.faults.silent = False
        session.wait_for("session.updated", timeout=40, since=error.t)
        assert session.state == "connected"


def test_server_going_silent_mid_session_fails_the_command_then_recovers(emu: Any) -> None:
    session = make_session(emu, None)
    with session:
        session.wait_for("session.updated", timeout=20, since=0)
        emu.faults.silent = True
        result = session.update_vad(silence_duration_ms=640, timeout=2.0).result(timeout=15)
        assert not result.ok and "no answer" in str(result.detail)
        emu.faults.silent = False
        result = session.update_vad(silence_duration_ms=660, timeout=10.0).result(timeout=15)
        assert result.ok, f"after the server answers again, commands must work: {result.detail}"
        assert result.detail["turn_detection"]["silence_duration_ms"] == 660


# --------------------------------------------------------------------------- server error events


def test_server_error_events_are_shown_in_plain_words_and_the_session_goes_on(emu: Any, replies: Responder) -> None:
    replies.reply = "One answer at a time, please. " * 3
    session = make_session(emu, None)
    panel = watch_panel(session)
    with session:
        ready = session.wait_for("session.updated", timeout=20, since=0)
        session.send_text("first")
        session.wait_for("response.created", timeout=20, since=ready.t)
        session.send_text("second, while the first is still answering")
        error = session.wait_for("error", timeout=20, since=ready.t)
        shown = session.wait_for(Local.ERROR, timeout=5, since=error.t)
        assert error.data["error"]["code"] == "conversation_already_has_active_response"
        assert "still answering" in shown.get("message")
        assert "still answering" in panel.snapshot(time.monotonic()).error
        emu.faults.fail_next_response = "the model is overloaded"
        session.wait_for("response.done", timeout=30, since=ready.t, predicate=completed)
        session.send_text("third")
        failed = session.wait_for(
            "response.done", timeout=30, since=error.t, predicate=lambda r: r.data["response"]["status"] == "failed"
        )
        assert "response failed" in panel.snapshot(time.monotonic()).error.lower()
        session.send_text("fourth")
        session.wait_for("response.done", timeout=30, since=failed.t, predicate=completed)
        assert session.state == "connected"


# --------------------------------------------------------------------------- slow consumer


def test_delayed_and_reordered_server_events_still_give_complete_answers(emu: Any, replies: Responder) -> None:
    replies.reply = "Slow but sure."
    emu.faults.delay_ms = 300
    emu.faults.reorder = True
    session = make_session(emu, None)
    with session:
        ready = session.wait_for("session.updated", timeout=30, since=0)
        session.send_text("hello")
        session.wait_for(Local.PLAYBACK_STOPPED, timeout=40, since=ready.t)
        done = session.wait_for("response.done", timeout=30, since=ready.t)
    assert done.data["response"]["status"] == "completed"
    assert session.counters.get("dropped_blocks", 0) == 0


def test_a_slow_observer_never_stalls_audio_or_loses_records(emu: Any, tmp_path: Path) -> None:
    """A plot that blocks the event bus for 3 s: the mic, socket and recording carry on."""
    session = make_session(emu, tmp_path / "rec")
    release = threading.Event()
    blocked = threading.Event()

    def slow_plot(record: EventRecord) -> None:
        if record.type == Local.MIC_AUDIO and not blocked.is_set():
            blocked.set()
            release.wait(3.0)

    session.subscribe(slow_plot)
    with session:
        ready = session.wait_for("session.updated", timeout=20, since=0)
        assert blocked.wait(10)
        time.sleep(3.0)  # the observer holds the bus; this is the fault, not a wait for it
        release.set()
        session.wait_for(Local.COUNTERS, timeout=10, since=ready.t + 3.5)
        counters = dict(session.counters)
    assert session.bus.dropped == 0
    assert counters["dropped_blocks"] == 0 and counters["input_overflows"] == 0
    assert_recording_aligned(tmp_path / "rec")
