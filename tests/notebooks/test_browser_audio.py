"""Browser audio in real JupyterLab: Chromium's fake microphone talks to the emulator through the page.

Nothing is mocked: JupyterLab runs on loopback with its own kernel, headless Chromium plays
a spoken WAV as its microphone (``--use-file-for-fake-audio-capture``), the page's worklets
capture and play, the widget comm carries the audio, and the kernel's session talks to the
local emulator over a real socket.  What the page plays is tapped inside its playback
worklet (playwright mutes Chromium's output) and sent back to the kernel.

Kernel-side facts come back in a JSON file written by the notebook's last cell.
"""

from __future__ import annotations

import itertools
import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voicelive_nb.audio.browser.serverext import NODELAY_MARK

from .lab import LabPage, chromium_page, running_lab

pytestmark = [pytest.mark.browser]

RATE = 48000
FAKE_MIC = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
_LEAKY = ("AZURE_VOICELIVE_ENDPOINT", "AZURE_VOICELIVE_API_KEY", "AZURE_VOICELIVE_AUTH", "VOICELIVE_NB_HEADLESS")
ANSWER = "Paris is the capital of France. " + (
    "It is a large and old city on the river Seine, famous for its museums, its cafes and its bridges. " * 3
)

TALK_CELLS = [
    f"""import json, time
from voicelive_nb import SessionConfig, VoiceSession
from voicelive_nb.connection import ConnectionSettings
from voicelive_nb.emulator import Emulator
from voicelive_nb.audio.browser import BrowserAudioLink
emu = Emulator(responder=lambda text, session: {ANSWER!r}).start()
link = BrowserAudioLink(tap=True)
link""",
    """session = VoiceSession(SessionConfig(transcription_model="whisper-1"),
                       connection=ConnectionSettings(endpoint=emu.endpoint, api_key="k"),
                       mic=link.mic(), speaker=(speaker := link.speaker()), record="rec", history=50000)
session.start()""",
    """session.wait_for("mic.audio", timeout=30, since=session.started_at)  # the page's mic is on
t_sleep = [time.monotonic()]; time.sleep(3); t_sleep.append(time.monotonic())""",
    """truncate = session.wait_for("conversation.item.truncate", timeout=20, since=session.started_at)
deadline = time.monotonic() + 10   # until the tap covers 0.6 s after the page went silent
while time.monotonic() < deadline and not (speaker.page_flushes and link.taps
                                           and link.taps[-1][0] > speaker.page_flushes[0]["sw"] + 600):
    time.sleep(0.05)
session.stop()
def recs(kind):
    return [{"t": r.t, **dict(r.data)} for r in session.records(kind)]
done = "conversation.item.input_audio_transcription.completed"
facts = {
    "stats": link.stats(), "page": link.page, "sleep": t_sleep,
    "transcripts": [r.data.get("transcript") for r in session.records(done)],
    "flushed": recs("playback.flushed"), "truncates": recs("conversation.item.truncate"),
    "mic": [(r.t, r.data["captured_t"]) for r in session.records("mic.audio")],
    "page_events": speaker.page_events, "page_flushes": speaker.page_flushes,
    "errors": recs("local.error"), "counters": session.counters,
    "taps": [(tw, rate, p.hex()) for tw, rate, p in link.taps],
}
with open("facts.json", "w") as f:
    json.dump(facts, f, default=str)
emu.close()
print("facts written")""",
]


def _notebook(path: Path, cells: list[str]) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def _speech_wav(path: Path) -> tuple[float, float]:
    """The fake mic: a question, a pause long enough for the answer to start, then speech over it.

    Returns (end of the question, start of the barge-in speech), seconds into the file.
    """
    from voicelive_nb.audio.wav import write_wav
    from voicelive_nb.speech.prompts import synthesize

    def silence(s: float) -> np.ndarray:
        return np.zeros(round(s * RATE), dtype=np.int16)

    question = synthesize("What is the capital of France?", RATE)
    interrupt = synthesize("Stop, stop. Wait a moment please.", RATE)
    parts = [silence(1.0), question, silence(6.5), interrupt, silence(6.0)]
    write_wav(path, np.concatenate(parts), RATE)  # 16-bit PCM mono: a format Chromium's fake mic reads
    q_end = 1.0 + question.size / RATE
    return q_end, q_end + 6.5


def _run_cell(page: Any, index: int) -> None:
    page.evaluate(
        """(i) => { const app = window.jupyterapp; app.shell.currentWidget.content.activeCellIndex = i;
                    return app.commands.execute('notebook:run-cell'); }""",
        index,
    )


def _tap(facts: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """What the page rendered: samples and each sample's page wall time (ms)."""
    pcm, times = [], []
    for tw, rate, hexed in facts["taps"]:
        x = np.frombuffer(bytes.fromhex(hexed), dtype="<i2")
        pcm.append(x)
        times.append(float(tw) + np.arange(x.size) * 1000.0 / float(rate))
    return np.concatenate(pcm), np.concatenate(times)


@pytest.mark.timeout(300)
def test_talk_through_the_browser(tmp_path: Path) -> None:
    """Question -> emulator transcript; answer heard in the page; barge-in cuts it; the truncate
    carries the page's count of what was heard; a sleeping cell does not stall the mic."""
    root = tmp_path / "root"
    root.mkdir()
    _notebook(root / "talk.ipynb", TALK_CELLS)
    wav = tmp_path / "say.wav"
    _speech_wav(wav)
    env: dict[str, str | None] = {name: None for name in _LEAKY}
    env["HF_HUB_OFFLINE"] = "1"
    args = [*FAKE_MIC, f"--use-file-for-fake-audio-capture={wav}%noloop", "--autoplay-policy=no-user-gesture-required"]
    # a server without voicelive-nb's server extension (as when the server runs from another environment
    # than the kernel): kernel -> page messages wait for delayed ACKs, everything still works
    no_ext = ["--ServerApp.jpserver_extensions={'voicelive_nb': False}"]
    with (
        running_lab(root, tmp_path / "lab-state", env=env, args=no_ext) as lab,
        chromium_page(extra_args=args) as page,
    ):
        lp = LabPage(page, lab)
        try:
            lp.open_notebook("talk.ipynb")
            _run_cell(page, 0)
            lp.wait_cells_done()
            page.wait_for_function("() => window.__vlnbAudio && window.__vlnbAudio.helloDone", timeout=30_000)
            _run_cell(page, 1)  # the session starts: the page opens the (fake) mic, the WAV starts
            lp.wait_cells_done()
            _run_cell(page, 2)  # time.sleep(3) while the question is spoken
            lp.wait_cells_done()
            page.wait_for_function("() => window.__vlnbAudio.stats.flushes >= 1", timeout=90_000)
            _run_cell(page, 3)
            lp.wait_cells_done()
            assert "facts written" in lp.outputs_text(), lp.outputs_text()[-3000:]
            assert not lp.errors(), lp.errors()
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            shutil.copy(lab.log_path, tmp_path / "lab.log")
            raise
        assert NODELAY_MARK not in lab.log_path.read_text()
    facts = json.loads((root / "facts.json").read_text())
    stats = facts["stats"]
    assert not facts["errors"], facts["errors"]
    assert stats["transport"] == "binary" and stats["state"] in ("running", "stopped"), stats

    # the spoken question reached the emulator
    first = (facts["transcripts"] or [""])[0].lower()
    assert "capital" in first and "france" in first, facts["transcripts"]

    # the answer was heard in the page, then the barge-in cut it at once (the tap shows what was
    # heard: it holds each block until heard, and zeroes what the cut kept from being heard)
    (flush,) = [f for f in facts["page_flushes"] if isinstance(f.get("g"), int)][:1]
    assert isinstance(flush.get("cut"), (int, float)) and flush["sw"] <= flush["cut"], flush  # cut, not faded
    # rendered, not heard: what the output path held at the cut (its latency, at most ~0.3 s)
    assert 0 <= flush["rendered"] - flush["g"] <= 0.3 * 24000, flush
    pcm, times = _tap(facts)
    loud = np.flatnonzero(np.abs(pcm) > 300)
    assert loud.size, "the page never played the answer"
    heard_from = times[loud[0]]
    heard_ms = flush["sw"] - heard_from
    assert heard_ms > 1000, f"only {heard_ms:.0f} ms of the answer played before the barge-in"
    after = (times > flush["sw"] + 1.0) & (times < flush["sw"] + 400.0)
    assert after.sum() > 10_000 and not pcm[after].any(), "the page kept playing after the flush"

    # the truncate carries what the page's listener heard of the item, not what was sent or rendered
    (flushed,) = facts["flushed"]
    assert flushed["played_by"] == "device", flushed
    # the answer is the first audio on the link: its first sample is g = 0 (a restart after an
    # underrun also reports "started", so do not take the latest one)
    started_g = min(g for kind, g, _ in facts["page_events"] if kind == "started")
    page_ms = (flush["g"] - started_g) * 1000.0 / 24000
    (truncate,) = facts["truncates"]
    assert truncate["item_id"] == flushed["item_id"]
    assert abs(truncate["audio_end_ms"] - page_ms) <= 1.0, (truncate, page_ms)
    # the tap agrees, less the time the page waited to rebuffer after running dry (if it did)
    events = sorted(((t, kind) for kind, _, t in facts["page_events"]), key=lambda e: e[0])
    waits = [b[0] - a[0] for a, b in itertools.pairwise(events) if (a[1], b[1]) == ("underrun", "started")]
    assert abs(truncate["audio_end_ms"] - (heard_ms - 1000.0 * sum(waits))) < 150, (truncate, heard_ms, waits)
    assert flush["dropped"] > 0  # there was audio queued at the page that it never played

    # the sleeping cell did not hold the mic: blocks kept reaching the socket during it
    assert stats["routed"] == "subshell", stats
    t0, t1 = facts["sleep"]
    sent = np.array([t for t, _ in facts["mic"]])
    during = sent[(sent > t0) & (sent < t1)]
    assert during.size > 0.8 * 50 * (t1 - t0), during.size
    assert np.diff(during).max() < 1.0, np.diff(during).max()  # (held by the main shell: 3 s; calm: ~0.1 s)
    assert stats["mic_stale_messages"] == 0 and stats["mic_gap_frames"] == 0, stats

    # rates stayed within the limits each way
    assert stats["rx_max_per_s"] <= 25 and stats["tx_max_per_s"] <= 25, stats


def _cdp_eval(cdp: Any, expression: str) -> Any:
    """Evaluate in the page without a user gesture (playwright's evaluate grants one)."""
    reply = cdp.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
    if "exceptionDetails" in reply:
        raise RuntimeError(f"page error: {reply['exceptionDetails']}")
    return reply["result"].get("value")


def _cdp_wait(cdp: Any, expression: str, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = _cdp_eval(cdp, expression)
        if last:
            return last
        time.sleep(0.2)  # polling the page through CDP (no event to wait on without a gesture)
    raise TimeoutError(f"{what}: not seen in {timeout:g} s (last: {last!r})")


STATE_CELLS = [
    """import json, time
from voicelive_nb.audio.browser import BrowserAudioLink
from voicelive_nb.audio.player import Player
link = BrowserAudioLink(force_base64=True)
speaker = link.speaker()
speaker.start(Player())   # the page is asked to open its audio as soon as it says hello
link""",
    """mic = link.mic()
mic.start()""",
    "time.sleep(3)",
    """mic.stop(); speaker.stop()
with open("facts.json", "w") as f:
    json.dump({"stats": link.stats(), "history": link.history, "overflows": mic.overflows}, f)
print("facts written")""",
]


def _append_and_run(page: Any, code: str) -> None:
    """Add a code cell at the end of the open notebook and run it."""
    page.evaluate(
        """(code) => { const app = window.jupyterapp; const nb = app.shell.currentWidget.content;
            nb.activeCellIndex = nb.widgets.length - 1;
            app.commands.execute('notebook:insert-cell-below');
            nb.activeCell.model.sharedModel.setSource(code);
            app.commands.execute('notebook:run-cell'); }""",
        code,
    )


_STATE = "(() => { const e = document.querySelector('.vlnb-browser-audio'); return e ? e.dataset.state : null; })()"


@pytest.mark.timeout(240)
def test_page_states_without_gesture_and_busy_kernel(tmp_path: Path) -> None:
    """No user gesture: the page says audio is suspended and asks for a click; a click starts it.
    With comms on the main shell, a busy cell pauses the mic (the page says so) and the kernel
    drops the audio that arrives late; base64 fallback on both directions throughout.  Last, the
    notebook opened over plain http to a LAN name says why there is no mic and what to do."""
    root = tmp_path / "root"
    root.mkdir()
    _notebook(root / "states.ipynb", STATE_CELLS)
    state = tmp_path / "lab-state"
    settings = state / "settings/@jupyterlab/apputils-extension"
    settings.mkdir(parents=True)
    # comms on the main shell, as with kernels that have no subshells (ipykernel < 7, Colab, VS Code)
    (settings / "kernels-settings.jupyterlab-settings").write_text(json.dumps({"commsOverSubshells": "disabled"}))
    wav = tmp_path / "tone.wav"
    from voicelive_nb.audio.wav import write_wav

    insecure = "vlnb-insecure.test"  # a LAN-style name for 127.0.0.1: plain http there is not a secure origin

    t = np.arange(RATE * 30) / RATE
    write_wav(wav, (3000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16), RATE)
    env: dict[str, str | None] = {name: None for name in _LEAKY}
    args = [
        *FAKE_MIC,
        f"--use-file-for-fake-audio-capture={wav}",  # (and no autoplay flag: a gesture is needed)
        f"--host-resolver-rules=MAP {insecure} 127.0.0.1",
    ]
    server_args = [
        "--ServerApp.allow_remote_access=True",  # (accept the Host header; still on loopback)
    ]
    with running_lab(root, state, env=env, args=server_args) as lab, chromium_page(extra_args=args) as page:
        cdp = page.context.new_cdp_session(page)
        try:
            page.goto(f"{lab.url}/lab/tree/states.ipynb?reset")
            _cdp_wait(cdp, "!!document.querySelector('.jp-Notebook') && !!window.jupyterapp", 90, "the notebook")
            _cdp_wait(
                cdp,
                "[...document.querySelectorAll('.jp-StatusBar-TextItem')].some(e => /\\|\\s*Idle/.test(e.textContent))",
                90,
                "an idle kernel",
            )
            run = (  # (not awaited: the command's promise ends with the cell)
                "(() => { const app = window.jupyterapp; app.shell.currentWidget.content.activeCellIndex = %d;"
                " app.commands.execute('notebook:run-cell'); return true; })()"
            )
            _cdp_eval(cdp, run % 0)  # a speaker only: nothing but a gesture can start the AudioContext
            assert _cdp_wait(cdp, f"{_STATE} === 'suspended'", 60, "the suspended state")
            text = _cdp_eval(cdp, "document.querySelector('.vlnb-ba-status').innerText")
            assert "click" in text.lower(), text
            assert _cdp_eval(cdp, "document.querySelector('.vlnb-ba-start').innerText") == "Click to start audio"
            time.sleep(1.0)  # it stays so: nothing resumes the context behind the user's back
            assert _cdp_eval(cdp, f"{_STATE} === 'suspended' && window.__vlnbAudio.ctx.state === 'suspended'")

            page.locator(".vlnb-ba-start").click()  # a trusted click: the context may run now
            _cdp_wait(cdp, f"{_STATE} === 'running'", 30, "running after the click")
            _cdp_eval(cdp, run % 1)  # the mic too
            _cdp_wait(cdp, "window.__vlnbAudio.capture && window.__vlnbAudio.stats.acks > 2", 30, "acks for mic audio")
            # a barge-in's cut suspends and resumes the playback context with no new gesture (it ran
            # before), is never the user-visible 'suspended' state, and leaves the mic's context alone
            _cdp_eval(cdp, "window.__vlnbAudio.receive({t: 'flush', fid: 999}, []), true")
            _cdp_wait(
                cdp,
                "window.__vlnbAudio.stats.cuts === 1 && !window.__vlnbAudio.cutting"
                " && window.__vlnbAudio.stats.flushes === 1 && window.__vlnbAudio.ctx.state === 'running'",
                10,
                "the playback context resumed after a cut",
            )
            assert _cdp_eval(cdp, f"{_STATE} === 'running' && window.__vlnbAudio.cctx.state === 'running'")
            since_click = _cdp_eval(
                cdp, "window.__vlnbAudio.history.slice(window.__vlnbAudio.history.findIndex(h => h[1] === 'running'))"
            )
            assert all(state == "running" and ctx == "running" for _, state, ctx in since_click), since_click

            _cdp_eval(cdp, run % 2)  # time.sleep(3) on the main shell, which also handles the comm
            _cdp_wait(cdp, f"{_STATE} === 'busy'", 10, "the busy state during the sleep")
            busy_text = _cdp_eval(cdp, "document.querySelector('.vlnb-ba-status').innerText")
            assert "kernel busy" in busy_text and "mic paused" in busy_text, busy_text
            _cdp_wait(cdp, f"{_STATE} === 'running'", 30, "running again after the sleep")
            acks = _cdp_eval(cdp, "window.__vlnbAudio.stats.acks")
            _cdp_wait(cdp, f"window.__vlnbAudio.stats.acks > {acks + 2}", 30, "mic audio taken again")
            _cdp_wait(
                cdp,
                "![...document.querySelectorAll('.jp-InputPrompt')].some(e => e.textContent.includes('*'))",
                30,
                "the sleep cell to finish",
            )
            _cdp_eval(cdp, run % 3)
            _cdp_wait(cdp, "document.body.innerText.includes('facts written')", 30, "the facts cell")

            # the same notebook (and kernel) over plain http to a non-local name: no navigator.mediaDevices
            other = page.context.new_page()
            other.goto(f"http://{insecure}:{lab.port}/lab/workspaces/insecure/tree/states.ipynb?reset")
            LabPage(other, lab).wait_idle()
            _append_and_run(other, "link")  # a view of the kernel's link in this page
            strip = other.locator(".vlnb-browser-audio[data-state='insecure']")
            strip.wait_for(timeout=60_000)
            text = strip.inner_text()
            assert "https" in text and "SSH tunnel to localhost" in text, text
            assert other.evaluate("() => !window.isSecureContext && !navigator.mediaDevices")
            _append_and_run(other, "print('kernel sees:', link.state, '|', link.problem)")
            other.wait_for_function(
                "() => [...document.querySelectorAll('.jp-OutputArea-output')]"
                ".some(e => e.innerText.includes('kernel sees:'))",
                timeout=30_000,
            )
            seen = LabPage(other, lab).outputs_text()
            assert "kernel sees: insecure | This page is not a secure origin" in seen, seen[-1500:]
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            raise
        # the installed package enabled its server extension in this environment's server (no option given)
        assert NODELAY_MARK in lab.log_path.read_text()  # (its gain: bench/browser_results.md)
    facts = json.loads((root / "facts.json").read_text())
    stats = facts["stats"]
    assert stats["transport"] == "base64", stats
    assert stats["routed"] == "main", stats
    assert stats["mic_messages"] > 5, stats  # audio flowed (over base64)
    # what the page had sent before it noticed the kernel was busy arrived > 1 s late: dropped, not sent on
    assert stats["mic_stale_messages"] >= 1, stats
    assert stats["mic_max_lag_s"] > 1.0, stats
    assert stats["mic_gap_frames"] > 0, stats  # frames the page dropped while paused
    assert facts["overflows"] > 0  # the pause and the stale audio show in the mic's counter
    states = [state for _, state in facts["history"]]
    assert "suspended" in states and states.index("suspended") < states.index("running"), states
    assert "busy" in states[states.index("running") :], states  # the kernel heard it all


NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.mark.timeout(360)
def test_quickstart_unedited_through_the_browser(tmp_path: Path) -> None:
    """The quickstart notebook, as shipped, on a kernel whose audio is the browser's."""
    from voicelive_nb.audio.wav import read_wav, write_wav
    from voicelive_nb.speech.prompts import DEMO_PROMPTS, prompts_wav

    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOKS / "quickstart.ipynb", root / "quickstart.ipynb")
    pcm, rate = read_wav(prompts_wav(tmp_path / "p.wav", texts=DEMO_PROMPTS[:2], gap_s=7.0))
    wav = write_wav(tmp_path / "say.wav", np.repeat(pcm, 2), rate * 2)  # 48 kHz for Chromium's fake mic
    env: dict[str, str | None] = {name: None for name in _LEAKY}
    env.update(HF_HUB_OFFLINE="1", VOICELIVE_NB_AUDIO="browser")  # (auto's choice on a kernel with no mic)
    args = [*FAKE_MIC, f"--use-file-for-fake-audio-capture={wav}%noloop", "--autoplay-policy=no-user-gesture-required"]
    with running_lab(root, tmp_path / "lab-state", env=env) as lab, chromium_page(extra_args=args) as page:
        lp = LabPage(page, lab)
        try:
            lp.open_notebook("quickstart.ipynb")
            lp.run_all(timeout=240)
            assert not lp.errors(), lp.errors()
            strip = page.locator(".vlnb-panel .vlnb-browser-audio")
            assert strip.count() == 1 and strip.get_attribute("data-state") in ("stopped", "running")
            transcript = page.evaluate("() => document.querySelector('.vlnb-panel').innerText").lower()
            assert "hear" in transcript and "capital" in transcript, transcript[-2000:]
            assert "first answer after" in lp.outputs_text()
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            raise
    (folder,) = (root / "recordings").iterdir()
    session = json.loads((folder / "session.json").read_text())
    assert session["transport"] == {"mic": "browser", "speaker": "browser"}, session.get("transport")
