"""The panel in real JupyterLab, driven by headless Chromium, talking through virtual sound devices.

Nothing is mocked: a private PulseAudio daemon provides the mic and speaker, JupyterLab
runs on loopback with its own kernel, the kernel's session talks to the embedded
emulator over a real socket, and a WAV of spoken prompts is played into the virtual mic
while the test watches the page.  Screenshots go to ``tmp_path / "screenshots"``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from .lab import LabPage, chromium_page, running_lab

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

pytestmark = [pytest.mark.browser, pytest.mark.pulse]

_LEAKY = ("AZURE_VOICELIVE_ENDPOINT", "AZURE_VOICELIVE_API_KEY", "AZURE_VOICELIVE_AUTH", "VOICELIVE_NB_HEADLESS")


def _js_text(selector: str) -> str:
    return f"() => [...document.querySelectorAll({selector!r})].map(e => e.innerText).join('\\n')"


@pytest.mark.timeout(420)
def test_quickstart_panel_in_jupyterlab(tmp_path: Path) -> None:
    from voicelive_nb.audio.pulse import VirtualAudio
    from voicelive_nb.speech.prompts import DEMO_PROMPTS, prompts_wav

    shots = tmp_path / "screenshots"
    shots.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOKS / "quickstart.ipynb", root / "quickstart.ipynb")
    speech = prompts_wav(tmp_path / "speech.wav", texts=DEMO_PROMPTS[:2], gap_s=7.0)

    with VirtualAudio() as va:
        # JupyterLab hands its environment to the kernel: drop what would leak from ours.
        env: dict[str, str | None] = {name: None for name in _LEAKY}
        env.update(PULSE_SERVER=va.server, HF_HUB_OFFLINE="1")
        with running_lab(root, tmp_path / "lab-state", env=env) as lab, chromium_page() as page:
            lp = LabPage(page, lab)
            try:
                _drive(lp, page, va, speech, shots)
            except Exception:
                page.screenshot(path=str(shots / "failure.png"), full_page=True)
                raise
    for name in ("1-panel-idle", "2-user-speaking", "3-first-answer", "4-vad-applied", "5-two-turns"):
        assert (shots / f"{name}.png").stat().st_size > 10_000
    keep = os.environ.get("VOICELIVE_NB_KEEP_SHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for png in shots.glob("*.png"):
            shutil.copy(png, Path(keep) / png.name)


def _drive(lp: LabPage, page: Any, va: Any, speech: Path, shots: Path) -> None:
    """Open the quickstart, run the panel cell, connect, talk, tune, disconnect."""
    lp.open_notebook("quickstart.ipynb")
    lp.run_first_cells(2)  # the introduction and the panel cell only
    panel = page.locator(".vlnb-panel")
    panel.wait_for(timeout=60_000)
    assert not lp.errors(), lp.errors()
    page.wait_for_timeout(500)
    panel.screenshot(path=str(shots / "1-panel-idle.png"))
    assert "Not connected" in panel.inner_text()

    # Connect through the button, as a user would.
    panel.locator("button", has_text="Connect").click()
    page.wait_for_function(
        "() => { const s = document.querySelector('.vlnb-status'); return !!s && s.innerText.includes('Connected'); }",
        timeout=60_000,
    )
    # The button follows in the same refresh; give the browser a moment to draw it.
    panel.locator("button", has_text="Disconnect").wait_for(timeout=10_000)
    assert panel.locator("button", has_text="Disconnect").count() == 1

    # Speak into the virtual mic; the mic meter must move and the user indicator light up.
    va.play_into_mic(speech, wait=False)  # the daemon plays it; stopping the daemon ends it
    page.wait_for_function(
        "() => { const n = document.querySelector('.vlnb-meter .vlnb-num'); return n && /dBFS/.test(n.innerText); }",
        timeout=30_000,
    )
    page.wait_for_function("() => !!document.querySelector('.vlnb-speak.on')", timeout=30_000)
    panel.screenshot(path=str(shots / "2-user-speaking.png"))

    # The answer: an assistant line in the transcript, a latency bar, the speaker meter.
    page.wait_for_function(
        "() => [...document.querySelectorAll('.vlnb-assistant')].some(e => e.innerText.length > 12)",
        timeout=90_000,
    )
    page.wait_for_timeout(1500)
    panel.screenshot(path=str(shots / "3-first-answer.png"))
    transcript = page.evaluate(_js_text(".vlnb-tx"))
    assert "hear" in transcript.lower(), transcript

    # Change the silence duration with the keyboard on the slider handle: 500 -> 800 ms.
    row = panel.locator(".vlnb-row-silence_duration_ms")
    handle = row.locator(".noUi-handle").first
    handle.focus()
    for _ in range(6):
        handle.press("ArrowRight")
    page.wait_for_function(
        "() => document.querySelector('.vlnb-row-silence_duration_ms').innerText.includes('applied')",
        timeout=30_000,
    )
    assert row.locator("input").first.input_value() == "800"  # the box beside the slider

    # The event log shows the server's acknowledgement with the new value.
    panel.locator(
        ".jupyter-widget-Collapse-header, .p-Collapse-header, .lm-Collapse-header", has_text="Event log"
    ).first.click()
    page.wait_for_function(
        "() => { const t = document.querySelector('.vlnb-log'); return t &&"
        " /session\\.updated[\\s\\S]*silence_duration_ms\\W+800/.test(t.innerText); }",
        timeout=20_000,
    )
    page.wait_for_timeout(300)
    panel.screenshot(path=str(shots / "4-vad-applied.png"))

    # The second prompt is answered under the new setting too.
    page.wait_for_function("() => document.querySelectorAll('.vlnb-assistant').length >= 2", timeout=90_000)
    page.wait_for_timeout(2500)
    panel.screenshot(path=str(shots / "5-two-turns.png"))
    page.screenshot(path=str(shots / "6-lab-page.png"), full_page=True)

    panel.locator("button", has_text="Disconnect").click()
    page.wait_for_function(
        "() => document.querySelector('.vlnb-status').innerText.includes('Disconnected')", timeout=30_000
    )
    assert not lp.errors(), lp.errors()
