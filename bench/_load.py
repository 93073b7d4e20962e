"""A busy notebook kernel, simulated in the calling (main) thread.

What a JupyterLab kernel does while a session runs, all holding the GIL:

* the panel's latency chart redrawn (:class:`voicelive_nb.panel.chart.LatencyChart`,
  one kept Agg figure rendered to PNG) each time a turn completes;
* meter updates at 20 Hz (:meth:`voicelive_nb.panel.state.PanelState.snapshot`);
* the user's own cells: a CPU-bound pure-Python loop in 100 ms bursts, one every
  ``burst_every_s`` seconds.

:func:`busy_kernel` runs until a deadline and returns how much of the thread it kept
busy, so the report can say how heavy the load was.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

_SPIN = "import os, sys; os.sched_setaffinity(0, {int(sys.argv[1])})\nwhile True: pass"


@contextmanager
def machine_load(per_core: int = 1) -> Iterator[dict[str, Any]]:
    """A loaded *machine*: ``per_core`` busy processes pinned to each CPU core, at normal priority.

    Unlike :func:`busy_kernel` (this process's GIL), these compete for the CPUs themselves,
    as other programs on a shared machine do: the audio callback threads, PulseAudio and the
    emulator then wait for a core.  Yields ``{"processes", "cores"}``; ends them on exit.
    """
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    procs = [
        subprocess.Popen([sys.executable, "-c", _SPIN, str(core)], stdin=subprocess.DEVNULL)
        for core in cores
        for _ in range(per_core)
    ]
    try:
        yield {"processes": len(procs), "cores": len(cores)}
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def _burn(seconds: float) -> int:
    """Pure-Python CPU work (no C calls that release the GIL) for ``seconds``."""
    end = time.perf_counter() + seconds
    n = 0
    x = 1
    while time.perf_counter() < end:
        for _ in range(2000):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        n += 1
    return n + (x & 1)


def busy_kernel(
    seconds: float,
    turns: Callable[[], Sequence[Any]],
    state: Any,
    *,
    burst_s: float = 0.1,
    burst_every_s: float = 0.5,
    meter_hz: float = 20.0,
    progress: Callable[[float], None] | None = None,
) -> dict[str, float]:
    """Keep the calling thread busy like a notebook kernel for ``seconds``.

    Args:
        seconds: How long.
        turns: Returns the completed turns so far (the chart is redrawn when it grows).
        state: A :class:`~voicelive_nb.panel.state.PanelState` (``snapshot`` at ``meter_hz``).
        burst_s: Length of one CPU burst.
        burst_every_s: A burst starts this often.
        meter_hz: Meter updates per second.
        progress: Called about every 30 s with the elapsed seconds.

    Returns:
        ``busy_fraction`` (share of wall time spent working), ``redraws``, ``redraw_ms``
        (mean), ``meter_updates``, ``bursts``.
    """
    from voicelive_nb.panel.chart import LatencyChart

    chart = LatencyChart()
    start = time.monotonic()
    end = start + seconds
    next_meter = start
    next_burst = start + burst_every_s
    next_progress = start + 30.0
    seen = 0
    busy = 0.0
    redraws = meters = bursts = 0
    redraw_total = 0.0
    try:
        while True:
            now = time.monotonic()
            if now >= end:
                break
            if now >= next_meter:
                t0 = time.perf_counter()
                state.snapshot(now)
                busy += time.perf_counter() - t0
                meters += 1
                next_meter += 1.0 / meter_hz
            done = turns()
            if len(done) != seen:
                seen = len(done)
                t0 = time.perf_counter()
                chart.render(list(done))
                dt = time.perf_counter() - t0
                busy += dt
                redraw_total += dt
                redraws += 1
            if now >= next_burst:
                t0 = time.perf_counter()
                _burn(burst_s)
                busy += time.perf_counter() - t0
                bursts += 1
                next_burst += burst_every_s
            if progress is not None and now >= next_progress:
                progress(now - start)
                next_progress += 30.0
            time.sleep(max(0.0, min(next_meter, next_burst, end) - time.monotonic()))
    finally:
        chart.close()
    wall = time.monotonic() - start
    return {
        "busy_fraction": busy / wall if wall > 0 else 0.0,
        "redraws": float(redraws),
        "redraw_ms": 1000.0 * redraw_total / redraws if redraws else 0.0,
        "meter_updates": float(meters),
        "bursts": float(bursts),
    }
