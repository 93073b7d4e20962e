"""Browser audio vs local devices: the same conversation through each, in one run.

One command::

    .venv/bin/python bench/browser_bench.py               # 5 minutes per path
    .venv/bin/python bench/browser_bench.py --minutes 1   # a quick look

It starts a private PulseAudio (virtual mic and speaker), the emulator in its own process
(a long answer every turn, so speech keeps interrupting it), JupyterLab on loopback and
headless Chromium with a fake microphone playing a looped spoken WAV (question, pause,
speech over the answer, pause ...).  In one notebook kernel it runs the conversation twice,
``--minutes`` each: through the browser (``BrowserAudioLink``: the page captures and plays)
and through local sounddevice streams on the virtual devices (the same WAV played into the
virtual mic).  Figures, median / p95 in ms:

* **mic sample -> socket**: a block's first sample captured (page capture clock, or
  PortAudio's ADC time) -> its ``input_audio_buffer.append`` written to the socket;
* **socket -> output**: a response's first audio delta read off the socket -> its first
  sample heard (the page's render time + its reported output latency; the DAC time);
* **barge-in -> silent**: ``speech_started`` read off the socket -> the output silent.  For
  the page, timed by the page: when it *cut* its output (its playback AudioContext's
  ``suspend()`` resolved; the page counts what was held as dropped), or
  when the silence it rendered is heard (the quantum the worklet went silent, mapped by the
  context's output timestamp: render time + output latency), whichever is earlier.  (The
  monitor recording below, the direct measure, found the sink silent 29.5 / 40.2 ms after
  the page-timed silence in the 5-minute run of 12:16: with the echo-cancelled mic Chromium
  mixes its output into one stream that the cut does not flush; bench/cut_probe.py.  An
  earlier check, timed by a second never-suspended context, had said 1.6-3.4 ms.)
  Also shown: the flush reaching the page, the page having rendered silence, and what the
  figure would be without the cut (rendered silence heard).  For the device: at the sink
  (below); the player's estimate (block in flight + device latency) is shown apart;
* **barge-in -> silent at the sink**, both paths: this process records the speaker null
  sink's monitor (``vspeaker.monitor``: Chromium and the kernel's local speaker both play into
  ``vspeaker``) in 4 ms blocks (``bench/_sink.py``, dated on ``time.monotonic()`` as the
  latency bench's probe dates its monitor); silent = the end of the last sample louder than
  ``LOUD`` before the sink stays quiet ``QUIET_S`` (eSpeak pauses ~0.3 s between sentences;
  the next answer starts seconds later).  Barge-ins in a pause of the answer (nothing heard
  after them) and ones with no sound or no quiet near them are skipped and counted.  For the
  page, also how much later the sink fell silent than the page-timed figure;
* **underruns** over the run (player + page / device), and **CPU** in % of one core while
  audio flows both ways: Chromium (all its processes) or PulseAudio, jupyter_server, kernel.

Prints the table, writes ``bench/browser_results.md`` (``--results``) and raw JSON (``--json``).
Load average is recorded at the start and end of each path.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from _figures import Stat  # noqa: E402
from _sink import SinkRecorder  # noqa: E402

RATE = 48000
FAKE_MIC = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
SINK = "vspeaker"  # VirtualAudio's speaker null sink: the kernel's local speaker and Chromium play into it
LOUD = 100  # |sample| above this is sound on the sink (the emulator's eSpeak answer: median 640, peaks 22000)
QUIET_S = 0.4  # the sink quiet this long after a barge-in: the answer ended (eSpeak pauses ~0.3 s between sentences)
PAUSE_S = 0.01  # the sink quiet since this long before speech_started: the user spoke in a pause of the answer
ANSWER = "Paris is the capital of France. " + "It is a large old city on the river Seine with many museums. " * 4

EMULATOR = f"""
import sys
from voicelive_nb.emulator import Emulator
emu = Emulator(responder=lambda text, session: {ANSWER!r}).start()
print(emu.endpoint, flush=True)
sys.stdin.read()
emu.close()
"""

COLLECT = """import json, time
from voicelive_nb import SessionConfig, VoiceSession
from voicelive_nb.connection import ConnectionSettings
from voicelive_nb.audio.browser import BrowserAudioLink

class Collect:
    def __init__(self):
        self.mic, self.first, self.speech, self.flushed, self.started = [], {}, [], [], []
    def __call__(self, r):
        if r.type == "mic.audio":
            self.mic.append((r.t, r.data["captured_t"]))
        elif r.type == "response.audio.delta":
            self.first.setdefault(r.data.get("response_id"), r.t)
        elif r.type == "input_audio_buffer.speech_started":
            self.speech.append(r.t)
        elif r.type == "playback.flushed":
            self.flushed.append((r.t, r.data.get("stale_ms"), r.data.get("reason")))
        elif r.type == "playback.started":
            self.started.append((r.t, r.data.get("response_id")))

def run(mic, speaker):
    col = Collect()
    s = VoiceSession(SessionConfig(), connection=ConnectionSettings(endpoint=ENDPOINT, api_key="k"),
                     mic=mic, speaker=speaker, history=100)
    s.subscribe(col)
    s.start()
    return s, col

def finish(s, col, path, extra):
    s.stop()
    facts = {"mic": col.mic, "first": col.first, "speech": col.speech, "flushed": col.flushed,
             "started": col.started, "counters": s.counters, **extra}
    with open(path, "w") as f:
        json.dump(facts, f, default=str)
    print("facts written", path)
"""


def _wav(path: Path, seconds: float) -> np.ndarray:
    """A spoken cycle (question, pause, speech over the answer, pause), tiled to ``seconds``."""
    from voicelive_nb.audio.wav import write_wav
    from voicelive_nb.speech.prompts import synthesize

    def gap(s: float) -> np.ndarray:
        return np.zeros(round(s * RATE), dtype=np.int16)

    cycle = np.concatenate(
        [
            gap(0.5),
            synthesize("What is the capital of France?", RATE),
            gap(5.0),
            synthesize("Stop, wait a moment please.", RATE),
            gap(5.5),
        ]
    )
    write_wav(path, cycle, RATE)  # Chromium loops the file itself
    return np.tile(cycle, int(np.ceil(seconds * RATE / cycle.size)))


class _Procs:
    """CPU seconds of process groups (psutil), sampled at two moments."""

    def __init__(self, groups: dict[str, list[Any]]) -> None:
        self.groups = groups  # (listed after settling: Chromium starts its audio service on first use)
        self.t0 = time.monotonic()
        self.c0 = {name: self._cpu(procs) for name, procs in groups.items()}

    @staticmethod
    def _cpu(procs: list[Any]) -> dict[int, float]:
        out = {}
        for p in procs:
            try:
                t = p.cpu_times()
                out[p.pid] = t.user + t.system
            except Exception:  # gone
                pass
        return out

    def percent(self) -> dict[str, Any]:
        dt = time.monotonic() - self.t0
        out: dict[str, Any] = {}
        for name, procs in self.groups.items():
            c1 = self._cpu(procs)
            each = {pid: 100.0 * (c1[pid] - c0) / dt for pid, c0 in self.c0[name].items() if pid in c1}
            out[name] = sum(each.values())
            out[f"{name}_detail"] = {_label(p): round(each.get(p.pid, 0.0), 1) for p in procs}
        return out


def _label(p: Any) -> str:
    try:
        cmd = p.cmdline()
    except Exception:
        return str(p.pid)
    kind = next((a.split("=", 1)[1] for a in cmd if a.startswith("--type=")), "")
    sub = next((a.split("=", 1)[1] for a in cmd if a.startswith("--utility-sub-type=")), "")
    return f"{p.pid} {kind or Path(cmd[0]).name if cmd else ''} {sub}".strip()


def _descendants(pid: int, match: str) -> list[Any]:
    import psutil

    return [p for p in psutil.Process(pid).children(recursive=True) if match in " ".join(p.cmdline()).lower()]


def _at_sink(facts: dict[str, Any], rec: SinkRecorder) -> dict[str, Any]:
    """Barge-in -> silent at the sink: ``speech_started`` read off the socket -> the end of the last loud
    sample before the sink stays quiet for ``QUIET_S`` (the interrupted answer's end), per barge-in flush.

    Both are ``time.monotonic()`` (the kernel's facts, and ``rec`` in this process: one system-wide clock).
    A barge-in is skipped (and counted) when the sink carried no sound within 2 s of it, never stayed quiet
    for ``QUIET_S`` within 2 s after it, was already quiet when the user spoke (in a pause of the answer,
    and the cut came before the next word), or was not recorded that far.
    """
    speech = sorted(facts["speech"])
    last = float(rec.times[rec.blocks - 1] + rec.offset) if rec.blocks else 0.0
    ms: list[float] = []
    late: list[float] = []  # the sink silent after the flush's own figure (the page's silence; the estimate)
    skipped = {"no sound near": 0, "in a pause at the barge-in": 0, "no quiet stretch": 0, "not recorded": 0}
    for t, stale, reason in facts["flushed"]:
        before = [x for x in speech if t - 0.5 <= x <= t]
        if reason != "speech_started" or not before:
            continue
        s = before[-1]
        if s + 2.0 > last:
            skipped["not recorded"] += 1
            continue
        ends = rec.loud_ends(s - 2.0, s + 2.0, LOUD)
        if not ends.size:
            skipped["no sound near"] += 1
            continue
        nxt = np.append(ends[1:] - 1.0 / rec.rate, s + 2.0)  # where the next loud sample starts
        quiet = np.flatnonzero((nxt - ends >= QUIET_S) & (nxt > s))  # long quiets reaching past s
        if not quiet.size:
            skipped["no quiet stretch"] += 1
        elif ends[quiet[0]] < s - PAUSE_S:  # nothing heard after the barge-in: no figure
            skipped["in a pause at the barge-in"] += 1
        else:
            ms.append((float(ends[quiet[0]]) - s) * 1000.0)
            if stale is not None:
                late.append(ms[-1] - ((t - s) * 1000.0 + float(stale)))
    return {
        "barge_in_at_sink": Stat.of(ms),
        "sink_after_flush_figure": Stat.of(late),
        "sink_ms": ms,
        "sink_skipped": skipped,
        "sink_overflows": rec.overflows,
    }


def _figures(facts: dict[str, Any], browser: bool, minutes: float) -> dict[str, Any]:
    """Median/p95 figures from one path's facts (monotonic seconds in, ms out)."""
    mic = np.array(facts["mic"], dtype=np.float64)
    t_start = mic[0, 0] + 5.0 if mic.size else 0.0
    steady = mic[mic[:, 0] > t_start] if mic.size else mic
    mic_ms = list((steady[:, 0] - steady[:, 1]) * 1000.0) if steady.size else []
    out_ms = []
    if browser:
        heard = sorted(t for kind, _, t in facts["page_events"] if kind == "started")
        for rt in facts["first"].values():
            later = [t for t in heard if rt - 0.05 <= t <= rt + 3.0]
            if later:
                out_ms.append((later[0] - rt) * 1000.0)
    else:
        for t, rid in facts["started"]:
            rt = facts["first"].get(rid)
            if rt is not None:
                out_ms.append((t - rt) * 1000.0)
    speech = sorted(facts["speech"])
    barge = []
    for t, stale, reason in facts["flushed"]:
        before = [s for s in speech if t - 0.5 <= s <= t]
        if reason == "speech_started" and before and stale is not None:
            barge.append((t - before[-1]) * 1000.0 + float(stale))
    rendered, arrived, uncut = [], [], []  # the same, to the page rendering silence / getting the flush
    flushes = [f for f in facts.get("page_flushes") or [] if isinstance(f.get("g"), int)]
    if browser and len(flushes) == len(facts["flushed"]):
        for (t, stale, reason), f in zip(facts["flushed"], flushes, strict=True):
            before = [s for s in speech if t - 0.5 <= s <= t]
            if reason == "speech_started" and before and stale is not None:
                to_speaker = (t - before[-1]) * 1000.0 + float(stale)
                rendered.append(to_speaker - (f["sw"] - f["sr"]))
                arrived.append(to_speaker - (f["sw"] - f.get("rx", f["sr"])))
                uncut.append(to_speaker - (f["sw"] - f.get("fw", f["sw"])))
    counters = facts["counters"]
    trace = np.array(facts.get("trace") or [], dtype=np.float64).reshape(-1, 4)
    if trace.size:  # the first block of each message: capture -> page send -> kernel arrival
        trace = trace[len(trace) // 20 :]
    split = {
        "capture_to_send": Stat.of(list(trace[:, 1] - trace[:, 0])),
        "send_to_kernel": Stat.of(list(trace[:, 3] - (trace[:, 1] + trace[:, 2]))),
    }
    return {
        **split,
        "mic_to_socket": Stat.of(mic_ms),
        "socket_to_output": Stat.of(out_ms),
        "barge_in_to_silent": Stat.of(barge),
        "barge_in_to_rendered_silence": Stat.of(rendered),
        "barge_in_to_page": Stat.of(arrived),
        "barge_in_uncut": Stat.of(uncut),
        "cuts": sum(1 for f in flushes if isinstance(f.get("cut"), (int, float))),
        "underruns": int(counters.get("output_underflows", 0)),
        "overflows": int(counters.get("input_overflows", 0)),
        "minutes": minutes,
    }


def _run_path(
    lp: Any, page: Any, cell: int, minutes: float, groups: dict[str, Callable[[], list[Any]]], rec: SinkRecorder
) -> dict[str, Any]:
    """Run the start cell, let it talk for ``minutes``, measure CPU meanwhile, run the finish cell;
    ``rec`` records the sink's monitor throughout."""
    load0 = os.getloadavg()[0]
    rec.start()
    _run_cell(page, cell)
    lp.wait_cells_done()
    time.sleep(10.0)  # settle: the first turn and the page's start are not steady state
    procs = _Procs({name: listed() for name, listed in groups.items()})
    deadline = time.monotonic() + minutes * 60.0
    while time.monotonic() < deadline:
        time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
        errors = lp.errors()
        if errors:
            raise RuntimeError(f"the notebook failed: {errors}")
    cpu = procs.percent()
    _run_cell(page, cell + 1)
    lp.wait_cells_done()
    rec.stop()
    return {"cpu": cpu, "load": (load0, os.getloadavg()[0])}


def _run_cell(page: Any, index: int) -> None:
    page.evaluate(
        "(i) => { const app = window.jupyterapp; app.shell.currentWidget.content.activeCellIndex = i;"
        " app.commands.execute('notebook:run-cell'); }",
        index,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=5.0, help="talking time per path (default 5)")
    ap.add_argument("--chunk-ms", type=int, default=100, help="audio per browser message (100; 40 = low latency)")
    ap.add_argument("--only", choices=("browser", "local"), help="run one path only")
    ap.add_argument("--results", type=Path, default=HERE / "browser_results.md", help="markdown results file")
    ap.add_argument("--json", type=Path, help="also write the raw figures as JSON")
    ap.add_argument("--lab-arg", action="append", default=[], help="a JupyterLab server option (repeatable)")
    ap.add_argument(
        "--nodelay",
        action="store_true",
        help="redundant where voicelive-nb is installed in the server's environment (its server extension, "
        "TCP_NODELAY on the kernel websocket, is on by default there); names it explicitly otherwise",
    )
    ap.add_argument(
        "--quiet-comm-status",
        action="store_true",
        help="the server's untracked_message_types gets comm_msg: JupyterLab stops toggling its kernel "
        "status for each widget message (a server setting a hub can make; see the results notes)",
    )
    args = ap.parse_args(argv)

    import nbformat
    import psutil

    if args.nodelay:
        args.lab_arg.append("--ServerApp.jpserver_extensions={'voicelive_nb.audio.browser.serverext': True}")
    if args.quiet_comm_status:
        from jupyter_server.services.kernels.kernelmanager import MappingKernelManager

        untracked = [*MappingKernelManager.class_traits()["untracked_message_types"].default(), "comm_msg"]
        args.lab_arg.append(f"--MappingKernelManager.untracked_message_types={untracked!r}")

    from tests.notebooks.lab import LabPage, chromium_page, running_lab
    from voicelive_nb.audio.pulse import VirtualAudio

    tmp = Path(tempfile.mkdtemp(prefix="browser-bench-"))
    wav = tmp / "say.wav"
    # (over 5 minutes, VirtualAudio streams it with paplay: a sample that long does not fit its cache)
    tiled = _wav(wav, max(args.minutes * 60 + 40, 305))
    emulator = subprocess.Popen(
        [sys.executable, "-c", EMULATOR], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    results: dict[str, Any] = {}
    try:
        assert emulator.stdout is not None
        endpoint = emulator.stdout.readline().strip()
        if not endpoint.startswith("http://"):
            raise RuntimeError(f"the emulator did not start: {endpoint!r}")
        root = tmp / "root"
        root.mkdir()
        cells = [
            f"ENDPOINT = {endpoint!r}\n" + COLLECT + f"\nlink = BrowserAudioLink(chunk_ms={args.chunk_ms})\nlink",
            "m = link.mic(); m.timeline.trace = []\ns, col = run(m, (spk := link.speaker()))",
            f"finish(s, col, {str(tmp / 'browser.json')!r}, {{'page_events': spk.page_events, "
            "'stats': link.stats(), 'page': link.page, 'trace': m.timeline.trace, 'page_flushes': spk.page_flushes})",
            "s, col = run('pulse', 'pulse')",
            f"finish(s, col, {str(tmp / 'local.json')!r}, {{}})",
        ]
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, root / "bench.ipynb")
        with VirtualAudio() as va:
            pulse = {"PULSE_SERVER": va.server, "PULSE_SINK": SINK, "PULSE_SOURCE": "vmic"}
            env: dict[str, str | None] = {"VOICELIVE_NB_HEADLESS": None, "HF_HUB_OFFLINE": "1", **pulse}
            chrome_args = [
                *FAKE_MIC,
                f"--use-file-for-fake-audio-capture={wav}",
                "--autoplay-policy=no-user-gesture-required",
            ]
            chrome_env = {**os.environ, **pulse}
            with (
                running_lab(root, tmp / "lab-state", env=env, args=args.lab_arg) as lab,
                chromium_page(extra_args=chrome_args, ignore_default_args=["--mute-audio"], env=chrome_env) as page,
            ):
                lp = LabPage(page, lab)
                lp.open_notebook("bench.ipynb")
                _run_cell(page, 0)
                lp.wait_cells_done()
                page.wait_for_function("() => window.__vlnbAudio && window.__vlnbAudio.helloDone", timeout=60_000)
                assert lab._proc is not None
                lab_pid = lab._proc.pid

                def server() -> list[Any]:
                    return [psutil.Process(lab_pid)]

                def kernel() -> list[Any]:
                    return _descendants(lab_pid, "ipykernel")

                if args.only != "local":
                    print(f"browser path: {args.minutes:g} min ...", flush=True)

                    def chromium() -> list[Any]:
                        return _descendants(os.getpid(), "chrom")

                    groups = {"audio": chromium, "server": server, "kernel": kernel}
                    rec = SinkRecorder(SINK, args.minutes * 60 + 120)
                    run = _run_path(lp, page, 1, args.minutes, groups, rec)
                    lags = page.evaluate("() => window.__vlnbAudio ? window.__vlnbAudio.lags : []")
                    run["main_thread_lag"] = Stat.of(list(lags))
                    trips = page.evaluate("() => window.__vlnbAudio ? window.__vlnbAudio.trips : {}")
                    run["trips"] = {kind: Stat.of(list(v)) for kind, v in trips.items()}
                    facts = json.loads((tmp / "browser.json").read_text())
                    results["browser"] = {
                        **_figures(facts, True, args.minutes),
                        **_at_sink(facts, rec),
                        **run,
                        "stats": facts["stats"],
                    }
                    results["browser"]["page"] = facts["page"]
                if args.only != "browser":
                    print(f"local path: {args.minutes:g} min ...", flush=True)
                    va.play_into_mic(tiled, wait=False)
                    pulse_pid = va._proc.pid if va._proc is not None else os.getpid()

                    def pulseaudio() -> list[Any]:
                        return [psutil.Process(pulse_pid)]

                    groups = {"audio": pulseaudio, "server": server, "kernel": kernel}
                    rec = SinkRecorder(SINK, args.minutes * 60 + 120)
                    run = _run_path(lp, page, 3, args.minutes, groups, rec)
                    facts = json.loads((tmp / "local.json").read_text())
                    results["local"] = {**_figures(facts, False, args.minutes), **_at_sink(facts, rec), **run}
    finally:
        if emulator.poll() is None:
            assert emulator.stdin is not None
            emulator.stdin.close()
            try:
                emulator.wait(15)
            except subprocess.TimeoutExpired:
                emulator.kill()
    table = _table(results, args)
    print(table)
    args.results.write_text(table)
    if args.json:
        args.json.write_text(json.dumps(results, default=lambda o: vars(o), indent=1))
    return 0


def _table(results: dict[str, Any], args: argparse.Namespace) -> str:
    b, loc = results.get("browser"), results.get("local")

    def cell(r: dict[str, Any] | None, key: str) -> str:
        if r is None:
            return "—"
        v = r[key]
        return v.text().strip() + f" (n={v.n})" if isinstance(v, Stat) else str(v)

    def cpu(r: dict[str, Any] | None, key: str) -> str:
        return "—" if r is None else f"{r['cpu'][key]:.0f} %"

    def skipped(r: dict[str, Any] | None) -> str:
        if r is None:
            return "—"
        why = [f"{n} {why}" for why, n in r["sink_skipped"].items() if n]
        return ", ".join(why + ([f"monitor overflows {r['sink_overflows']}"] if r["sink_overflows"] else [])) or "0"

    stats = (b or {}).get("stats", {})
    late = (b or {}).get("sink_after_flush_figure")
    undercount = (
        f"In this run the sink played {late.median:.1f} ms (median; p95 {late.p95:.1f}) past the page-timed silence:"
        " what the sound server had when the page cut (see above)."
        if late is not None and late.n and late.median > 10.0
        else ""
    )
    lines = [
        "# Browser audio vs local devices (bench/browser_bench.py)",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M')}, {platform.node()}, {os.cpu_count()} cores, "
        f"{args.minutes:g} min per path, browser messages of {args.chunk_ms} ms"
        + (", comm status untracked" if args.quiet_comm_status else "")
        + (", kernel websocket TCP_NODELAY (serverext)" if args.nodelay else "")
        + ". Load average (1 min) at start/end: browser "
        + (f"{b['load'][0]:.1f}/{b['load'][1]:.1f}" if b else "—")
        + ", local "
        + (f"{loc['load'][0]:.1f}/{loc['load'][1]:.1f}" if loc else "—")
        + ".",
        "",
        "| median / p95 (ms), counts, CPU | browser (page) | local (sounddevice) | target |",
        "|---|---|---|---|",
        f"| mic sample -> socket | {cell(b, 'mic_to_socket')} | {cell(loc, 'mic_to_socket')} | p95 <= 150 |",
        f"| of which page capture -> page send | {cell(b, 'capture_to_send')} | | |",
        f"| of which page send -> kernel | {cell(b, 'send_to_kernel')} | | |",
        f"| socket -> output | {cell(b, 'socket_to_output')} | {cell(loc, 'socket_to_output')} | |",
        f"| barge-in -> silent (page-timed; local: at the sink) | {cell(b, 'barge_in_to_silent')} "
        f"| {cell(loc, 'barge_in_at_sink')} | p95 <= 60 |",
        f"| of which to the flush reaching the page | {cell(b, 'barge_in_to_page')} | | |",
        f"| of which to the page having rendered silence | {cell(b, 'barge_in_to_rendered_silence')} | | |",
        f"| without the cut: rendered silence heard | {cell(b, 'barge_in_uncut')} | | |",
        f"| barge-in -> silent at the sink (monitor recording) | {cell(b, 'barge_in_at_sink')} "
        f"| {cell(loc, 'barge_in_at_sink')} | p95 <= 60 |",
        f"| of which after the page-timed silence | {cell(b, 'sink_after_flush_figure')} | | |",
        f"| at the sink: barge-ins skipped | {skipped(b)} | {skipped(loc)} | |",
        f"| local player's estimate (block in flight + device latency) | | {cell(loc, 'barge_in_to_silent')} | |",
        f"| flushes that cut the page's output | {cell(b, 'cuts')} | | |",
        f"| page main thread: a 50 ms timer late by (last 2 min) | {cell(b, 'main_thread_lag')} | | |",
        f"| underruns in the run | {cell(b, 'underruns')} | {cell(loc, 'underruns')} | 0 |",
        f"| mic overflows (lost blocks) | {cell(b, 'overflows')} | {cell(loc, 'overflows')} | 0 |",
        f"| CPU: Chromium / PulseAudio | {cpu(b, 'audio')} | {cpu(loc, 'audio')} | Chromium < 50 % |",
        f"| CPU: jupyter_server | {cpu(b, 'server')} | {cpu(loc, 'server')} | |",
        f"| CPU: kernel | {cpu(b, 'kernel')} | {cpu(loc, 'kernel')} | |",
        "",
        f"Browser link: messages/s at most {stats.get('rx_max_per_s', '—')} page->kernel, "
        f"{stats.get('tx_max_per_s', '—')} kernel->page; routed on the {stats.get('routed', '—')} shell; "
        f"page output latency {((b or {}).get('page') or {}).get('out_latency', '—')} s.",
        f"CPU by Chromium process: {(b or {}).get('cpu', {}).get('audio_detail', '—')}.",
        "Kernel -> page trip by message (median / p95 ms): "
        + ", ".join(f"{k} {v.text().strip()}" for k, v in ((b or {}).get("trips") or {}).items())
        + ".",
        "",
        "CPU is % of one core over the run (after 10 s of settling), per process group. Barge-in -> silent for the",
        "browser is measured by the page: at a flush it cuts its output (suspends its playback AudioContext, then",
        "resumes it), which drops what Chromium held for it; page-timed silent = when that suspend() resolved,",
        "or when its rendered silence is heard (output timestamp) if earlier. What the sound server already had",
        "still plays: with the echo-cancelled mic Chromium mixes all output into one stream that a cut does not",
        "flush (bench/cut_probe.py: ~30 ms after suspend() resolves, 1-3 ms without that capture; close() and",
        "setSinkId none do no better), which the sink row below measures. 'Without the cut' is the rendered",
        "silence heard (render time + output latency): the figure before the cut. Both run on the same PulseAudio",
        "null sink, vspeaker. 'At the sink' is measured there for both paths: the bench process records",
        "vspeaker.monitor in 4 ms blocks (bench/_sink.py, PortAudio time mapped to time.monotonic() as the latency",
        "bench's probe does; the kernel's speech_started times are time.monotonic() too, one clock system-wide);",
        f"silent = the end of the last sample above |{LOUD}| before {QUIET_S:g} s of quiet (eSpeak's answer pauses",
        "~0.3 s between sentences). Barge-ins spoken in a pause of the answer (nothing heard after them) are",
        "skipped. 'Of which after the page-timed silence' is, per barge-in, the sink's figure minus the page's: what",
        "the page counted as silent but the sink still played. The local main row is this sink figure; the",
        "player's estimate (block in flight plus the device latency) is its own row.",
        *([undercount] if undercount else []),
        "",
        "jupyter_server leaves Nagle's algorithm on for kernel websockets: each kernel -> page message waited for",
        "the browser's delayed ACK of the previous one, 25-40 ms. voicelive-nb's server extension",
        "(voicelive_nb.audio.browser.serverext, TCP_NODELAY) is on by default where voicelive-nb is installed in",
        "the server's environment, as here (--nodelay is redundant then); on 2026-12-04 at load 3-4 it took the",
        "flush reaching the page from 38 ms to 7.6, barge-in -> page rendered silence from 46 ms to 20.",
        "",
        "Most of Chromium's CPU is JupyterLab redrawing its kernel status: ipykernel publishes busy/idle for every",
        "widget message, 2 per page->kernel message. A server started with comm_msg in",
        "MappingKernelManager.untracked_message_types (--quiet-comm-status) stops that; on 2026-12-04 at load 3-4 it",
        "took Chromium from 46 % to 19 % of a core (renderer 22 -> 10 %). The trade-off: widget traffic no",
        "longer counts as kernel activity for idle culling.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
