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

MCP part: the same session with an MCP server (the tests' real MCP server on loopback,
``require_approval: never``) asks ``--mcp-calls`` questions that each make one MCP call.
The figure is the emulator's MCP call as the client sees it, from
``response.mcp_call.in_progress`` to ``response.mcp_call.completed`` (the first call of the
conversation apart), the requests the MCP server saw (handshakes: ``server/discover`` or
``initialize``), and the emulator's worst event-loop lag meanwhile (a stall there holds up
every conversation).
"""

from __future__ import annotations

import argparse
import logging
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
NOTES = "## Notes"
"""The results file's hand-written part: from this heading on, a run keeps it."""


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


def _answered(record: Any) -> bool:
    return any(o.get("type") == "message" for o in record.data["response"]["output"])


def run_mcp(endpoint: str, url: str, calls: int) -> list[float]:
    """``calls`` questions that each make one MCP call; the in_progress -> completed times (ms)."""
    config = SessionConfig(modalities=("text",), turn_detection=None, parallel_tool_calls=False)
    server = {"type": "mcp", "server_label": "orders", "server_url": url, "require_approval": "never"}
    session = VoiceSession(
        config,
        connection=ConnectionSettings(endpoint=endpoint, api_key="bench"),
        mic=WavMic(np.zeros(4800, dtype=np.int16), loop=True),
        speaker=CaptureSpeaker(),
        tools=[server],
    )
    started: dict[str, float] = {}
    spans: list[float] = []

    def note(r: Any) -> None:
        if r.type == "response.mcp_call.in_progress":
            started[r.data["item_id"]] = r.t
        elif r.type == "response.mcp_call.completed" and r.data["item_id"] in started:
            spans.append((r.t - started.pop(r.data["item_id"])) * 1000.0)

    session.subscribe(note)
    with session:
        session.wait_for("mcp_list_tools.completed", timeout=30, since=session.started_at)
        for i in range(calls):
            mark = time.monotonic()
            session.send_text(f"Please look up order {i}")
            session.wait_for("response.done", timeout=30, since=mark, predicate=_answered)
    return spans


def mcp_table(emu: Emulator, calls: int) -> str:
    """The MCP part: one conversation against the tests' MCP server."""
    from tests.mcp_server import serve_mcp

    with serve_mcp() as server:
        for name in ("voicelive_nb", "httpx", "httpx2", "mcp"):  # uvicorn's logging setup lets INFO through
            logging.getLogger(name).setLevel(logging.WARNING)
        load = os.getloadavg()[0]
        emu.stats(reset=True)
        spans = run_mcp(emu.endpoint, server.url, calls)
        lag = emu.stats()["loop_lag_max_ms"]
        methods = list(server.methods)
    rest = spans[1:]
    handshakes = methods.count("server/discover") + methods.count("initialize")
    lines = [
        "| MCP calls | first call ms | then median ms | p95 ms | max ms | handshakes | requests "
        "| emulator loop lag max ms | load (1 min) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {len(spans)} | {spans[0]:.1f} | {statistics.median(rest):.1f} | {_percentile(rest, 0.95):.1f} | "
        f"{max(rest):.1f} | {handshakes} | {len(methods)} | {lag:.0f} | {load:.2f} on {os.cpu_count()} cores |",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="questions per shape (default 200)")
    parser.add_argument("--mcp-calls", type=int, default=30, help="MCP questions (default 30; 0: no MCP part)")
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
        mcp = mcp_table(emu, args.mcp_calls) if args.mcp_calls > 1 else ""
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
    if mcp:
        print(mcp)
    if not args.no_write:
        doc = (__doc__ or "").split("\n\nRun:")[0]
        old = RESULTS.read_text() if RESULTS.exists() else ""
        notes = old[old.index(NOTES) :] if NOTES in old else ""  # kept across runs
        RESULTS.write_text(
            "# Tool-call overhead (bench/tools_bench.py)\n\n"
            f"{doc}\n\nMeasured {time.strftime('%Y-%m-%d %H:%M')} with `python bench/tools_bench.py "
            f"--calls {args.calls} --mcp-calls {args.mcp_calls}`:\n\n{table}\n\n"
            f"Target <= 5 ms (median and p95): {'met' if ok else 'not met'}.\n"
            + (f"\nMCP calls through the emulator (one conversation):\n\n{mcp}\n" if mcp else "")
            + (f"\n{notes}" if notes else "")
        )


if __name__ == "__main__":
    main()
