"""Recorder -> folder -> Recording round trips with synthetic records (real files, no sockets)."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

from voicelive_nb.events import EventRecord, Local
from voicelive_nb.metrics import TurnTracker
from voicelive_nb.recording import Recorder, Recording, scrub
from voicelive_nb.recording.files import read_wav

from .synth import BLOCK, RATE, SyntheticSession

SECRETS = ("sk-SECRET", "tok-SECRET", "Bearer")


def record(folder: Path, synth: SyntheticSession, **kw: object) -> Recorder:
    rec = Recorder(folder, **kw)  # type: ignore[arg-type]
    for r in synth.records:
        rec(r)
    rec.close()
    return rec


def test_round_trip_tracks_events_and_turns(tmp_path: Path) -> None:
    synth = SyntheticSession([(1.0, 2.5), (5.0, 6.2)], duration=10).build()
    rec = record(tmp_path / "s", synth, config={"voice": "alloy", "api_key": "sk-SECRET-2"})
    assert rec.t0 == pytest.approx(synth.t_start)
    loaded = Recording.load(tmp_path / "s")
    assert loaded.rate == RATE
    assert np.array_equal(loaded.mic, synth.mic)  # what was sent, sample exact
    # what was played lands where it was played on the mic clock: 1 ms tolerance
    assert synth.reply is not None
    for exp in synth.expected:
        played = synth.t_start + exp.speech_end + (500 + 40 + 200 + 30) / 1000 - synth.t_start
        start = round(played * RATE)
        seg = loaded.assistant[start : start + len(synth.reply)]
        assert np.array_equal(seg, synth.reply)
        assert not loaded.assistant[start - 48 : start - 24].any()  # silence before it
    assert len(loaded.events) == len(synth.records)
    direct = TurnTracker().feed_all(synth.records).turns
    table = loaded.turns
    assert len(table) == 2
    assert list(table["response_latency_ms"]) == pytest.approx([t.response_latency_ms for t in direct])
    assert list(table["voice_to_voice_ms"]) == pytest.approx([e.voice_to_voice_ms for e in synth.expected])
    assert list(table["start_s"]) == [1.0, 5.0]
    s = loaded.summary()
    assert s["turns"] == 2 and s["duration_s"] == pytest.approx(10.0, abs=0.1)
    session = json.loads((tmp_path / "s" / "session.json").read_text())
    assert session["end"] is not None and session["input_rate"] == RATE
    assert loaded.config == {"voice": "alloy"}  # from session.info, secret dropped
    assert "Recording(" in repr(loaded)


def test_audio_lines_reference_tracks(tmp_path: Path) -> None:
    synth = SyntheticSession([(1.0, 2.0)], duration=4).build()
    record(tmp_path / "s", synth)
    lines = [json.loads(x) for x in (tmp_path / "s" / "events.jsonl").read_text().splitlines()]
    mic = [x for x in lines if x["type"] == Local.MIC_AUDIO]
    assert mic[3]["audio"] == {"track": "mic", "offset": 3 * BLOCK, "samples": BLOCK}
    spk = [x for x in lines if x["type"] == Local.SPEAKER_AUDIO]
    offsets = [x["audio"]["offset"] for x in spk]
    assert offsets == sorted(offsets) and all(b - a == BLOCK for a, b in itertools.pairwise(offsets))
    assert {"t", "wall", "kind", "type", "data"} <= set(lines[0])


def test_no_secret_reaches_any_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_VOICELIVE_API_KEY", "envkey-0123456789abcdef")
    synth = SyntheticSession([(1.0, 2.0)], duration=3).build()
    synth.records.append(
        EventRecord(
            2000.0, 0.0, "local", Local.ERROR, {"message": "auth failed for envkey-0123456789abcdef", "where": "x"}
        )
    )
    record(tmp_path / "s", synth, info={"token": "tok-SECRET", "mic": "wav"})
    for f in (tmp_path / "s").iterdir():
        text = f.read_bytes().decode("latin-1")
        for secret in (*SECRETS, "envkey-0123456789abcdef"):
            assert secret not in text, f"{secret} in {f.name}"


def test_scrub_is_recursive_and_case_insensitive() -> None:
    got = scrub({"A": {"API-Key": 1, "Authorization": "x", "ok": [{"token": 2, "v": 3}]}, "_private": 1})
    assert got == {"A": {"ok": [{"v": 3}]}}


def test_folder_with_a_recording_is_refused(tmp_path: Path) -> None:
    Recorder(tmp_path).close()
    with pytest.raises(FileExistsError, match="choose a new folder"):
        Recorder(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a recording folder"):
        Recording.load(tmp_path / "nothing")


def test_empty_recording_loads(tmp_path: Path) -> None:
    Recorder(tmp_path).close()
    loaded = Recording.load(tmp_path)
    assert len(loaded.mic) == 0 and len(loaded.turns) == 0 and loaded.t0 is None


def test_truncated_files_load_with_warnings(tmp_path: Path) -> None:
    synth = SyntheticSession([(1.0, 2.0)], duration=4).build()
    record(tmp_path, synth)
    ev = tmp_path / "events.jsonl"
    ev.write_bytes(ev.read_bytes()[:-40])  # cut mid-line
    mic = tmp_path / "mic.wav"
    data = mic.read_bytes()
    mic.write_bytes(data[:-1001])  # cut mid-sample, header now lies
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = Recording.load(tmp_path)
        assert len(loaded.events) == len(synth.records) - 1
    messages = " ".join(str(w.message) for w in caught)
    assert "truncated last line" in messages and "header says" in messages
    assert len(loaded.mic) == (len(data) - 1001 - 44) // 2


def test_read_wav_rejects_non_wav(tmp_path: Path) -> None:
    p = tmp_path / "x.wav"
    p.write_bytes(b"hello world, not a wav")
    with pytest.raises(ValueError, match="not a WAV file"):
        read_wav(p)


KILLED = textwrap.dedent(
    """
    import os, sys, time
    from voicelive_nb.events import EventRecord, Local
    from voicelive_nb.recording import Recorder
    rec = Recorder(sys.argv[1], flush_interval=0.05)
    block = bytes(range(256)) * 3 + bytes(192)
    t = time.monotonic()
    n = 0
    while True:
        n += 1
        rec(EventRecord(t + n * 0.02, time.time(), "local", Local.MIC_AUDIO,
            {"samples": 480, "rate": 24000, "offset": (n - 1) * 480, "rms_db": -20.0, "peak_db": -10.0},
            block))
        rec(EventRecord(t + n * 0.02, time.time(), "server", "response.audio_transcript.delta",
            {"response_id": "r", "delta": "x" * 200}))
        if n == 200:
            print("ready", flush=True)
        time.sleep(0.0005)
    """
)


def test_recorder_killed_with_sigkill_still_loads(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    folder = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(folder)], stdout=subprocess.PIPE, text=True, cwd=root)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = Recording.load(folder)
    assert len(loaded.mic) >= 100 * 480
    blocks = len(loaded.mic) // 480
    expect = np.frombuffer(bytes(range(256)) * 3 + bytes(192), dtype="<i2")
    assert np.array_equal(loaded.mic[: blocks * 480].reshape(blocks, 480)[:-1], np.tile(expect, (blocks - 1, 1)))
    assert len(loaded.events) >= 200
    assert json.loads((folder / "session.json").read_text())["end"] is None


def test_audio_lines_in_another_layout_still_load(tmp_path: Path) -> None:
    lines = []
    for i in range(100):  # key order differs from the Recorder's canonical layout
        lines.append({"kind": "local", "type": "mic.audio", "wall": 0.0, "t": 50.0 + (i + 1) * 0.02,
                      "data": {"offset": i * 480, "samples": 480, "rate": 24000, "rms_db": None},
                      "audio": {"samples": 480, "offset": i * 480, "track": "mic"}})  # fmt: skip
    lines.append({"t": 51.5, "wall": 0.0, "kind": "server", "type": "input_audio_buffer.speech_started",
                  "data": {"audio_start_ms": 200, "item_id": "i"}})  # fmt: skip
    lines.append({"t": 51.9, "wall": 0.0, "kind": "server", "type": "input_audio_buffer.speech_stopped",
                  "data": {"audio_end_ms": 1000, "item_id": "i"}})  # fmt: skip
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    loaded = Recording.load(tmp_path)
    blocks = loaded.blocks("mic")
    assert len(blocks) == 100 and blocks["rms_db"].isna().all() and blocks["offset"].iloc[-1] == 99 * 480
    assert loaded.t0 == pytest.approx(50.0)
    (turn,) = loaded.tracker.turns
    assert turn.speech_end_t == pytest.approx(51.0) and turn.detection_ms == pytest.approx(900.0)
    assert len(loaded.event_table("input_audio_buffer.speech_started")) == 1
    assert len(loaded.event_table()) == 102


def test_compare_puts_two_recordings_side_by_side(tmp_path: Path) -> None:
    fast = SyntheticSession([(1.0, 2.0)], duration=4, first_delta_ms=100).build()
    slow = SyntheticSession([(1.0, 2.0), (2.5, 3.0)], duration=4, first_delta_ms=400).build()
    record(tmp_path / "fast", fast)
    record(tmp_path / "slow", slow)
    table = Recording.compare(tmp_path / "fast", Recording.load(tmp_path / "slow"), names=("fast", "slow"))
    assert list(table.columns) == ["fast", "slow"]
    assert table.loc["turns", "fast"] == 1 and table.loc["turns", "slow"] == 2
    assert table.loc["response_latency_ms p50", "fast"] == pytest.approx(100.0)
    assert table.loc["response_latency_ms p50", "slow"] == pytest.approx(400.0)


def test_assistant_audio_before_any_mic_audio_keeps_tracks_aligned(tmp_path: Path) -> None:
    reply = np.full(BLOCK, 1000, dtype=np.int16).tobytes()
    mic = np.full(BLOCK, 7, dtype=np.int16).tobytes()
    with Recorder(tmp_path) as rec:  # e.g. send_text answered before the mic started
        rec(EventRecord(10.0, 0.0, "local", Local.SPEAKER_AUDIO, {"samples": BLOCK, "rate": RATE}, reply))
        for i in range(3):
            rec(EventRecord(10.52 + i * 0.02, 0.0, "local", Local.MIC_AUDIO,
                            {"samples": BLOCK, "rate": RATE, "offset": i * BLOCK, "captured_t": 10.5 + i * 0.02},
                            mic))  # fmt: skip
    loaded = Recording.load(tmp_path)
    assert loaded.t0 == pytest.approx(10.0)
    assert loaded.assistant[0] == 1000 and len(loaded.assistant) == BLOCK
    shift = round(0.5 * RATE)  # mic sample 0 was captured 0.5 s after t0
    assert not loaded.mic[:shift].any() and (loaded.mic[shift : shift + 3 * BLOCK] == 7).all()
    assert loaded.blocks("mic")["placed"].tolist() == [shift, shift + BLOCK, shift + 2 * BLOCK]
    assert loaded._mic_shift_s() == pytest.approx(0.5)


def test_malformed_audio_record_keeps_its_line_and_the_recording_goes_on(tmp_path: Path) -> None:
    pcm = bytes(2 * BLOCK)
    with Recorder(tmp_path) as rec:
        rec(EventRecord(1.0, 0.0, "local", Local.MIC_AUDIO, {"samples": BLOCK, "rate": RATE, "offset": "x"}, pcm))
        rec(EventRecord(1.02, 0.0, "local", Local.MIC_AUDIO, {"samples": BLOCK, "rate": RATE, "offset": 0}, pcm))
    assert rec.skipped_audio == 1 and rec.records == 2
    loaded = Recording.load(tmp_path)
    assert loaded.record_count == 2 and len(loaded.mic) == BLOCK


def test_discard_if_empty_removes_only_a_finished_recording_of_nothing(tmp_path: Path) -> None:
    from voicelive_nb.recording.recorder import discard_if_empty

    def local(state: str) -> EventRecord:
        return EventRecord.now("local", Local.CONNECTION, {"state": state})

    # a session that never connected: local records only, no audio -> removed with its folder
    with Recorder(tmp_path / "never") as rec:
        rec(local("connecting"))
        rec(local("failed"))
    assert discard_if_empty(tmp_path / "never") and not (tmp_path / "never").exists()
    # anything of the service's, or any audio, or still open, or someone else's file: kept
    with Recorder(tmp_path / "served") as rec:
        rec(EventRecord.now("server", "session.created", {}))
    synth = SyntheticSession([(1.0, 2.0)], duration=3).build()
    record(tmp_path / "audio", synth)
    open_rec = Recorder(tmp_path / "open")
    with Recorder(tmp_path / "mine") as rec:
        rec(local("failed"))
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    try:
        for name in ("served", "audio", "open"):
            before = sorted(p.name for p in (tmp_path / name).iterdir())
            assert not discard_if_empty(tmp_path / name), name
            assert sorted(p.name for p in (tmp_path / name).iterdir()) == before, name
        assert discard_if_empty(tmp_path / "mine")  # the recorder's files go, the folder and the note stay
        assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]
    finally:
        open_rec.close()
    assert not discard_if_empty(tmp_path / "nothing-here")
