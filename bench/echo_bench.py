"""Echo cancellation in the virtual room: off / local / server / both, in one run.

    .venv/bin/python bench/echo_bench.py [--cycles 20] [--delay-ms 60] [--gain-db 0] [--out bench/echo_results.md]

Each mode gets a fresh session (``SessionConfig(echo_cancellation=mode)``) on the PulseAudio
virtual devices with the room's echo (:class:`~voicelive_nb.audio.room.VirtualRoom`) and the
real emulator over a socket, and runs ``cycles`` cycles of tests/echo/harness.py: the user
asks, the assistant answers, the user talks over the answer one second in, the answer to
that plays to its end -- two replies and one interruption a cycle.  Columns:

* false barge-ins: ``speech_started`` with no user speaking, over all replies, and per 20;
* true barge-ins: interruptions detected / spoken;
* ERL: the room's echo level (speaker over mic, measured by the session's meters), dB;
* ERLE: echo removed while only the assistant speaks (the replies played to their end), dB;
  ``both`` = local + server (they are in series);
* added ms: the mic latency the local canceller adds (its filter delay + the wall time to
  clean a block, on the session's loop); server: the delay the emulator's canceller puts
  before its VAD (its filter delay; it never holds audio back further);
* CPU %: canceller CPU per second of audio, % of one core -- local: the whole read path on
  the session's loop thread (re-chunking, far-end look-up, AEC3, meters); server: the
  emulator's canceller on its core thread.  Both run in this one process (the emulator too),
  so they compete for the GIL as they would not with the real service.

Real time only: the room is PulseAudio's and the local canceller works on the sound card's
clocks, so nothing here can run faster than the audio (about 14 s a cycle: ~5 min a mode at
20 cycles, ~20 min for the four).  The 1-minute load average is printed with each mode.
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
    """One mode's cycles on a fresh session; its table row."""
    from voicelive_nb.connection import ConnectionSettings

    load0 = os.getloadavg()[0]
    session = open_session(mode, ConnectionSettings(endpoint=emu.endpoint, api_key="bench"))
    t0 = time.monotonic()
    with session:
        warm_up(session, va)
        mic = session.mic
        conv = emu.conversations[-1]

        def meters() -> dict[str, Any]:
            out: dict[str, Any] = {"room": mic.canceller.meter.totals()}
            if mode in ("local", "both"):
                out["local"] = out["room"]
            if conv.echo is not None:
                out["server"] = conv.echo._ec.meter.totals()
            return out

        tally = run_cycles(session, va, Tally(mode), *speech, cycles=cycles, meters=meters)
        local = mic.stats()
        server = conv.echo.stats() if conv.echo is not None else None
    row: dict[str, Any] = {
        "mode": mode,
        "false": tally.false_barge_ins,
        "replies": tally.replies,
        "true": tally.true_detected,
        "interruptions": tally.interruptions,
        "seconds": round(time.monotonic() - t0),
        "load": f"{load0:.1f}-{os.getloadavg()[0]:.1f}",
    }
    room = [(a["room"], b["room"]) for a, b in tally.meter_spans]
    e_far = sum(b["far_energy"] - a["far_energy"] for a, b in room)
    e_in = sum(b["in_energy"] - a["in_energy"] for a, b in room)
    # (off: the assistant talks to itself until cut off, so no reply ends in quiet: all frames)
    row["erl_db"] = round(10 * np.log10(e_far / e_in), 1) if e_far > 0 and e_in > 0 else local["erl_db"]
    erles, added, cpu = [], 0.0, 0.0
    if mode in ("local", "both"):
        erles.append(erle([(a["local"], b["local"]) for a, b in tally.meter_spans]) or 0.0)
        added += local["added_ms"]
        cpu += local["read_cpu_share"] * 100.0
        row["local_cpu_pct"] = round(local["read_cpu_share"] * 100.0, 2)
        row["restarts"] = local["restarts"]
    if server is not None and mode in ("server", "both"):
        erles.append(erle([(a["server"], b["server"]) for a, b in tally.meter_spans]) or 0.0)
        added += apm_delay_samples(24000) * 1000.0 / 24000
        cpu += server["cpu_share"] * 100.0
        row["server_cpu_pct"] = round(server["cpu_share"] * 100.0, 2)
        row["playback_gaps"] = server["playback_gaps"]
    row["erle_db"] = round(sum(erles), 1) if erles else None
    row["added_ms"] = round(added, 1)
    row["cpu_pct"] = round(cpu, 2)
    return row


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown table of the rows."""
    head = (
        "| mode | false barge-ins (replies) | per 20 replies | true barge-ins | ERL dB | ERLE dB | added ms "
        "| CPU % of a core | run s | load |\n|---|---|---|---|---|---|---|---|---|---|\n"
    )
    body = ""
    for r in rows:
        per20 = 20.0 * r["false"] / max(1, r["replies"])
        erl, erle_db = ("-" if r[k] is None else r[k] for k in ("erl_db", "erle_db"))
        body += (
            f"| {r['mode']} | {r['false']} ({r['replies']}) | {per20:.1f} | {r['true']}/{r['interruptions']} "
            f"| {erl} | {erle_db} | {r['added_ms']} | {r['cpu_pct']} | {r['seconds']} | {r['load']} |\n"
        )
    return head + body


def main(argv: list[str] | None = None) -> None:
    """Run the modes, print the table, write the results file."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cycles", type=int, default=20, help="cycles per mode (two replies, one interruption each)")
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
    started = time.strftime("%Y-%m-%d %H:%M")
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
    details = "\n".join(
        f"- {r['mode']}: "
        + ", ".join(f"{k} {r[k]}" for k in ("local_cpu_pct", "restarts", "server_cpu_pct", "playback_gaps") if k in r)
        for r in rows
        if any(k in r for k in ("local_cpu_pct", "server_cpu_pct"))
    )
    header = (
        f"# Echo bench ({started}): {a.cycles} cycles a mode, room {a.delay_ms:g} ms, {a.gain_db:g} dB loopback, "
        f"7 ms reflections\n\n`.venv/bin/python bench/echo_bench.py --cycles {a.cycles}` (see its docstring for the "
        "columns). Load = the machine's 1-minute load average at the start and end of each mode (2 cores).\n\n"
    )
    Path(a.out).write_text(header + text + ("\nPer part:\n" + details + "\n" if details else ""))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
