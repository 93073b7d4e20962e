"""Real sessions recorded end to end: VoiceSession (real SDK, loopback socket, our emulator,
WAV mic and capture speaker paced in real time) -> Recorder -> Recording.load -> turn table.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.speech import speech_pcm
from voicelive_nb.audio.wav import CaptureSpeaker, WavMic
from voicelive_nb.config import SessionConfig
from voicelive_nb.events import Local
from voicelive_nb.recording import Recording
from voicelive_nb.session import VoiceSession

from .conftest import API_KEY, ROOT

FRAME_MS = 32.0  # the emulator's VAD frame
PADDING_MS = 300  # SessionConfig's default prefix_padding_ms


@pytest.fixture(scope="module")
def spoken() -> tuple[np.ndarray, list[tuple[float, float]]]:
    # long pauses: on a busy 2-core machine the emulator's ASR + TTS can take seconds per reply
    return speech_pcm([0.4, "What time is it in Tokyo?", 6.0, "And how is the weather there?", 2.0])


@pytest.fixture(scope="module")
def recorded(
    emulator: Any, spoken: tuple[np.ndarray, list[tuple[float, float]]], tmp_path_factory: pytest.TempPathFactory
) -> Recording:
    from voicelive_nb.connection import ConnectionSettings

    pcm, _ = spoken
    folder = tmp_path_factory.mktemp("real") / "session"
    config = SessionConfig(voice="alloy")  # no input transcription: ASR would slow replies on a busy machine
    connection = ConnectionSettings(endpoint=emulator.endpoint, api_key=API_KEY)
    session = VoiceSession(config, connection=connection, mic=WavMic(pcm), speaker=CaptureSpeaker(), record=folder)
    with session:
        since = 0.0
        for _ in range(2):  # both replies played to the end
            since = session.wait_for(Local.PLAYBACK_STOPPED, timeout=60, since=since).t + 1e-6
    return Recording.load(folder)


def test_turn_table_matches_what_was_spoken(
    recorded: Recording, spoken: tuple[np.ndarray, list[tuple[float, float]]]
) -> None:
    _, bounds = spoken
    table = recorded.turns
    assert len(table) == 2
    for (_, row), (start, end) in zip(table.iterrows(), bounds, strict=True):
        assert row["source"] == "speech" and row["status"] == "completed" and not row["interrupted"]
        assert abs(row["start_s"] * 1000 - (start * 1000 - PADDING_MS)) <= FRAME_MS
        assert abs(row["end_s"] * 1000 - end * 1000) <= FRAME_MS
    assert table["assistant_transcript"].tolist() == ["Okay, noted.", "Okay, noted."]


def test_latencies_are_consistent_with_event_timestamps(recorded: Recording) -> None:
    events = recorded.other_events

    def first(type: str, **match: Any) -> dict[str, Any]:
        return next(e for e in events if e["type"] == type and all(e["data"].get(k) == v for k, v in match.items()))

    for _, row in recorded.turns.iterrows():
        info = row[["detection_ms", "response_latency_ms", "playout_ms", "voice_to_voice_ms", "status"]].to_dict()
        stopped = first("input_audio_buffer.speech_stopped", item_id=row["item_id"])
        delta = first("response.audio.delta", response_id=row["response_id"])
        played = first(Local.PLAYBACK_STARTED, response_id=row["response_id"])
        assert row["speech_stopped_rx"] == stopped["t"]
        assert row["response_latency_ms"] == pytest.approx((delta["t"] - stopped["t"]) * 1000)
        assert row["playout_ms"] == pytest.approx((played["t"] - delta["t"]) * 1000)
        latency = played["data"]["output_latency_s"]
        assert row["voice_to_voice_ms"] == pytest.approx((played["t"] + latency - row["speech_end_t"]) * 1000)
        # the emulator waits silence_duration_ms of audio, then answers: every piece is positive and sane
        assert 500 <= row["detection_ms"] < 2000, info
        assert 0 < row["response_latency_ms"] < 5000 and 0 <= row["playout_ms"] < 1000, info
        assert row["voice_to_voice_ms"] == pytest.approx(
            row["detection_ms"] + row["response_latency_ms"] + row["playout_ms"] + latency * 1000
        )
    s = recorded.summary()
    assert s["turns"] == 2 and s["voice_to_voice_ms"]["count"] == 2


def test_tracks_are_what_was_sent_and_played(
    recorded: Recording, spoken: tuple[np.ndarray, list[tuple[float, float]]]
) -> None:
    pcm, bounds = spoken
    assert recorded.rate == 24_000
    n = min(len(pcm), len(recorded.mic))  # the session may stop before the trailing silence was sent
    assert n >= bounds[-1][1] * 24_000
    assert np.array_equal(recorded.mic[:n], pcm[:n])  # every sample sent, in place
    assert len(recorded.assistant) > 0
    for _, row in recorded.turns.iterrows():  # the reply sits where it was played, not before
        at = round(row["first_played_s"] * recorded.assistant_rate)
        before = recorded.assistant[max(0, at - 2400) : at]
        after = recorded.assistant[at : at + 24_000]
        assert not np.abs(before.astype(np.int32)).max(initial=0) > 0
        assert np.abs(after.astype(np.int32)).max() > 1000
        assert row["first_played_s"] > row["end_s"]  # on the mic's clock, after the user stopped
    played = recorded.blocks("speaker")  # every block played is in the track, where the index says
    for placed, n in zip(played["placed"].astype(int)[:50], played["samples"].astype(int)[:50], strict=True):
        assert len(recorded.assistant[placed : placed + n]) == n
    assert played["samples"].sum() <= len(recorded.assistant)


def test_no_secret_in_any_file(recorded: Recording) -> None:
    for path in recorded.path.iterdir():
        assert API_KEY.encode() not in path.read_bytes(), path.name
    session = json.loads((recorded.path / "session.json").read_text())
    assert session["end"] is not None and session["versions"]["voicelive_nb"]
    assert session["transport"] == {"mic": "file", "speaker": "file"}  # (the browser's: "browser")
    assert "api_key" not in json.dumps(session).lower()


KILLED = textwrap.dedent(
    """
    import sys, time
    from tests.speech import speech_pcm
    from voicelive_nb.audio.wav import CaptureSpeaker, WavMic
    from voicelive_nb.connection import ConnectionSettings
    from voicelive_nb.events import Local
    from voicelive_nb.session import VoiceSession
    pcm, _ = speech_pcm([0.3, "Hello, can you hear me?", 2.0, "This one is never finished", 30.0])
    connection = ConnectionSettings(endpoint=sys.argv[2], api_key={key!r})
    session = VoiceSession(connection=connection, mic=WavMic(pcm), speaker=CaptureSpeaker(), record=sys.argv[1])
    session.start()
    session.wait_for(Local.PLAYBACK_STOPPED, timeout=40, since=0)
    session.wait_for("input_audio_buffer.speech_started", timeout=40, since=0,
                     predicate=lambda r: r.data.get("audio_start_ms", 0) > 2500)
    time.sleep(1.5)
    print("ready", flush=True)
    time.sleep(60)
    """
)


def test_session_killed_midway_still_loads(emulator: Any, tmp_path: Path) -> None:
    folder = tmp_path / "killed"
    code = KILLED.format(key=API_KEY)  # run from the repository root: `tests` imports as a package
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder), emulator.endpoint], stdout=subprocess.PIPE,
                            text=True, cwd=ROOT)  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stale headers, a cut last line
        rec = Recording.load(folder)
    assert rec.tracker.turn_count == 2  # the second turn started, never finished
    first, second = rec.tracker.turns
    assert first.status == "completed" and first.voice_to_voice_ms is not None
    assert second.speech_started_rx is not None and second.response_done_rx is None
    assert len(rec.mic) / rec.rate > 4.0 and len(rec.assistant) > 0
    assert json.loads((folder / "session.json").read_text())["end"] is None
    for path in folder.iterdir():
        assert API_KEY.encode() not in path.read_bytes()


def test_barge_in_is_measured_on_the_interrupted_turn(connection: Any, responder: Any, tmp_path: Path) -> None:
    responder.reply = "This is a rather long answer that keeps going and going. " * 5
    pcm, _ = speech_pcm([0.3, "Tell me a long story please.", 3.5, "Stop, wait a moment.", 3.0])
    session = VoiceSession(connection=connection, mic=WavMic(pcm), speaker=CaptureSpeaker(), record=tmp_path / "b")
    try:
        with session:
            flushed = session.wait_for(Local.PLAYBACK_FLUSHED, timeout=40, since=0,
                                       predicate=lambda r: r.get("reason") == "speech_started")  # fmt: skip
            responder.reply = "Okay."  # the second reply (made once the user stops) is short
            session.wait_for(Local.PLAYBACK_STOPPED, timeout=60, since=flushed.t)  # the second reply played
    finally:
        responder.reply = "Okay, noted."
    rec = Recording.load(tmp_path / "b")
    first, second = rec.tracker.turns[:2]
    assert first.interrupted and not second.interrupted
    started = next(
        e for e in rec.other_events
        if e["type"] == "input_audio_buffer.speech_started" and e["data"]["item_id"] == second.item_id
    )  # fmt: skip
    assert first.barge_in_rx == started["t"]
    expected = (flushed.t - started["t"]) * 1000 + flushed.data["stale_ms"]
    assert first.barge_in_stale_ms == pytest.approx(expected, abs=0.01)  # files keep µs
    assert 0 <= first.barge_in_stale_ms < 500  # the flush followed speech_started at once
    assert first.played_ms is not None and 0 < first.played_ms < 60_000
    # in the assistant track the first reply was heard, and its last block ends where it was cut
    rate = rec.assistant_rate
    begin = round((first.first_played - rec.t0) * rate)  # type: ignore[operator]
    cut = round((flushed.t - rec.t0 + flushed.data["stale_ms"] / 1000) * rate)  # type: ignore[operator]
    assert np.abs(rec.assistant[begin:cut].astype(np.int32)).max() > 1000
    blocks = rec.blocks("speaker")
    second_begin = round((second.first_played - rec.t0) * rate)  # type: ignore[operator]
    first_reply = blocks[blocks["placed"] < second_begin]
    assert (first_reply["placed"] + first_reply["samples"]).max() <= cut + 2 * 480  # within a block or two


def test_a_recording_started_and_stopped_mid_session_goes_through_the_session(emulator: Any, tmp_path: Path) -> None:
    """``session.record(folder)`` / ``record(None)``: the one recorder path (the panel's too), key scrubbed."""
    from voicelive_nb.connection import ConnectionSettings

    connection = ConnectionSettings(endpoint=emulator.endpoint, api_key=API_KEY)
    session = VoiceSession(connection=connection, mic=WavMic(np.zeros(24000, dtype=np.int16), loop=True),
                           speaker=CaptureSpeaker())  # fmt: skip
    with session:
        ready = session.wait_for("session.updated", timeout=20, since=0)
        recorder = session.record(tmp_path / "mid")
        assert session.recorder is recorder
        with pytest.raises(RuntimeError, match="already recording"):
            session.record(tmp_path / "other")
        session.send_text("Hello there.")
        session.wait_for("response.done", timeout=30, since=ready.t)
        assert session.record(None) is recorder and recorder is not None and recorder.closed
    folder = tmp_path / "mid"
    rec = Recording.load(folder)
    assert rec.record_count > 0 and any(e["type"] == "response.done" for e in rec.events)
    for name in ("events.jsonl", "session.json"):
        assert API_KEY not in (folder / name).read_text(), name
