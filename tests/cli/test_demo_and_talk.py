"""The demo and talk commands end to end (embedded emulator or an external one), and the notebook demo's kernel env."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.speech import speech_pcm

ROOT = Path(__file__).resolve().parents[2]


def test_demo_one_turn(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from voicelive_nb.cli import main
    from voicelive_nb.emulator import Emulator

    for name in ("AZURE_VOICELIVE_ENDPOINT", "AZURE_VOICELIVE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    with Emulator(api_key="demo-k3y") as emu:
        # The demo resolves its connection like every entry point: here from ./.env (it once
        # ignored the environment and .env and always started its own emulator).
        (tmp_path / ".env").write_text(f"AZURE_VOICELIVE_ENDPOINT={emu.endpoint}\nAZURE_VOICELIVE_API_KEY=demo-k3y\n")
        started = time.monotonic()
        code = main(["demo", "--turns", "1", "--timeout", "90"])  # into the default folder, as the README says
        took = time.monotonic() - started
        connections = emu.total_connections
    out = capsys.readouterr().out
    assert code == 0, out
    assert connections == 1 and f"to {emu.endpoint}" in out, out
    assert "Hello, can you hear me?" in out and "completed" in out
    # the README's paths for the demo's output are real (it once named runs/demo/session)
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"runs/demo-<time>/[\w.]+", readme))
    assert documented >= {"runs/demo-<time>/recording"}, documented
    for path in documented:
        assert list(tmp_path.glob(path.replace("<time>", "*"))), f"README names {path}; the demo wrote none"
    (demo,) = tmp_path.glob("runs/demo-*")
    assert (demo / "speaker.wav").stat().st_size > 44 + 24000
    from voicelive_nb.recording import Recording

    rec = Recording.load(demo / "recording")
    assert len(rec.turns) == 1
    # The demo ends a few seconds after the last answer was played, not at its --timeout
    # (it once ran all 90 s: the prompt mic's `finished` flickered while it kept making silence).
    answered = max(e["t"] for e in rec.events if e["type"] == "playback.stopped")
    assert rec.t0 is not None
    assert len(rec.mic) / 24000 < answered - rec.t0 + 5.0, "the mic track runs on after the last answer"
    assert took < 45.0, f"the one-turn demo took {took:.1f} s"  # typically ~10 s
    # running again into the same folder is refused with a clear message
    assert main(["demo", "--turns", "1", "--out", str(demo)]) == 2
    assert "already holds a recording" in capsys.readouterr().err


def test_talk_cli_prints_turns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from voicelive_nb.audio.wav import write_wav
    from voicelive_nb.cli import main

    for name in ("AZURE_VOICELIVE_ENDPOINT", "AZURE_VOICELIVE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    pcm, _ = speech_pcm([0.3, "Hello there, assistant.", 6.0])
    wav = write_wav(tmp_path / "in.wav", pcm, 24000)
    code = main(["talk", "--mic", str(wav), "--speaker", str(tmp_path / "out.wav"), "--seconds", "8"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "[connected]" in out and "[closed]" in out
    assert "completed" in out  # the turn line with its latencies
    assert (tmp_path / "out.wav").stat().st_size > 44 + 24000


def test_notebook_demo_hands_the_resolved_connection_to_its_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernel runs in the output folder: the .env where the demo was started must still count."""
    from voicelive_nb.cli.demo_notebook import _connection_env

    for name in ("AZURE_VOICELIVE_ENDPOINT", "AZURE_VOICELIVE_API_KEY", "AZURE_VOICELIVE_VOICE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "AZURE_VOICELIVE_ENDPOINT=http://127.0.0.1:9\nAZURE_VOICELIVE_API_KEY=k\nAZURE_VOICELIVE_VOICE=echo\n"
    )
    env = _connection_env(None)
    assert env["AZURE_VOICELIVE_ENDPOINT"] == "http://127.0.0.1:9" and env["AZURE_VOICELIVE_VOICE"] == "echo"
    assert _connection_env("emulator")["AZURE_VOICELIVE_ENDPOINT"] == "emulator"
    with pytest.raises(ValueError, match="no API key"):
        (tmp_path / ".env").write_text(
            "AZURE_VOICELIVE_ENDPOINT=https://x.services.ai.azure.com\nAZURE_VOICELIVE_AUTH=key\n"
        )
        _connection_env(None)


def test_demo_on_a_refused_endpoint_stops_at_once_with_the_cause(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from voicelive_nb.cli import main

    monkeypatch.setenv("AZURE_VOICELIVE_API_KEY", "k")
    monkeypatch.chdir(tmp_path)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    code = main(["demo", "--endpoint", f"http://127.0.0.1:{port}", "--out", str(tmp_path / "d"), "--timeout", "60"])
    assert code == 1
    assert time.monotonic() - started < 10.0  # it used to wait out --timeout
    err = capsys.readouterr().err
    assert f"voicelive-nb demo: Nothing accepts connections at 127.0.0.1:{port} (connection refused)" in err
    # nothing was recorded, so nothing is left behind (it once left the folder with empty files)
    assert not (tmp_path / "d").exists()
    assert main(["demo", "--endpoint", f"http://127.0.0.1:{port}", "--timeout", "60"]) == 1  # runs/demo-<time>
    assert not (tmp_path / "runs").exists(), list(tmp_path.rglob("*"))
    # a folder that was there before stays, with what it held
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    assert main(["demo", "--endpoint", f"http://127.0.0.1:{port}", "--out", str(tmp_path / "mine")]) == 1
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]


def test_talk_on_a_refused_endpoint_leaves_no_recording_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from voicelive_nb.audio.wav import write_wav
    from voicelive_nb.cli import main

    monkeypatch.setenv("AZURE_VOICELIVE_API_KEY", "k3y-for-talk")
    monkeypatch.chdir(tmp_path)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pcm, _ = speech_pcm([0.3, "Hello.", 0.5])
    wav = write_wav(tmp_path / "in.wav", pcm, 24000)
    argv = ["talk", "--endpoint", f"http://127.0.0.1:{port}", "--mic", str(wav), "--speaker", str(tmp_path / "o.wav")]
    assert main([*argv, "--record", str(tmp_path / "rec"), "--seconds", "30"]) == 1
    assert "[failed]" in capsys.readouterr().out
    assert not (tmp_path / "rec").exists()
