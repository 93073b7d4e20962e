"""Replays and VAD sweeps against the real emulator (real SDK over loopback)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.speech import speech_pcm
from voicelive_nb.cli import main as cli_main
from voicelive_nb.config import SessionConfig
from voicelive_nb.events import EventRecord, Local
from voicelive_nb.recording import Recorder, Recording
from voicelive_nb.tuning.replay import ReplayMic, replay, vad_sweep

FRAME_MS = 32.0
RATE = 24_000
BLOCK = 480


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Recording, list[tuple[float, float]]]:
    """A recording whose mic track holds two utterances 1.5 s apart (no session needed to make it)."""
    pcm, bounds = speech_pcm([0.5, "Please book a table for two.", 1.5, "At eight tonight.", 0.5])
    folder = tmp_path_factory.mktemp("src") / "original"
    t = 500.0
    config = SessionConfig(voice="alloy").to_dict()  # no input transcription: faster replays
    with Recorder(folder, config=config) as rec:
        pcm = np.concatenate([pcm, np.zeros((-len(pcm)) % BLOCK, dtype=np.int16)])
        for off in range(0, len(pcm), BLOCK):
            data = {"samples": BLOCK, "rate": RATE, "offset": off, "rms_db": -30.0, "peak_db": -20.0}
            rec(EventRecord(t + (off + BLOCK) / RATE, 0.0, "local", Local.MIC_AUDIO, data,
                            pcm[off : off + BLOCK].tobytes()))  # fmt: skip
    return Recording.load(folder), bounds


def test_replay_mic_unpaced_hands_out_everything() -> None:
    mic = ReplayMic(np.arange(1000, dtype=np.int16), 24_000, speed=math.inf, tail_silence_s=0)
    assert mic.read() is None  # not started
    mic.start()
    blocks = []
    while (item := mic.read()) is not None:
        blocks.append(item[0])
    assert mic.finished and len(blocks) == 3 and np.array_equal(np.concatenate(blocks)[:1000], np.arange(1000))
    with pytest.raises(ValueError, match="speed must be > 0"):
        ReplayMic(np.zeros(10, dtype=np.int16), 24_000, speed=0)


def test_replay_finds_the_turns_where_they_were_spoken(
    source: tuple[Recording, list[tuple[float, float]]], connection: Any, tmp_path: Path
) -> None:
    original, bounds = source
    result = replay(original, connection=connection, out=tmp_path / "r", speed=4.0)
    assert result.config is not None and result.config["voice"] == original.config["voice"]  # type: ignore[index]
    table = result.turns
    assert len(table) == 2
    padding = result.config["turn_detection"]["prefix_padding_ms"]  # type: ignore[index]
    for (_, row), (start, end) in zip(table.iterrows(), bounds, strict=True):
        assert abs(row["start_s"] * 1000 - (start * 1000 - padding)) <= FRAME_MS
        assert abs(row["end_s"] * 1000 - end * 1000) <= FRAME_MS
    # no echo cancellation: nothing played the answers into this mic, and the server's canceller,
    # modelling each answer from its first delta, moved the second turn's start by 2-22 ms from run to run
    assert original.config["input_audio_echo_cancellation"]  # type: ignore[index]
    assert result.config.get("input_audio_echo_cancellation") is None
    updated = [e for e in result.events if e["type"] == "session.updated"]
    assert updated and all(e["data"]["session"].get("input_audio_echo_cancellation") is None for e in updated)
    # the new recording is a complete recording of its own, marked as a replay
    assert np.array_equal(result.mic[: len(original.mic)], original.mic)
    session = json.loads((tmp_path / "r" / "session.json").read_text())
    assert session["replay"]["of"] == str(original.path) and session["replay"]["speed"] == 4.0
    with pytest.raises(ValueError, match="silence_duration_ms"):
        replay(original, connection=connection, out=tmp_path / "bad", silence_duration_ms=-5)


def test_vad_sweep_tabulates_turns_per_setting(
    source: tuple[Recording, list[tuple[float, float]]], connection: Any, tmp_path: Path
) -> None:
    original, _ = source
    table = vad_sweep(original.path, {"silence_duration_ms": [500, 2500]}, connection=connection,
                      out=tmp_path / "sweep", speed=4.0, progress=False)  # fmt: skip
    shown = table.drop(columns="folder").to_string()
    assert table["silence_duration_ms"].tolist() == [500, 2500]
    assert table["turns"].tolist() == [2, 1], shown  # a 1.5 s pause splits turns only under 1.5 s of silence
    assert table.attrs["original_turns"] == 0  # the source recording was never sent to a server
    assert all(Path(f).is_dir() for f in table["folder"])
    assert table["detection_ms_p50"].iloc[0] >= (500 - FRAME_MS) / 4, shown  # 500 ms of audio sent at 4x
    # a table people read: whole ms, and it says the times were taken at 4x
    assert all(isinstance(v, int) for v in table["detection_ms_p50"].dropna()), shown
    assert table.attrs["speed"] == 4.0 and "at 4x real time" in table.attrs["note"]
    with pytest.raises(ValueError, match="non-empty list"):
        vad_sweep(original, {"threshold": []}, connection=connection)
    with pytest.raises(ValueError):
        vad_sweep(original, {"threshold": [0.5, 7.0]}, connection=connection)  # refused before any run


def test_replay_cli_single_run(
    source: tuple[Recording, list[tuple[float, float]]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original, _ = source
    out = tmp_path / "cli"
    assert cli_main(["replay", str(original.path), "--silence-ms", "600", "--speed", "4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "original" in printed and "replay" in printed and f"wrote {out}" in printed
    assert "Times measured with the audio sent at 4x real time" in printed
    assert Recording.load(out).tracker.turn_count == 2
    assert cli_main(["replay", str(tmp_path / "missing")]) == 2
