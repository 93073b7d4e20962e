"""Real JupyterLab on loopback, driven by headless Chromium (Debian's) through playwright.

No browser download: playwright's own driver talks to ``/usr/bin/chromium``.  The server
gets private config/runtime/settings folders, an empty token, ``127.0.0.1`` and a free
port, so it never touches the user's Jupyter setup and never reaches the network.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    """A TCP port on loopback that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class JupyterLab:
    """A JupyterLab server process serving ``root`` (see :func:`running_lab`)."""

    def __init__(
        self, root: Path, state: Path, env: dict[str, str | None] | None = None, args: Sequence[str] = ()
    ) -> None:
        self.root = root
        self.state = state
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = state / "jupyterlab.log"
        self._extra_env = env or {}
        self._extra_args = list(args)
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> None:
        """Start the server and wait until its API answers."""
        for sub in ("config", "runtime", "data", "settings/@jupyterlab/apputils-extension", "workspaces"):
            (self.state / sub).mkdir(parents=True, exist_ok=True)
        # Private user settings: no news popup, no update check (both would reach the network).
        (self.state / "settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(self.state / "config"),
            "JUPYTER_RUNTIME_DIR": str(self.state / "runtime"),
            "JUPYTER_PLATFORM_DIRS": "1",
            "PYTHONUNBUFFERED": "1",
        }
        for name, value in self._extra_env.items():  # None removes a variable (kernels inherit it all)
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--port-retries=0",
            f"--ServerApp.root_dir={self.root}",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            "--ServerApp.disable_check_xsrf=True",
            f"--LabApp.user_settings_dir={self.state / 'settings'}",
            f"--LabApp.workspaces_dir={self.state / 'workspaces'}",
            "--LabApp.news_url=",
            "--ServerApp.terminals_enabled=False",
            # window.jupyterapp lets the test run commands (run-all) instead of clicking menus.
            "--LabApp.expose_app_in_browser=True",
            *self._extra_args,
        ]
        log = self.log_path.open("wb")
        self._proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.root)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise TimeoutError(f"JupyterLab did not answer in {timeout} s:\n{self.log_path.read_text()[-3000:]}")

    def api(self, path: str) -> Any:
        """GET ``/api/<path>`` as JSON."""
        with urllib.request.urlopen(f"{self.url}/api/{path}", timeout=5) as resp:
            return json.load(resp)

    def stop(self) -> None:
        """Shut the server (and its kernels) down; kill it if it does not go."""
        proc = self._proc
        if proc is None:
            return
        self._proc = None
        try:
            req = urllib.request.Request(f"{self.url}/api/shutdown", method="POST")
            urllib.request.urlopen(req, timeout=5).close()
        except OSError:
            pass
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@contextmanager
def running_lab(
    root: Path, state: Path, env: dict[str, str | None] | None = None, args: Sequence[str] = ()
) -> Iterator[JupyterLab]:
    """Start JupyterLab on ``root`` (private state under ``state``); stop it afterwards.

    ``env`` changes the server's (and so its kernels') environment; a None value removes a variable.
    ``args`` are more server options.
    """
    lab = JupyterLab(root, state, env, args)
    try:
        lab.start()
        yield lab
    finally:
        lab.stop()


@contextmanager
def chromium_page(
    viewport: tuple[int, int] = (1500, 1100),
    extra_args: Sequence[str] = (),
    ignore_default_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> Iterator[Any]:
    """A playwright page in Debian's headless Chromium (no ``playwright install``).

    ``extra_args`` go on Chromium's command line (e.g. a fake microphone); ``ignore_default_args``
    drops some of playwright's own (``--mute-audio`` to hear the page on a sound server);
    ``env`` is Chromium's environment (default: ours).
    """
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"the browser test needs Debian's Chromium at {CHROMIUM}: apt install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, *extra_args],
            headless=True,
            ignore_default_args=list(ignore_default_args) or None,
            env=env,
        )
        try:
            context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
            page = context.new_page()
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


class LabPage:
    """Notebook-level actions on a JupyterLab page (selectors for JupyterLab 4)."""

    def __init__(self, page: Any, lab: JupyterLab) -> None:
        self.page = page
        self.lab = lab

    def open_notebook(self, name: str, timeout: float = 90.0) -> None:
        """Open ``name`` (relative to the server root) with a fresh workspace; wait for an idle kernel."""
        self.page.goto(f"{self.lab.url}/lab/tree/{name}?reset")
        self.page.wait_for_selector(".jp-Notebook", timeout=timeout * 1000)
        self.wait_idle(timeout)

    def wait_idle(self, timeout: float = 120.0) -> None:
        """Wait for the kernel status in the status bar to read Idle."""
        self.page.wait_for_function(
            "() => [...document.querySelectorAll('.jp-StatusBar-TextItem')]"
            ".some(e => /\\|\\s*Idle/.test(e.textContent))",
            timeout=timeout * 1000,
        )

    def run_all(self, timeout: float = 180.0) -> None:
        """Run every cell (Run menu → Run All Cells) and wait until none is queued or running."""
        self.page.locator(".jp-Notebook").first.click()
        self.page.keyboard.press("Escape")
        self.page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        self.wait_cells_done(timeout)

    def run_first_cells(self, count: int, timeout: float = 120.0) -> None:
        """Run the first ``count`` cells (markdown is rendered), as Shift+Enter would."""
        self.page.evaluate(
            """async (n) => {
                const app = window.jupyterapp;
                const panel = app.shell.currentWidget;
                panel.content.activeCellIndex = 0;
                for (let i = 0; i < n; i++) {
                    await app.commands.execute('notebook:run-cell-and-select-next');
                }
            }""",
            count,
        )
        self.wait_cells_done(timeout)

    def wait_cells_done(self, timeout: float = 180.0) -> None:
        """Wait until no cell shows ``[*]`` and the kernel is idle."""
        self.page.wait_for_function(
            "() => { const p = [...document.querySelectorAll('.jp-InputPrompt')];"
            " return p.length > 0 && !p.some(e => e.textContent.includes('*')); }",
            timeout=timeout * 1000,
        )
        self.wait_idle(timeout)

    def outputs_text(self) -> str:
        """All output areas' text, concatenated."""
        return str(
            self.page.evaluate(
                "() => [...document.querySelectorAll('.jp-OutputArea-output')].map(e => e.innerText).join('\\n')"
            )
        )

    def errors(self) -> list[str]:
        """Texts of error outputs (tracebacks) in the notebook."""
        script = (
            "() => [...document.querySelectorAll("
            "'.jp-RenderedText[data-mime-type=\"application/vnd.jupyter.error\"]')].map(e => e.innerText)"
        )
        return list(self.page.evaluate(script))
