"""``voicelive-nb talk`` as a real process on the virtual sound devices: it stops on SIGINT and
SIGTERM whatever it inherited, closes the session and leaves a complete recording.

A background job of a non-interactive shell (``voicelive-nb talk --record r &`` in a script)
starts with SIGINT ignored, so Python's KeyboardInterrupt never comes; SIGTERM's default
ends the process at once, with the recording unfinished.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.emulated import CLIENT_KEY
from tests.speech import speech_pcm
from voicelive_nb.emulator import Emulator

pytestmark = pytest.mark.pulse


@pytest.fixture(scope="module")
def emulator_options() -> dict[str, Any]:
    return {"asr": False, "reply": "Yes, I hear you well."}


def _ignore_sigint() -> None:  # runs in the child before exec, as a non-interactive shell does for `&`
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _Lines:
    """The child's stdout, line by line, read on a thread (waits have deadlines)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert proc.stdout is not None
        stdout = proc.stdout
        threading.Thread(target=self._read, args=(stdout,), daemon=True).start()

    def _read(self, stdout: Any) -> None:
        for line in stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line with {text!r} within {timeout} s; got: {''.join(self.seen)}") from None
            if line is None:
                raise AssertionError(f"output ended before {text!r}: {''.join(self.seen)}")
            self.seen.append(line)
            if text in line:
                return line

    def rest(self, timeout: float = 10.0) -> str:
        while True:
            try:
                line = self._queue.get(timeout=timeout)
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
        return "".join(self.seen)


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_talk_stops_on_signal_with_sigint_ignored_and_keeps_the_recording(
    virtual_audio: Any, emulator: Emulator, tmp_path: Path, signame: str
) -> None:
    va = virtual_audio
    folder = tmp_path / "rec"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # PULSE_* point at the virtual devices (the fixture set them)
    env.update(AZURE_VOICELIVE_ENDPOINT=emulator.endpoint, AZURE_VOICELIVE_API_KEY=CLIENT_KEY)
    argv = ["talk", "--mic", va.input_device, "--speaker", va.output_device, "--record", str(folder)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "voicelive_nb.cli", *argv],
        cwd=tmp_path,  # no stray .env
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ignore_sigint,
    )
    try:
        lines = _Lines(proc)
        lines.wait_for("[connected]", timeout=60)
        pcm, _ = speech_pcm([0.3, "Hello there, can you hear me?", 0.8])
        va.play_into_mic(pcm, wait=True)
        lines.wait_for("completed", timeout=60)  # one turn answered and played
        sent = time.monotonic()
        proc.send_signal(getattr(signal, signame))
        proc.wait(30)
        took = time.monotonic() - sent
        out = lines.rest()
        err = proc.stderr.read() if proc.stderr is not None else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print(f"\ntalk stopped {took:.2f} s after {signame}")
    assert proc.returncode == 0, err
    assert "[closed]" in out and "stopped" in out, out
    assert took < 15.0, took  # typically ~0.5 s; a bound against a hang, not a benchmark
    assert "Traceback" not in err, err
    # the recording is complete: finalised session.json, both tracks, the events to the close
    session = json.loads((folder / "session.json").read_text())
    assert session["end"] is not None, session
    from voicelive_nb.recording import Recording

    rec = Recording.load(folder)
    assert session["samples"]["mic"] == len(rec.mic) > 24000
    assert session["samples"]["assistant"] == len(rec.assistant) > 12000
    states = [e["data"].get("state") for e in rec.events if e["type"] == "connection.state"]
    assert states[-1] == "closed", states
    assert list(rec.turns["status"]) == ["completed"]
