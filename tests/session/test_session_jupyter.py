"""VoiceSession inside a real Jupyter kernel (its asyncio loop is running in the cell's thread)."""

from __future__ import annotations

import sys
import textwrap

import nbformat
from nbclient import NotebookClient

CELL = textwrap.dedent(
    """
    import asyncio, threading
    import numpy as np
    from voicelive_nb import VoiceSession
    from voicelive_nb.connection import ConnectionSettings
    from voicelive_nb.audio.wav import CaptureSpeaker, WavMic

    asyncio.get_running_loop()  # the kernel's loop runs here: no asyncio.run() allowed
    threads_before = {t.name for t in threading.enumerate()}
    s = VoiceSession(connection=ConnectionSettings(), mic=WavMic(np.zeros(4800, dtype=np.int16), loop=True),
                     speaker=CaptureSpeaker())
    s.start()
    s.wait_for("session.updated", timeout=60, since=s.started_at)
    s.send_text("hello from the notebook")
    done = s.wait_for("response.done", timeout=30, since=s.started_at)
    ack = s.update_vad(silence_duration_ms=650).result(10)
    s.stop()
    import time
    for _ in range(100):  # the embedded emulator's worker pools wind down without being joined
        left = sorted({t.name for t in threading.enumerate()} - threads_before)
        if not left:
            break
        time.sleep(0.05)
    print("STATUS", done.data["response"]["status"], ack.ok, s.state, left)
    """
)


def test_session_runs_inside_a_jupyter_kernel() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(CELL))
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": "."}})
    client.km = client.create_kernel_manager()
    client.km.kernel_cmd = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    client.execute()
    outputs = nb.cells[0].outputs
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors, errors
    assert "STATUS completed True closed []" in text, text
