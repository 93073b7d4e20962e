"""VoiceSession end to end: the real SDK over a real loopback socket to our real emulator.

Audio goes through the file-backed devices (WavMic paced in real time, CaptureSpeaker
draining the player in real time), so what is asserted is what a listener would hear.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.emulated import Responder
from voicelive_nb.audio.wav import CaptureSpeaker, WavMic
from voicelive_nb.connection import ConnectionSettings
from voicelive_nb.events import EventRecord, Local
from voicelive_nb.session import VoiceSession

from .conftest import clip

BLOCK_MS = 20.0  # CaptureSpeaker/WavMic block: 480 samples at 24 kHz


def of_type(session: VoiceSession, type: str) -> list[EventRecord]:
    return session.records(type)


def test_spoken_turn_reaches_emulator_and_reply_is_heard(
    connection: ConnectionSettings, responder: Responder, tmp_path: Path
) -> None:
    responder.reply = "Hello, I can hear you well."
    pcm, bounds = clip(0.3, "Hello there, how are you today?", 4.0)
    speaker = CaptureSpeaker(tmp_path / "heard.wav")
    session = VoiceSession(connection=connection, mic=WavMic(pcm), speaker=speaker, record=tmp_path / "rec")
    with session:
        stopped = session.wait_for(Local.PLAYBACK_STOPPED, timeout=30, since=0)
        done = session.wait_for("response.done", timeout=10, since=0)
    assert done.data["response"]["status"] == "completed"
    started = session.wait_for("input_audio_buffer.speech_started", timeout=0.1, since=0)
    stopped_speech = session.wait_for("input_audio_buffer.speech_stopped", timeout=0.1, since=0)
    # the server saw the speech where it is in the WAV (audio clock, ms)
    assert abs(started.data["audio_start_ms"] / 1000 - bounds[0][0]) < 0.6
    assert stopped_speech.data["audio_end_ms"] / 1000 > bounds[0][1]
    # the reply was heard: the captured speaker audio holds the whole response, not silence
    heard = speaker.samples
    loud = np.abs(heard.astype(np.int32)) > 300
    assert loud.sum() / 24000 > 0.5
    assert stopped.data["played_ms"] > 500
    assert not of_type(session, "conversation.item.truncate")
    assert session.state == "closed"
    # latencies of the turn were measured
    (turn,) = session.tracker.turns  # type: ignore[union-attr]
    assert turn.response_latency_ms is not None and turn.response_latency_ms > 0
    assert turn.voice_to_voice_ms is not None and 0 < turn.voice_to_voice_ms < 10_000
    # the recording holds both tracks and the events
    from voicelive_nb.recording import Recording

    rec = Recording.load(tmp_path / "rec")
    assert rec.turns is not None
    assert (tmp_path / "rec" / "mic.wav").stat().st_size > 44 + 24000 * 2 * 3
    assert (tmp_path / "rec" / "assistant.wav").stat().st_size > 44 + 24000
    # the API key reached no file
    for path in (tmp_path / "rec").iterdir():
        assert b"test-key" not in path.read_bytes(), path


def test_barge_in_stops_playback_within_one_block_and_truncates(
    connection: ConnectionSettings, responder: Responder
) -> None:
    responder.reply = "This is a rather long answer that keeps going. " * 6
    pcm, _ = clip(0.3, "Tell me a long story please.", 3.2, "Stop, wait a moment.", 3.0)
    speaker = CaptureSpeaker()
    session = VoiceSession(connection=connection, mic=WavMic(pcm), speaker=speaker)
    with session:
        flushed = session.wait_for(
            Local.PLAYBACK_FLUSHED, timeout=30, since=0, predicate=lambda r: r.get("reason") == "speech_started"
        )
        truncated = session.wait_for("conversation.item.truncated", timeout=10, since=0)
        done = session.wait_for("response.done", timeout=30, since=flushed.t, predicate=_completed)
        rid = done.data["response"]["id"]  # the answer to the second question plays out
        session.wait_for(Local.PLAYBACK_STOPPED, timeout=30, since=0, predicate=lambda r: r.get("response_id") == rid)
    truncate = session.wait_for("conversation.item.truncate", timeout=0.1, since=0)
    interrupted_item = flushed.data["item_id"]
    # the truncate names the item being played and the ms actually played
    assert truncate.data["item_id"] == interrupted_item == truncated.data["item_id"]
    assert truncate.data["content_index"] == 0
    assert truncate.data["audio_end_ms"] == int(flushed.data["played_ms"])
    assert flushed.data["played_ms"] > 300  # it was interrupted while playing
    assert flushed.data["dropped_ms"] > 0  # and there was more queued
    # playback stopped within one block: nothing of the item plays after the flush's block
    assert flushed.data["stale_ms"] <= BLOCK_MS + 1
    late = [
        r
        for r in of_type(session, Local.SPEAKER_AUDIO)
        if r.get("item_id") == interrupted_item and r.t >= flushed.t + BLOCK_MS / 1000
    ]
    assert late == []
    # what was played of the item matches the truncate point (to the block)
    chunks = of_type(session, Local.SPEAKER_AUDIO)
    played = sum(r.get("samples") for r in chunks if r.get("item_id") == interrupted_item)
    assert abs(played / 24 - truncate.data["audio_end_ms"]) <= BLOCK_MS + 1
    # the user's second turn got its own, complete answer
    items = {r.get("item_id") for r in of_type(session, Local.PLAYBACK_STARTED)}
    assert len(items) == 2
    speech_started = [r.t for r in of_type(session, "input_audio_buffer.speech_started")]
    assert len(speech_started) == 2 and flushed.t - speech_started[1] < 0.05


def _completed(record: EventRecord) -> bool:
    return record.data.get("response", {}).get("status") == "completed"


def test_update_vad_mid_session_is_acknowledged(connection: ConnectionSettings) -> None:
    silence = np.zeros(24000, dtype=np.int16)
    session = VoiceSession(connection=connection, mic=WavMic(silence, loop=True), speaker=CaptureSpeaker())
    with session:
        session.wait_for("session.updated", timeout=10, since=0)
        future = session.update_vad(silence_duration_ms=900, threshold=0.6)
        result = future.result(timeout=10)
        assert result.ok, result.detail
        assert result.id == future.command_id != ""
        assert result.detail["turn_detection"]["silence_duration_ms"] == 900
        assert result.detail["turn_detection"]["threshold"] == 0.6
        assert session.config.turn_detection is not None
        assert session.config.turn_detection.silence_duration_ms == 900
        ack = session.wait_for(Local.COMMAND, timeout=5, since=0)
        assert ack.data["ok"] and ack.data["command"] == "update_vad" and ack.data["id"] == future.command_id
        # one answer, one record: the config sent on connect was answered by its own session.updated
        assert len(session.records(Local.COMMAND)) == 1
        with pytest.raises(ValueError, match="threshold"):
            session.update_vad(threshold=7)
        # mic audio keeps flowing after the settings changed
        session.wait_for(Local.MIC_AUDIO, timeout=5, since=ack.t, predicate=lambda r: r.get("offset") >= 4800)
    assert session.counters["dropped_blocks"] == 0


def test_send_text_cancel_and_benign_error(connection: ConnectionSettings, responder: Responder) -> None:
    responder.reply = "A long reply that will be cancelled before it ends. " * 4
    session = VoiceSession(
        connection=connection, mic=WavMic(np.zeros(4800, dtype=np.int16), loop=True), speaker=CaptureSpeaker()
    )
    with session:
        session.wait_for("session.updated", timeout=10, since=0)
        session.send_text("Say something long.")
        session.wait_for(Local.PLAYBACK_STARTED, timeout=15, since=0)
        session.cancel_response()
        flushed = session.wait_for(Local.PLAYBACK_FLUSHED, timeout=5, since=0)
        assert flushed.data["reason"] == "cancel"
        session.cancel_response()  # nothing active now: no error reaches the user
        # the server answers in order: once this update is answered, it has dealt with the cancel
        assert session.update_vad(silence_duration_ms=600).result(10).ok
        deadline = time.monotonic() + 10
        while session.assistant_busy:
            assert time.monotonic() < deadline, "the assistant was still busy 10 s after the cancel"
            time.sleep(0.01)
    assert of_type(session, "conversation.item.create")[0].data["item"]["content"][0]["text"] == "Say something long."
    assert [r for r in of_type(session, Local.ERROR) if r.get("where") == "server"] == []


def test_reconnects_after_dropped_socket_and_resends_config(emulator: Any, connection: ConnectionSettings) -> None:
    session = VoiceSession(
        connection=connection, mic=WavMic(np.zeros(4800, dtype=np.int16), loop=True), speaker=CaptureSpeaker()
    )
    with session:
        session.wait_for("session.updated", timeout=10, since=0)
        assert session.update_vad(silence_duration_ms=777).result(10).ok
        t_drop = time.monotonic()
        emulator.faults.drop_after_events = 1
        session.send_text("hello")
        again = session.wait_for(
            "session.updated",
            timeout=15,
            since=t_drop,
            predicate=lambda r: r.data["session"]["turn_detection"]["silence_duration_ms"] == 777,
        )
        states = [r.get("state") for r in of_type(session, Local.CONNECTION)]
        assert "reconnecting" in states and states.count("connected") == 2
        assert again.t > t_drop
        # audio flows again on the new connection
        session.wait_for(Local.MIC_AUDIO, timeout=5, since=again.t)
    assert "drop_after_events" in emulator.faults.fired


def test_refused_handshakes_are_retried(emulator: Any, connection: ConnectionSettings) -> None:
    emulator.faults.refuse_handshakes = 2
    session = VoiceSession(connection=connection, mic=WavMic(np.zeros(4800, dtype=np.int16)), speaker=CaptureSpeaker())
    with session:
        session.wait_for("session.updated", timeout=20, since=0)
    states = [r.get("state") for r in of_type(session, Local.CONNECTION)]
    assert states.count("reconnecting") >= 2 and "failed" not in states


def test_wait_for_on_a_refused_endpoint_raises_the_cause_at_once() -> None:
    """A first connect to a wrong address is not retried, and wait_for says why (it used to sit out
    its whole timeout and raise TimeoutError with the cause only in the log)."""
    import socket

    from voicelive_nb.session import SessionFailedError

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = ConnectionSettings(endpoint=f"http://127.0.0.1:{port}", api_key="k")
    mic = WavMic(np.zeros(480, dtype=np.int16))
    session = VoiceSession(connection=settings, mic=mic, speaker=CaptureSpeaker(), max_failures=5)
    session.start()
    t = time.monotonic()
    with pytest.raises(SessionFailedError, match=f"127.0.0.1:{port} \\(connection refused\\)"):
        session.wait_for("session.updated", timeout=60)
    assert time.monotonic() - t < 5.0
    assert session.state == "failed" and "connection refused" in (session.failure or "")
    failed = session.wait_for(Local.CONNECTION, timeout=1, since=0, predicate=lambda r: r.get("state") == "failed")
    assert failed.get("attempt") == 1
    assert of_type(session, Local.ERROR)
    with pytest.raises(SessionFailedError):  # later calls too, even for records that can no longer come
        session.wait_for("response.done", timeout=60)
    with pytest.raises(RuntimeError, match="start"):
        session.send_text("nobody listens")
    session.stop()
    session.stop()  # idempotent


def test_embedded_emulator_when_no_endpoint(caplog: pytest.LogCaptureFixture) -> None:
    session = VoiceSession(
        connection=ConnectionSettings(), mic=WavMic(np.zeros(4800, dtype=np.int16)), speaker=CaptureSpeaker()
    )
    with caplog.at_level("INFO", logger="voicelive_nb.session"), session:
        session.wait_for("session.updated", timeout=30, since=0)
    # said in the log at INFO (a WARNING is a pink stderr box in a notebook) and in the records
    assert [r.levelname for r in caplog.records if "embedded emulator" in r.getMessage()] == ["INFO"]
    connected = session.wait_for(
        Local.CONNECTION, timeout=0.1, since=0, predicate=lambda r: r.get("state") == "connected"
    )
    assert connected.get("emulator") is True
    info = session.wait_for(Local.SESSION_INFO, timeout=0.1, since=0)
    assert info.data["connection"]["endpoint"].startswith("http://127.0.0.1:")
    assert info.data["connection"]["api_key"] in (None, "****")


def test_mute_sends_silence_and_keeps_the_timeline(connection: ConnectionSettings) -> None:
    tone = (np.sin(np.arange(24000) * 2 * np.pi * 440 / 24000) * 8000).astype(np.int16)
    session = VoiceSession(connection=connection, mic=WavMic(tone, loop=True), speaker=CaptureSpeaker())
    with session:
        session.wait_for("session.updated", timeout=10, since=0)
        loud = session.wait_for(Local.MIC_AUDIO, timeout=5)
        session.mute()
        muted = session.wait_for(Local.MIC_AUDIO, timeout=5, predicate=lambda r: r.get("muted"))
        session.unmute()
        back = session.wait_for(Local.MIC_AUDIO, timeout=5, predicate=lambda r: not r.get("muted"))
    assert loud.get("peak_db") > -20 and not loud.get("muted")
    assert muted.audio == bytes(len(muted.audio)) and muted.get("peak_db") == -120.0
    assert back.get("peak_db") > -20
    offsets = [r.get("offset") for r in session.records(Local.MIC_AUDIO)]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)


def test_socket_dropped_mid_response_recovers(
    emulator: Any, connection: ConnectionSettings, responder: Responder
) -> None:
    responder.reply = "An answer long enough to be cut in the middle of its audio."
    session = VoiceSession(
        connection=connection, mic=WavMic(np.zeros(4800, dtype=np.int16), loop=True), speaker=CaptureSpeaker()
    )
    with session:
        session.wait_for("session.updated", timeout=10, since=0)
        emulator.faults.drop_mid_response = True
        t = time.monotonic()
        session.send_text("first")
        session.wait_for(Local.CONNECTION, timeout=10, since=t, predicate=lambda r: r.get("state") == "reconnecting")
        ready = session.wait_for("session.updated", timeout=15, since=t)
        # what arrived of the cut answer plays out and ends like any other
        session.wait_for(Local.PLAYBACK_STOPPED, timeout=10, since=t)
        session.send_text("second")
        done = session.wait_for("response.done", timeout=15, since=ready.t)
    assert done.data["response"]["status"] == "completed"
    assert "drop_mid_response" in emulator.faults.fired


def test_unavailable_sign_in_fails_at_once_with_advice(emulator: Any) -> None:
    settings = ConnectionSettings(endpoint=emulator.endpoint, auth="azure-cli")
    mic = WavMic(np.zeros(480, dtype=np.int16))
    session = VoiceSession(connection=settings, mic=mic, speaker=CaptureSpeaker(), max_failures=5)
    with session:
        final = session.wait_for(
            Local.CONNECTION, timeout=60, since=0, predicate=lambda r: r.get("state") in ("failed", "connected")
        )
    if final.get("state") == "connected":  # an Azure CLI signed in on this machine: the emulator takes any token
        return
    assert final.get("attempt") == 1  # no pointless retries
    assert "az login" in final.get("detail")
