"""Latency you can hear: our client vs the reference quickstart's settings, on real PortAudio streams.

One command::

    .venv/bin/python bench/latency_bench.py                # 40 s per client + 10 min glitch run each
    .venv/bin/python bench/latency_bench.py --minutes 1    # a short glitch run
    .venv/bin/python bench/latency_bench.py --minutes 0    # figures 1-2 only

It starts its own private PulseAudio (:class:`voicelive_nb.audio.pulse.VirtualAudio`) and a
measuring *probe* in a separate process (``bench/_probe.py``: stimulus into the virtual mic,
2 ms-block monitor of the virtual speaker, a scripted Voice Live endpoint), then runs each
client in this process, one after the other, against the same instruments:

1. **Client-added latency, each way.**  *mic*: a click played into the virtual mic (its DAC
   time) -> the ``input_audio_buffer.append`` carrying it arrives at the server.  *speaker*:
   the server sends a ``response.audio.delta`` whose first sample is a click -> that click
   appears on the virtual speaker's monitor.  Both include the loopback socket and the
   virtual cable; the cable's own floor is measured in the same run and shown.
2. **Barge-in to silence**: the server sends ``speech_started`` while 3 s of response audio
   is queued -> the last non-silent sample of it on the monitor (device buffer included).
   Timed from the server's send, so it includes the client's receive path.
3. **Glitches under load** (``--minutes`` per client): the real emulator
   (``voicelive-nb emulator``, its own process), a looped spoken WAV with pauses that end
   turns and speech that interrupts the answers, while this process's main thread plays a
   busy kernel (``bench/_load.py``).  Counts device input overflows, output underflows
   (device + player), dropped mic blocks and gaps in the mic track (``bench/_figures.py``).

``--machine-load N`` runs all of it on a loaded *machine*: N busy processes pinned to each
CPU core (``bench/_load.py``), so the audio threads, PulseAudio and the emulator wait for a
core, as beside other programs on a shared machine (the busy kernel only loads our GIL).

Prints a table (median / p95 ms, ours vs reference, ratio), writes JSON with ``--json`` and
appends the table, with the command and the load, to a results file with ``--results``::

    .venv/bin/python bench/latency_bench.py --seconds 30 --minutes 1 --machine-load 1 \
        --results bench/latency_results.md
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from _figures import Stat, content_gaps, match_after, match_before, mic_gaps  # noqa: E402
from _reference import ReferenceClient  # noqa: E402

RATE = 24000


class ProbeProcess:
    """The measuring instrument (bench/_probe.py) in its own process."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "_probe.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.endpoint = self._read()["endpoint"]

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the probe process died (exit code {self.proc.poll()}); see its stderr above")
        return dict(json.loads(line))

    def cmd(self, **command: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return self._read() if command["cmd"] != "quit" else {}

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.cmd(cmd="quit")
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(5)


# --------------------------------------------------------------------------- clients


class OurClient:
    """A :class:`voicelive_nb.VoiceSession` on the default devices (our defaults), or tuned ones."""

    def __init__(
        self, endpoint: str, tune: dict[str, Any] | None = None, record: str | None = None, latency: str | None = None
    ) -> None:
        from voicelive_nb.config import SessionConfig
        from voicelive_nb.connection import ConnectionSettings
        from voicelive_nb.panel.state import PanelState
        from voicelive_nb.session import VoiceSession

        mic: Any = None
        speaker: Any = None
        if tune:
            from voicelive_nb.audio.streams import DeviceMic, DeviceSpeaker

            mic = DeviceMic(**{k[4:]: v for k, v in tune.items() if k.startswith("mic_")})
            speaker = DeviceSpeaker(**{k[4:]: v for k, v in tune.items() if k.startswith("spk_")})
        settings = ConnectionSettings(endpoint=endpoint, api_key="bench")
        self.session = VoiceSession(
            SessionConfig(), connection=settings, mic=mic, speaker=speaker, record=record, latency=latency
        )
        self.capture: list[tuple[float, int]] = []
        self.sent: list[bytes] = []
        self.started = time.monotonic()
        self.state = PanelState(turns=lambda: self.turns())
        self.session.subscribe(self._observe)

    def _observe(self, record: Any) -> None:
        self.state.feed(record)
        if record.type == "mic.audio":
            self.capture.append((float(record.get("captured_t", record.t)), int(record.get("samples", 0))))
            if record.audio is not None:
                self.sent.append(record.audio)

    def start(self) -> OurClient:
        self.started = time.monotonic()
        self.session.start()
        self.session.wait_for("session.updated", timeout=20)
        return self

    def stop(self) -> None:
        self.session.stop()

    def turns(self) -> list[Any]:
        tracker = self.session.tracker
        return [t for t in tracker.turns if t.response_done_rx is not None] if tracker is not None else []

    def counters(self) -> dict[str, Any]:
        c = dict(self.session.counters)
        cap = list(self.capture)  # the bus thread keeps appending
        t = [x[0] for x in cap]
        n = [x[1] for x in cap]
        steps, _ = mic_gaps(t, n, RATE, n[0] if n else 480)
        turns = self.turns()
        spk = self.session.speaker
        # every device underflow PortAudio reported, start-ups included (as for the reference)
        device = int(getattr(spk, "_underflows", getattr(spk, "underflows", 0)) or 0)
        player_starved = int(getattr(getattr(self.session, "_engine", None), "player", None).underflows)
        log = list(getattr(spk, "underflow_log", []))
        return {
            "input_overflows": int(c.get("input_overflows", 0)),
            "output_underflows": device,
            "startup_underflows": int(getattr(spk, "startup_underflows", 0)),
            "underflow_times_s": [round(t - self.started, 1) for t, _ in log],
            "player_starved": player_starved,
            "speaker_reopens": int(getattr(spk, "reopens", 0)),
            "speaker_buffer_ms": round(1000 * float(getattr(spk, "current_latency_s", spk.output_latency_s)), 1),
            "speaker_restarts": int(getattr(spk, "restarts", 0)),
            "jitter_ms": round(1000 * float(getattr(spk, "jitter_s", 0.0)), 1),
            "dropped_blocks": int(c.get("dropped_blocks", 0)) + int(c.get("bus_dropped", 0)),
            "mic_stamp_steps": steps,
            "turns": len(turns),
            "interrupted": sum(1 for x in turns if getattr(x, "interrupted", False)),
        }

    def sent_track(self) -> np.ndarray:
        """Every mic block appended to the socket, in order."""
        return np.frombuffer(b"".join(self.sent), dtype="<i2")

    def describe(self) -> str:
        mic, spk = self.session.mic, self.session.speaker
        return (
            f"mic {getattr(mic, 'blocksize', '?')} samples, latency {getattr(mic, 'latency', '?')!r} "
            f"(reported {1000 * getattr(mic, 'input_latency_s', 0):.0f} ms); speaker "
            f"{getattr(spk, 'blocksize', '?')} samples, latency {getattr(spk, 'latency', '?')!r} "
            f"(reported {1000 * getattr(spk, '_latency_s', 0):.0f} ms)"
            + (", restarts at answer starts and barge-ins" if getattr(spk, "edges", False) else "")
        )


class RefClient:
    """:class:`bench._reference.ReferenceClient` behind the same small interface."""

    def __init__(self, endpoint: str, config: dict[str, Any] | None = None) -> None:
        from voicelive_nb.panel.state import PanelState

        self.client = ReferenceClient(endpoint, config=config)
        self.state = PanelState()

    def start(self) -> RefClient:
        self.client.start()
        return self

    def stop(self) -> None:
        self.client.stop()

    def turns(self) -> list[Any]:
        from voicelive_nb.metrics import LATENCY_STAGES

        fields: dict[str, Any] = {stage.field: None for stage in LATENCY_STAGES}  # every stage the chart draws
        fields.update(detection_ms=500.0, response_latency_ms=300.0)
        return [
            types.SimpleNamespace(**fields, index=i + 1, response_id=f"r{i}") for i in range(self.client.responses_done)
        ]

    def counters(self) -> dict[str, Any]:
        t, n = self.client.capture_table()
        steps, _ = mic_gaps(list(t), list(n), RATE, int(n[0]) if n.size else 1200)
        return {
            "input_overflows": self.client.input_overflows,
            "output_underflows": self.client.output_underflows,
            "player_starved": self.client.starved,
            "dropped_blocks": 0,
            "mic_stamp_steps": steps,
            "turns": self.client.turns,
            "interrupted": None,
        }

    def sent_track(self) -> np.ndarray:
        """Every mic block the callback handed to the loop, in order."""
        return self.client.sent_track()

    def describe(self) -> str:
        lin, lout = self.client.latencies
        return (
            f"mic {self.client.blocksize} samples, default latency (reported {1000 * lin:.0f} ms); speaker "
            f"{self.client.blocksize} samples, default latency (reported {1000 * lout:.0f} ms), bytes queue"
        )


# --------------------------------------------------------------------------- figures 1-2


def latency_phase(probe: ProbeProcess, make: Any, seconds: float) -> dict[str, Any]:
    """Run one client against the probe for ``seconds``; return figures 1 and 2."""
    client = make(probe.endpoint).start()
    probe.cmd(cmd="phase", mode="clicks", responses=True)
    load0 = os.getloadavg()[0]
    time.sleep(seconds)
    res = probe.cmd(cmd="end")
    load1 = os.getloadavg()[0]
    desc = client.describe()
    client.stop()
    counters = client.counters()
    mic_rx = [t for t, _ in res["mic_clicks"]]
    mic = match_before(mic_rx, res["clicks_dac"], 0.4)
    floor = match_after(res["clicks_dac"], res["cable"], 0.2)
    speaker = match_after(res["marker_sent"], res["onsets"], 1.0)
    # the server stamps speech_started just before sending it and the monitor dates samples
    # to within a few ms: a barge-in that fast can come out slightly negative
    barge = match_after(res["speech_started_sent"], res["offsets"], 3.0, lead=0.01)
    return {
        "describe": desc,
        "mic": Stat.of(mic),
        "speaker": Stat.of(speaker),
        "barge_in": Stat.of(barge),
        "cable_floor": Stat.of(floor),
        "raw": {"mic": mic, "speaker": speaker, "barge_in": barge, "floor": floor},
        "timeline": {k: res[k] for k in ("onsets", "offsets", "speech_started_sent", "marker_sent")},
        "client_events": res["client_events"],
        "counters": counters,
        "probe_status": _probe_status(res["probe_status"]),
        "loadavg": (round(load0, 2), round(load1, 2)),
    }


def _probe_status(rows: list[list[float]]) -> dict[str, int]:
    """Glitches of the probe's own streams (they would blur its timestamps)."""
    return {
        "stimulus_underflows": sum(1 for s, f in rows if s == 0 and f),
        "monitor_overflows": sum(1 for s, f in rows if s == 1 and f),
    }


# --------------------------------------------------------------------------- figure 3


def speech_loop(path: Path) -> float:
    """Write the looped stimulus of the glitch run: turns that end, answers that get interrupted."""
    from voicelive_nb.audio.resample import Resampler
    from voicelive_nb.audio.wav import write_wav
    from voicelive_nb.speech.tts import EspeakTTS

    tts = EspeakTTS()

    def say(text: str) -> np.ndarray:
        pcm, rate = tts.synthesize(text)
        return pcm if rate == RATE else Resampler(rate, RATE).process(pcm)

    def gap(s: float) -> np.ndarray:
        return np.zeros(round(s * RATE), dtype=np.int16)

    parts = [
        say("Hello there, can you tell me what the weather will be like tomorrow morning?"),
        gap(1.6),  # the turn ends; the answer starts ...
        say("Sorry, wait, I meant the weather in the afternoon."),  # ... and is interrupted
        gap(6.0),  # this answer plays to the end
        say("Thank you, that is all for now."),
        gap(5.0),
    ]
    pcm = np.concatenate(parts)
    write_wav(path, pcm, RATE)
    return pcm.shape[0] / RATE


class Emulator:
    """``voicelive-nb emulator`` in its own process (its VAD/TTS/ASR must not share our GIL)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "voicelive_nb.cli", "emulator", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "http://" not in line:
            self.close()
            raise RuntimeError(f"the emulator did not start: {line!r}")
        self.endpoint = "http://" + line.split("http://", 1)[1].split()[0]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def glitch_phase(probe: ProbeProcess, make: Any, endpoint: str, wav: Path, minutes: float) -> dict[str, Any]:
    """Run one client against the emulator under a busy kernel; return the glitch counts."""
    from _load import busy_kernel

    probe.cmd(cmd="phase", mode="idle", responses=False, wav=str(wav))
    client = make(endpoint).start()

    def progress(elapsed: float) -> None:
        c = client.counters()
        print(f"    {elapsed:5.0f} s: {c}", flush=True)

    load0 = os.getloadavg()[0]
    load = busy_kernel(minutes * 60.0, client.turns, client.state, progress=progress)
    client.stop()
    res = probe.cmd(cmd="end")
    counters = client.counters()
    from voicelive_nb.audio.wav import load_audio

    gaps, missing, checked, inserted = content_gaps(client.sent_track(), load_audio(str(wav), RATE))
    counters.update(
        mic_gaps=gaps, mic_gap_ms=round(missing, 1), mic_inserted_ms=round(inserted, 1), mic_chunks_checked=checked
    )
    return {
        "counters": counters,
        "load": load,
        "probe_status": _probe_status(res["probe_status"]),
        "loadavg": (round(load0, 2), round(os.getloadavg()[0], 2)),
    }


# --------------------------------------------------------------------------- report


def ratio(ours: float, ref: float) -> str:
    if not (np.isfinite(ours) and np.isfinite(ref)) or ours <= 0:
        return "n/a"
    return f"{ref / ours:5.1f}x"


def table(fig: dict[str, dict[str, Any]], glitch: dict[str, dict[str, Any]] | None) -> str:
    o, r = fig["ours"], fig["reference"]
    lines = [
        f"{'figure (median / p95 ms)':<34} {'ours':>15} {'reference':>15} {'ref/ours':>9} {'target':>8}",
        "-" * 85,
    ]
    for key, label, target in (
        ("mic", "1a client-added, mic -> socket", "<= 30"),
        ("speaker", "1b client-added, socket -> speaker", "<= 30"),
        ("barge_in", "2  barge-in -> silence", "<= 30"),
        ("cable_floor", "   virtual cable floor (in 1a)", ""),
    ):
        lines.append(
            f"{label:<34} {o[key].text():>15} {r[key].text():>15} {ratio(o[key].median, r[key].median):>9} {target:>8}"
        )
    lines.append(
        f"{'   samples (mic/speaker/barge-in)':<34} "
        f"{'/'.join(str(o[k].n) for k in ('mic', 'speaker', 'barge_in')):>15} "
        f"{'/'.join(str(r[k].n) for k in ('mic', 'speaker', 'barge_in')):>15}"
    )
    if glitch:
        go, gr = glitch["ours"]["counters"], glitch["reference"]["counters"]
        lines.append("-" * 85)
        for key, label in (
            ("input_overflows", "3  input overflows"),
            ("output_underflows", "3  output underflows (device)"),
            ("player_starved", "   player ran dry mid-response"),
            ("dropped_blocks", "3  mic blocks dropped"),
            ("mic_gaps", "3  gaps in the mic track"),
            ("mic_gap_ms", "   audio missing at the gaps (ms)"),
            ("mic_inserted_ms", "   silence inserted (stimulus) (ms)"),
            ("turns", "   turns (committed)"),
        ):
            lines.append(
                f"{label:<34} {go.get(key)!s:>15} {gr.get(key)!s:>15} {'':>9} {'0' if key != 'turns' else '':>8}"
            )
        lines.append(
            f"   ours' speaker: buffer {go.get('speaker_buffer_ms')} ms at the end, {go.get('speaker_reopens')} "
            f"re-opens, underflows at {go.get('underflow_times_s')} s, jitter cushion {go.get('jitter_ms')} ms"
        )
        lo = glitch["ours"]["load"]
        lines.append(
            f"   busy kernel: {100 * lo['busy_fraction']:.0f}% of the main thread, "
            f"{lo['redraws']:.0f} chart redraws ({lo['redraw_ms']:.0f} ms each), "
            f"{lo['meter_updates']:.0f} meter updates, {lo['bursts']:.0f} x 100 ms CPU bursts (ours)"
        )
    lines.append(f"ours:      {o['describe']}")
    lines.append(f"reference: {r['describe']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=40.0, help="figures 1-2: seconds per client (default 40)")
    parser.add_argument("--minutes", type=float, default=10.0, help="figure 3: minutes per client (0 skips it)")
    parser.add_argument("--json", type=Path, default=None, help="also write every number to this JSON file")
    parser.add_argument(
        "--tune", default="", help="override our device settings, e.g. mic_blocksize=240,spk_latency=0.01"
    )
    parser.add_argument("--clients", default="ours,reference", help="which clients to run (default: both)")
    parser.add_argument("--latency", default=None, help="our latency profile: auto (default), low, robust")
    parser.add_argument(
        "--switch-interval", type=float, default=None, help="sys.setswitchinterval for this process (experiment)"
    )
    parser.add_argument(
        "--machine-load", type=int, default=0, metavar="N", help="N busy processes pinned to each core (default 0)"
    )
    parser.add_argument("--results", type=Path, default=None, help="append the table to this Markdown file")
    args = parser.parse_args(argv)
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    names = [n.strip() for n in args.clients.split(",") if n.strip()]
    tune: dict[str, Any] = {}
    for item in filter(None, args.tune.split(",")):
        key, value = item.split("=", 1)
        tune[key] = value if value in ("low", "high") else (float(value) if "." in value else int(value))

    from _load import machine_load

    from voicelive_nb.audio.pulse import VirtualAudio

    started = time.strftime("%Y-%m-%d %H:%M")
    print(f"latency bench on {platform.node()} ({os.cpu_count()} cores), {time.strftime('%Y-%m-%d %H:%M:%S')}")
    loads: list[float] = [os.getloadavg()[0]]
    with (
        machine_load(args.machine_load) if args.machine_load > 0 else contextlib.nullcontext() as hog,
        VirtualAudio(rate=RATE) as _va,
    ):
        if hog:
            print(f"machine load: {hog['processes']} busy processes pinned to {hog['cores']} cores", flush=True)
        probe = ProbeProcess()
        try:
            fig = {}
            for name, make in (
                ("ours", lambda ep: OurClient(ep, tune, latency=args.latency)),
                ("reference", lambda ep: RefClient(ep)),
            ):
                if name not in names:
                    continue
                print(f"figures 1-2: {name}, {args.seconds:.0f} s ...", flush=True)
                fig[name] = latency_phase(probe, make, args.seconds)
            glitch = None
            if args.minutes > 0:
                glitch = {}
                emulator = Emulator()
                try:
                    with tempfile.TemporaryDirectory(prefix="latency-bench-") as tmp:
                        wav = Path(tmp) / "loop.wav"
                        loop_s = speech_loop(wav)
                        vad = {"turn_detection": {"type": "server_vad"}}
                        for name, make in (
                            ("ours", lambda ep: OurClient(ep, tune, str(Path(tmp) / "rec"), args.latency)),
                            ("reference", lambda ep: RefClient(ep, config=vad)),
                        ):
                            if name not in names:
                                continue
                            print(
                                f"figure 3: {name}, {args.minutes:g} min ({loop_s:.1f} s speech loop) ...", flush=True
                            )
                            glitch[name] = glitch_phase(probe, make, emulator.endpoint, wav, args.minutes)
                finally:
                    emulator.close()
        finally:
            probe.close()
        loads.append(os.getloadavg()[0])
    print()
    if len(fig) < 2 or (glitch is not None and len(glitch) < 2):
        print(json.dumps({k: {kk: str(vv) for kk, vv in v.items() if kk != "raw"} for k, v in fig.items()}, indent=1))
        print(json.dumps(glitch, indent=1, default=str))
        if args.json is not None:
            args.json.write_text(json.dumps({"figures": fig, "glitch": glitch}, indent=1, default=str))
        return 0
    text = table(fig, glitch)
    load_line = (
        f"machine load: {args.machine_load} busy process(es) pinned to each of {os.cpu_count()} cores; "
        if args.machine_load
        else ""
    ) + f"load average {loads[0]:.1f} at the start, {loads[-1]:.1f} at the end"
    print(text)
    print(load_line)
    if args.results is not None:
        command = "bench/latency_bench.py " + " ".join(a for a in (argv or sys.argv[1:]) if "results" not in a)
        with args.results.open("a", encoding="utf-8") as f:
            f.write(f"\n## {started}: `{command.strip()}`\n\n{load_line}\n\n```\n{text}\n```\n")
        print(f"appended to {args.results}")
    if args.json is not None:
        out = {
            "figures": {
                k: {kk: (vv.__dict__ if isinstance(vv, Stat) else vv) for kk, vv in v.items()} for k, v in fig.items()
            },
            "glitch": glitch,
        }
        args.json.write_text(json.dumps(out, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
