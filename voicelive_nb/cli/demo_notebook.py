"""Run a shipped notebook headless, end to end, and report on the session it recorded.

This is what ``make demo`` does with ``notebooks/quickstart.ipynb``: the notebook runs in a
real Jupyter kernel (nbclient) with ``VOICELIVE_NB_HEADLESS=1`` -- the mic is a WAV of spoken
prompts, the speaker a capture, the endpoint the bundled emulator unless one is configured --
inside the output folder, so its recording lands there too.  Afterwards the executed notebook,
the recording, a report image and the per-turn latency table are in that folder.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import TextIO

__all__ = ["run_notebook_demo"]


def _connection_env(endpoint: str | None) -> dict[str, str]:
    """``AZURE_VOICELIVE_*`` variables for the kernel: the settings resolved here (args > env > .env)."""
    from voicelive_nb.connection import ENV_PREFIX, ConnectionSettings, read_sources

    ConnectionSettings.resolve(endpoint=endpoint)  # a bad endpoint or missing key is refused here, clearly
    src = read_sources()
    if endpoint is not None:
        src["endpoint"] = endpoint
    return {ENV_PREFIX + name.upper(): value for name, value in src.items()}


def run_notebook_demo(
    notebook: Path, out: Path, *, timeout: float = 300.0, log: TextIO = sys.stdout, endpoint: str | None = None
) -> int:
    """Execute ``notebook`` headless in ``out``; write ``report.png``; print the turn table.

    The kernel runs in ``out``, so the connection is resolved here, where the command was
    started (``endpoint``, else the environment, else ``./.env``), and handed to the kernel as
    ``AZURE_VOICELIVE_*`` variables.  Returns 0 when the notebook ran and recorded at least
    one answered turn, else 1.
    """
    try:
        import nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError
    except ImportError as exc:
        raise ValueError(
            f"running a notebook needs nbclient and ipykernel ({exc}): pip install 'voicelive-nb[dev]'"
        ) from None

    from voicelive_nb.recording.recording import Recording
    from voicelive_nb.report.html import report_png, summary_text

    notebook = Path(notebook)
    if not notebook.is_file():
        raise ValueError(f"--notebook {notebook}: no such notebook")
    out.mkdir(parents=True, exist_ok=True)
    target = out / notebook.name
    shutil.copy(notebook, target)
    nb = nbformat.read(target, as_version=4)  # type: ignore[no-untyped-call]  # (nbformat: untyped)
    kernel_env = {**os.environ, **_connection_env(endpoint), "VOICELIVE_NB_HEADLESS": "1"}
    print(f"demo: running {notebook} headless in a Jupyter kernel; output in {out}", file=log, flush=True)
    started = time.monotonic()
    client = NotebookClient(nb, timeout=int(timeout), kernel_name="python3", resources={"metadata": {"path": str(out)}})
    failed: str | None = None
    try:
        client.execute(env=kernel_env)
    except CellExecutionError as exc:
        failed = str(exc).strip().splitlines()[-1] if str(exc).strip() else "a cell failed"
    finally:
        nbformat.write(nb, target)  # type: ignore[no-untyped-call]
    print(
        f"demo: notebook {'failed: ' + failed if failed else 'ran'} in {time.monotonic() - started:.0f} s "
        f"(executed copy: {target})",
        file=log,
    )
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                print("  | " + output.get("text", "").rstrip().replace("\n", "\n  | "), file=log)
    folders = sorted(out.glob("recordings/*/events.jsonl"), key=lambda p: p.stat().st_mtime)
    if not folders:
        print("demo: the notebook recorded no session", file=log)
        return 1
    rec = Recording.load(folders[-1].parent)
    png = report_png(rec, out / "report.png")
    print("\n" + summary_text(rec), file=log)
    print(f"recording: {rec.path}\nreport:    {png}", file=log)
    answered = int((rec.turns["first_played"].notna()).sum()) if len(rec.turns) else 0
    return 0 if failed is None and answered > 0 else 1
