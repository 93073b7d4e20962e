"""How much the notebook panel costs the kernel: comm messages per second and kernel CPU.

A real kernel (jupyter_client) runs a headless session (WAV prompts as the mic, capture
speaker) against an emulator in *this* process, so the kernel's CPU is the session plus
whatever watches it.  Two runs with the same speech:

* ``session``: a bare ``VoiceSession`` (the baseline),
* ``panel``: the same session inside a displayed ``Panel`` (refresher on the kernel's loop).

We count every iopub ``comm_msg`` the kernel sends (what a browser would receive) and
sample the kernel process's CPU time.  The difference between the runs is the panel.

    .venv/bin/python bench/panel_bench.py [--seconds 25] [--hz 20]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import time
from typing import Any

SETUP = {
    "session": """
from voicelive_nb import VoiceSession
session = VoiceSession()
session.start()
""",
    "panel": """
from voicelive_nb import Panel
panel = Panel(refresh_hz={hz})
display(panel)
panel.connect()
session = panel.session
""",
}

REPORT = """
import json
turns = session.tracker.turns if session.tracker else []
extra = {}
if "panel" in globals():
    extra = dict(refreshes=panel.refreshes, widget_updates=panel.widget_updates, chart_draws=panel.chart.draws)
print("BENCH" + json.dumps(dict(turns=len(turns), state=session.state, **extra)))
session.stop()
"""


def run(mode: str, seconds: float, hz: float, endpoint: str) -> dict[str, Any]:
    import psutil
    from jupyter_client.manager import KernelManager

    env = {
        **os.environ,
        "VOICELIVE_NB_HEADLESS": "1",
        "AZURE_VOICELIVE_ENDPOINT": endpoint,
        "AZURE_VOICELIVE_API_KEY": "bench",
        "HF_HUB_OFFLINE": "1",
    }
    env.pop("AZURE_VOICELIVE_AUTH", None)
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=env)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        proc = psutil.Process(km.provisioner.pid)  # type: ignore[union-attr]
        kc.execute(SETUP[mode].format(hz=hz))
        comm_msgs = comm_bytes = 0
        cpu0 = None
        t_start = time.monotonic()
        deadline = t_start + seconds
        # Count from the moment the session runs; the first second (imports, connect) is excluded.
        warmup_until = t_start + 1.0
        while time.monotonic() < deadline:
            try:
                msg = kc.get_iopub_msg(timeout=0.2)
            except queue.Empty:
                msg = None
            now = time.monotonic()
            if cpu0 is None and now >= warmup_until:
                cpu0, t0 = sum(proc.cpu_times()[:2]), now
            if msg is None or cpu0 is None:
                continue
            if msg["msg_type"] == "comm_msg":
                comm_msgs += 1
                comm_bytes += len(json.dumps(msg["content"], default=str))
                comm_bytes += sum(len(b) for b in msg.get("buffers") or [])
            elif msg["msg_type"] == "error":
                raise RuntimeError("\n".join(msg["content"]["traceback"]))
        elapsed = time.monotonic() - t0
        cpu = sum(proc.cpu_times()[:2]) - (cpu0 or 0.0)
        kc.execute(REPORT)
        info: dict[str, Any] = {}
        end = time.monotonic() + 30
        while time.monotonic() < end:
            try:
                msg = kc.get_iopub_msg(timeout=max(0.1, end - time.monotonic()))
            except queue.Empty:
                break
            if msg["msg_type"] == "error":
                raise RuntimeError("\n".join(msg["content"]["traceback"]))
            if msg["msg_type"] == "stream" and "BENCH" in msg["content"]["text"]:
                info = json.loads(msg["content"]["text"].split("BENCH", 1)[1].splitlines()[0])
                break
        return {
            "mode": mode,
            "seconds": round(elapsed, 1),
            "comm_msgs_per_s": round(comm_msgs / elapsed, 1),
            "comm_kB_per_s": round(comm_bytes / elapsed / 1000, 1),
            "kernel_cpu_pct": round(100 * cpu / elapsed, 1),
            **info,
        }
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=25.0, help="measured time per run")
    parser.add_argument("--hz", type=float, default=20.0, help="panel refresh rate")
    args = parser.parse_args()
    from voicelive_nb.emulator import Emulator

    results = []
    with Emulator() as emu:
        for mode in ("session", "panel"):
            result = run(mode, args.seconds, args.hz, emu.endpoint)
            results.append(result)
            print(json.dumps(result), flush=True)
    base, panel = results
    print(
        f"panel at {args.hz:g} Hz: {panel['comm_msgs_per_s']} comm msgs/s ({panel['comm_kB_per_s']} kB/s), "
        f"kernel CPU {panel['kernel_cpu_pct']}% vs {base['kernel_cpu_pct']}% for the bare session "
        f"(panel cost ≈ {panel['kernel_cpu_pct'] - base['kernel_cpu_pct']:.1f}% of a core)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
