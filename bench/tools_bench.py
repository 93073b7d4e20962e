"""Tool-call bench: the client's overhead per function call, end to end over a real socket.

Run: ``python bench/tools_bench.py [--calls 200]`` (about half a minute).  Prints a table
and writes ``bench/tools_results.md``.

A :class:`~voicelive_nb.VoiceSession` talks to the local emulator (loopback WebSocket, the
real SDK, text modality so no TTS runs).  Each turn is a text question the emulator's
default rule answers with a function call; the function returns at once.  The session
stamps the arrival of ``response.function_call_arguments.done`` (on receipt of the frame,
before parsing) and the moment the ``function_call_output`` left through the socket; the
**overhead** is that span less the function's own run time (``tool.result`` record:
``overhead_ms``).  It covers parsing and publishing the event, the protocol's decision,
the hop into the worker pool and back (argument parsing and pydantic validation included)
and building and sending the output event.  Two shapes: one call per response, and two
parallel calls per response (each call measured).

The target is <= 5 ms per call (median and p95).  The figures depend on the machine's load,
printed with them (1-minute load average and cores).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from voicelive_nb import SessionConfig, VoiceSession  # noqa: E402
from voicelive_nb.audio.wav import CaptureSpeaker, WavMic  # noqa: E402
from voicelive_nb.connection import ConnectionSettings  # noqa: E402
from voicelive_nb.emulator import Emulator, EmulatorSettings  # noqa: E402
from voicelive_nb.events import Local  # noqa: E402

RESULTS = ROOT / "bench" / "tools_results.md"


def get_weather(city: str) -> dict[str, Any]:
    """The weather in a city."""
    return {"sky": "sunny", "city": city}


def get_time(zone: str) -> str:
    """The time in a zone."""
    return "noon"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def run(endpoint: str, question: str, turns: int) -> list[dict[str, Any]]:
    """``turns`` questions, one at a time; the tool.result records."""
    config = SessionConfig(modalities=("text",), turn_detection=None)
    session = VoiceSession(
        config,
        connection=ConnectionSettings(endpoint=endpoint, api_key="bench"),
        mic=WavMic(np.zeros(4800, dtype=np.int16), loop=True),
        speaker=CaptureSpeaker(),
        tools=[get_weather, get_time],
    )
    results: list[dict[str, Any]] = []  # every one (the session's history keeps only the latest records)
    session.subscribe(lambda r: results.append(dict(r.data)) if r.type == Local.TOOL_RESULT else None)
    with session:
        session.wait_for("session.updated", timeout=20, since=session.started_at)
        for i in range(turns):
            mark = time.monotonic()
            session.send_text(f"{question} {i}")
            session.wait_for(
                "response.done",
                timeout=20,
                since=mark,
                predicate=lambda r: any(o.get("type") == "message" for o in r.data["response"]["output"]),
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="questions per shape (default 200)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave tools_results.md alone")
    args = parser.parse_args()
    settings = EmulatorSettings(realtime_factor=0, time_to_first_audio_ms=0)
    rows = []
    with Emulator(settings=settings, asr=False) as emu:
        run(emu.endpoint, "What is the weather in Paris", 10)  # warm up (imports, pools, pydantic)
        for label, question in (
            ("one call per response", "What is the weather in Paris"),
            ("two parallel calls per response", "weather and time in Paris"),
        ):
            load = os.getloadavg()[0]
            results = run(emu.endpoint, question, args.calls)
            overhead = [r["overhead_ms"] for r in results if r["ok"]]
            run_ms = [r["duration_ms"] for r in results if r["ok"]]
            rows.append(
                {
                    "shape": label,
                    "calls": len(overhead),
                    "median": statistics.median(overhead),
                    "p95": _percentile(overhead, 0.95),
                    "max": max(overhead),
                    "fn": statistics.median(run_ms),
                    "load": load,
                }
            )
    header = "| shape | calls | overhead median ms | p95 ms | max ms | function run median ms | load (1 min) |"
    lines = [header, "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['shape']} | {r['calls']} | {r['median']:.2f} | {r['p95']:.2f} | {r['max']:.2f} | "
            f"{r['fn']:.2f} | {r['load']:.2f} on {os.cpu_count()} cores |"
        )
    table = "\n".join(lines)
    print(table)
    ok = all(r["median"] <= 5.0 and r["p95"] <= 5.0 for r in rows)
    print(f"target <= 5 ms (median and p95): {'met' if ok else 'NOT met'}")
    if not args.no_write:
        doc = (__doc__ or "").split("\n\nRun:")[0]
        RESULTS.write_text(
            "# Tool-call overhead (bench/tools_bench.py)\n\n"
            f"{doc}\n\nMeasured {time.strftime('%Y-%m-%d %H:%M')} with `python bench/tools_bench.py "
            f"--calls {args.calls}`:\n\n{table}\n\nTarget <= 5 ms (median and p95): {'met' if ok else 'not met'}.\n"
        )


if __name__ == "__main__":
    main()
