"""The demo CLI end to end (embedded emulator), prompts, and mic/speaker argument resolution."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voicelive_nb.session import VoiceSession
from voicelive_nb.session_devices import make_sink, make_source


def test_demo_one_turn(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from voicelive_nb.cli import main

    code = main(["demo", "--turns", "1", "--out", str(tmp_path / "demo"), "--timeout", "90"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Hello, can you hear me?" in out and "completed" in out
    assert (tmp_path / "demo" / "speaker.wav").stat().st_size > 44 + 24000
    from voicelive_nb.recording import Recording

    rec = Recording.load(tmp_path / "demo" / "recording")
    assert len(rec.turns) == 1
    # running again into the same folder is refused with a clear message
    assert main(["demo", "--turns", "1", "--out", str(tmp_path / "demo")]) == 2
    assert "already holds a recording" in capsys.readouterr().err


def test_prompt_mic_delivers_clip_then_silence_then_finishes() -> None:
    from voicelive_nb.prompts import PromptMic

    mic = PromptMic(tail_s=0.1)
    mic.say(np.full(960, 1000, dtype=np.int16))
    blocks = [mic._next_block() for _ in range(3)]
    assert [int(b.max()) for b in blocks] == [1000, 1000, 0]
    mic.close()
    for _ in range(5):
        mic._next_block()
    assert mic.finished


def test_mic_and_speaker_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from voicelive_nb.audio.wav import CaptureSpeaker, WavMic, write_wav

    wav = write_wav(tmp_path / "in.wav", np.zeros(4800, dtype=np.int16), 24000)
    assert isinstance(make_source(str(wav)), WavMic)
    assert isinstance(make_source(wav), WavMic)
    assert isinstance(make_sink(str(tmp_path / "out.wav")), CaptureSpeaker)
    monkeypatch.setenv("VOICELIVE_NB_HEADLESS", "1")
    assert isinstance(make_source(None), WavMic)
    assert isinstance(make_sink(None), CaptureSpeaker)
    with pytest.raises(ValueError, match="no such WAV file"):
        VoiceSession(mic=str(tmp_path / "missing.wav"))
    with pytest.raises(ValueError, match="AudioSink"):
        VoiceSession(speaker=object())
    with pytest.raises(ValueError, match="SessionConfig"):
        VoiceSession(config={"voice": "alloy"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_failures"):
        VoiceSession(max_failures=0)


def test_talk_cli_prints_turns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from voicelive_nb.audio.wav import write_wav
    from voicelive_nb.cli import main

    from .conftest import clip

    for name in ("AZURE_VOICELIVE_ENDPOINT", "AZURE_VOICELIVE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    pcm, _ = clip(0.3, "Hello there, assistant.", 6.0)
    wav = write_wav(tmp_path / "in.wav", pcm, 24000)
    code = main(["talk", "--mic", str(wav), "--speaker", str(tmp_path / "out.wav"), "--seconds", "8"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "[connected]" in out and "[closed]" in out
    assert "completed" in out  # the turn line with its latencies
    assert (tmp_path / "out.wav").stat().st_size > 44 + 24000
