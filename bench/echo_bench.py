"""Echo cancellation in the virtual room: off / local / server / both, in one run.

    .venv/bin/python bench/echo_bench.py [--cycles 20] [--delay-ms 60] [--gain-db 0] [--out bench/echo_results.md]

Each mode gets a fresh session on the PulseAudio virtual devices with the room's echo
(:class:`~voicelive_nb.audio.room.VirtualRoom`) and the real emulator over a socket, and runs
``cycles`` cycles of tests/echo/harness.py: the user asks, the assistant answers, the user
talks over the answer one second in, the answer to that plays to its end.  Columns:

* false barge-ins: ``speech_started`` with no user speaking (over the replies asked for);
* true barge-ins: interruptions detected / spoken;
* ERLE: echo removed while only the assistant speaks (the replies played to their end), dB;
  ``both`` = local + server (they are in series);
* added ms: the mic latency the canceller adds (its filter delay + the processing per 10 ms
  block; server: the delay the emulator's canceller puts before its VAD);
* CPU %: canceller CPU per second of audio, % of one core (local: the session loop thread;
  server: the emulator's core thread).

Real time only: the room is PulseAudio's and the local canceller works on device callbacks'
clocks, so nothing here can run faster than the audio (about 12 s a cycle, 20 cycles a mode:
~16 min for the four modes).  The load average is printed with each mode.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.echo.harness import MODES, REPLY, Tally, erle, open_session, run_cycles, warm_up  # noqa: E402
from tests.speech import speak  # noqa: E402
from voicelive_nb.audio.echo import apm_delay_samples  # noqa: E402


def run_mode(mode: str, va: Any, emu: Any, speech: tuple[np.ndarray, np.ndarray], cycles: int) -> dict[str, Any]:
    from voicelive_nb.connection import ConnectionSettings

    load0 = os.getloadavg()[0]
    session = open_session(mode, ConnectionSettings(endpoint=emu.endpoint, api_key="bench"))
    t0 = time.monotonic()
    with session:
        warm_up(session, va)
        mic = session.mic
        conv = emu.conversations[-1]

        def meters() -> dict[str, Any]:
            out: dict[str, Any] = {}
            if mode in ("local", "both"):
                out["local"] = mic.canceller.meter.totals()
            if conv.echo is not None:
                out["server"] = conv.echo._ec.meter.totals()
            return out

        tally = run_cycles(session, va, Tally(mode), *speech, cycles=cycles, meters=meters)
        local = mic.stats() if mode in ("local", "both") else None
        server = conv.echo.stats() if conv.echo is not None else None
    row: dict[str, Any] = {
        "mode": mode,
        "false": tally.false_barge_ins,
        "replies": tally.replies,
        "true": f"{tally.true_detected}/{tally.interruptions}",
        "seconds": round(time.monotonic() - t0),
        "load": f"{load0:.2f}-{os.getloadavg()[0]:.2f}",
    }
    erles, added, cpu = [], 0.0, 0.0
    for name, stats in (("local", local), ("server", server)):
        if stats is None:
            continue
        spans = [(a[name], b[name]) for a, b in tally.meter_spans if name in a and name in b]
        e = erle(spans)
        erles.append(e or 0.0)
        frames = max(1, stats["audio_s"] * 100)
        per_block_ms = stats["busy_share"] * stats["audio_s"] * 1000.0 / frames
        added += apm_delay_samples(24000) * 1000.0 / 24000 + (per_block_ms if name == "local" else 0.0)
        cpu += stats["cpu_share"] * 100.0
    row["erle_db"] = round(sum(erles), 1) if erles else None
    row["added_ms"] = round(added, 1)
    row["cpu_pct"] = round(cpu, 2)
    return row


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| mode | false barge-ins (replies) | true barge-ins | ERLE dB | added ms | CPU % core | run s | load |\n"
        "|---|---|---|---|---|---|---|---|\n"
    )
    body = ""
    for r in rows:
        e = r["erle_db"] if r["erle_db"] is not None else "-"
        body += f"| {r['mode']} | {r['false']} ({r['replies']}) | {r['true']} | {e} | {r['added_ms']} | {r['cpu_pct']}"
        body += f" | {r['seconds']} | {r['load']} |\n"
    return head + body


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cycles", type=int, default=20, help="cycles per mode (one interruption each)")
    ap.add_argument("--delay-ms", type=float, default=60.0)
    ap.add_argument("--gain-db", type=float, default=0.0)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--out", default=str(ROOT / "bench" / "echo_results.md"))
    a = ap.parse_args(argv)
    from voicelive_nb.audio.pulse import VirtualAudio
    from voicelive_nb.audio.room import VirtualRoom
    from voicelive_nb.emulator import Emulator, EmulatorSettings

    pad = np.zeros(2400, np.int16)
    speech = (
        np.concatenate([pad, speak("What is the weather like today?", voice="en-gb"), pad]),
        np.concatenate([speak("Wait, stop, tell me about tomorrow instead.", voice="en-gb"), pad]),
    )
    rows = []
    settings = EmulatorSettings(transcribe_for_responder=False)
    with (
        VirtualAudio() as va,
        VirtualRoom(va, delay_ms=a.delay_ms, gain_db=a.gain_db),
        Emulator(responder=lambda text, session: REPLY, settings=settings, asr=False) as emu,
    ):
        for mode in a.modes.split(","):
            row = run_mode(mode, va, emu, speech, a.cycles)
            print(row, flush=True)
            rows.append(row)
    text = table(rows)
    print(text)
    header = (
        f"# Echo bench ({time.strftime('%Y-%m-%d %H:%M')}): {a.cycles} cycles a mode, room {a.delay_ms:g} ms, "
        f"{a.gain_db:g} dB loopback, 7 ms reflections\n\n`.venv/bin/python bench/echo_bench.py --cycles {a.cycles}`"
        " (see its docstring for the columns). Load = 1-min load average at the start and end of each mode.\n\n"
    )
    Path(a.out).write_text(header + text)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
