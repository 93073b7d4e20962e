"""Soak: a long simulated session against the local emulator, watched for leaks and losses.

A WAV of spoken turns (eSpeak NG) loops as the mic in real time; the emulator detects the
turns with its VAD and answers with speech; a CaptureSpeaker drains the player in real
time; everything is recorded to a folder.  Every ``--every`` seconds the bench samples
the process's memory (RSS), thread count, open file descriptors, the queues (event bus,
player, emulator send queues) and the session's counters (dropped mic blocks, input
overflows, output underflows, records the bus dropped).

    .venv/bin/python bench/soak.py --minutes 30 --out runs/soak
    .venv/bin/python bench/soak.py --seconds 60            # the short version the tests run

Targets: flat memory after warm-up, no growth in threads or descriptors, zero lost mic
frames (dropped blocks + overflows), no records dropped, the recording loads back whole.
Warm-up (excluded from the steady-state figures): a quarter of the run, at most 5 minutes.
``output_underflows`` counts blocks the player ran dry mid-response (audio arriving late,
e.g. a starved CPU): reported, not a failure.
Prints a table over time and a summary; ``--out`` also writes ``soak.json`` there.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RATE = 24_000
SCRIPT: list[str | float] = [
    0.5,
    "What is the weather like today?",
    3.5,
    "Tell me a short joke, please.",
    4.0,
    "Thank you, that was nice.",
    3.0,
    "One more question: how far is the moon?",
    4.5,
]


@dataclass
class Sample:
    """One look at the process and the session."""

    t: float
    rss_mb: float
    threads: int
    """Threads other than worker-pool threads (those must stay constant)."""
    pool_threads: int
    """Worker threads of bounded pools (started lazily, up to each pool's size)."""
    fds: int
    bus_depth: int
    player_queued_ms: float
    emulator_queue: int
    records: int
    mic_seconds: float
    turns: int
    dropped_blocks: int
    input_overflows: int
    output_underflows: int
    bus_dropped: int
    late_deltas_dropped: int
    cpu_s: float


def script_pcm() -> np.ndarray:
    """The looped mic audio: spoken questions with pauses for the answers."""
    from tests.speech import speech_pcm

    pcm, _ = speech_pcm(SCRIPT)
    return pcm


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


# Bounded thread pools start their workers on demand, so their count rises during warm-up.
_POOL_PREFIXES = ("emulator-asr", "emulator-work", "emulator-core", "ThreadPoolExecutor-", "asyncio_")


def _threads() -> tuple[int, int]:
    """(threads outside worker pools, pool worker threads)."""
    names = [t.name for t in threading.enumerate()]
    pool = sum(1 for n in names if n.startswith(_POOL_PREFIXES))
    return len(names) - pool, pool


def _emulator_queue(emu: Any) -> int:
    return sum(c.queue.qsize() for c in list(getattr(emu, "_conns", ())))


def run_soak(
    seconds: float,
    *,
    folder: str | Path | None = None,
    every: float = 10.0,
    warmup: float = 20.0,
    echo: bool = True,
) -> dict[str, Any]:
    """Run the soak for ``seconds`` and return the samples and a summary (see the module doc)."""
    from voicelive_nb.audio.wav import CaptureSpeaker, WavMic
    from voicelive_nb.connection import ConnectionSettings
    from voicelive_nb.emulator import Emulator, EmulatorSettings
    from voicelive_nb.events import Local
    from voicelive_nb.recording import Recording
    from voicelive_nb.session import VoiceSession

    tmp = None
    if folder is None:
        tmp = tempfile.TemporaryDirectory(prefix="voicelive-soak-")
        folder = Path(tmp.name)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rec_dir = folder / f"rec-{time.strftime('%Y%m%d-%H%M%S')}"
    pcm = script_pcm()
    samples: list[Sample] = []
    mic_samples = 0
    lock = threading.Lock()

    def count_mic(record: Any) -> None:
        nonlocal mic_samples
        if record.type == Local.MIC_AUDIO:
            with lock:
                mic_samples += int(record.get("samples") or 0)

    emu = Emulator(settings=EmulatorSettings(transcribe_for_responder=False), asr=False)
    emu.start()
    session = VoiceSession(
        connection=ConnectionSettings(endpoint=emu.endpoint, api_key="soak-key"),
        mic=WavMic(pcm, loop=True),
        speaker=CaptureSpeaker(max_s=10),
        record=rec_dir,
    )
    session.subscribe(count_mic)
    cpu0 = time.process_time()
    t_start = time.monotonic()
    try:
        session.start()
        session.wait_for("session.updated", timeout=60, since=0)
        next_at = t_start
        if echo:
            print(
                f"{'t_s':>6} {'rss_MB':>7} {'thr':>4} {'pool':>4} {'fds':>4} {'bus':>5} {'play_ms':>8} {'emuq':>5} "
                f"{'turns':>5} {'mic_s':>7} {'drop':>5} {'ovf':>4} {'undf':>5} {'busdrop':>7} {'cpu_s':>6}",
                flush=True,
            )
        while True:
            now = time.monotonic()
            if now >= next_at:
                c = session.counters
                tracker = session.tracker
                recorder = session.recorder
                with lock:
                    mic_s = mic_samples / RATE
                own, pool = _threads()
                s = Sample(
                    t=round(now - t_start, 1),
                    rss_mb=round(_rss_mb(), 1),
                    threads=own,
                    pool_threads=pool,
                    fds=len(os.listdir("/proc/self/fd")),
                    bus_depth=session.bus.depth,
                    player_queued_ms=float(c.get("queue_depth_ms", 0.0)),
                    emulator_queue=_emulator_queue(emu),
                    records=recorder.records if recorder is not None else 0,
                    mic_seconds=round(mic_s, 2),
                    turns=tracker.turn_count if tracker is not None else 0,
                    dropped_blocks=int(c.get("dropped_blocks", 0)),
                    input_overflows=int(c.get("input_overflows", 0)),
                    output_underflows=int(c.get("output_underflows", 0)),
                    bus_dropped=session.bus.dropped,
                    late_deltas_dropped=int(c.get("late_deltas_dropped", 0)),
                    cpu_s=round(time.process_time() - cpu0, 1),
                )
                samples.append(s)
                if echo:
                    print(
                        f"{s.t:6.0f} {s.rss_mb:7.1f} {s.threads:4d} {s.pool_threads:4d} {s.fds:4d} {s.bus_depth:5d} "
                        f"{s.player_queued_ms:8.0f} {s.emulator_queue:5d} {s.turns:5d} {s.mic_seconds:7.1f} "
                        f"{s.dropped_blocks:5d} {s.input_overflows:4d} {s.output_underflows:5d} "
                        f"{s.bus_dropped:7d} {s.cpu_s:6.1f}",
                        flush=True,
                    )
                next_at += every
                if now - t_start >= seconds:
                    break
            time.sleep(max(0.0, min(next_at - time.monotonic(), 1.0)))
        if session.state != "connected":
            raise RuntimeError(f"the session is {session.state!r} at the end of the soak")
    finally:
        session.stop()
        emu.close()
    elapsed = time.monotonic() - t_start
    rec = Recording.load(rec_dir)
    summary = summarize(samples, warmup=warmup)
    summary.update(
        {
            "seconds": round(elapsed, 1),
            "recording": str(rec_dir),
            "recording_mic_s": round(len(rec.mic) / rec.rate, 2),
            "recording_assistant_s": round(len(rec.assistant) / rec.assistant_rate, 2),
            "recording_events": len(rec.events),
            "recording_turns": int(rec.tracker.turn_count),
            "mic_sent_s": round(mic_samples / RATE, 2),
            "session_state": session.state,
        }
    )
    result = {"summary": summary, "samples": [asdict(s) for s in samples]}
    if echo:
        print(json.dumps(summary, indent=2), flush=True)
    if tmp is not None:
        tmp.cleanup()
    return result


def summarize(samples: list[Sample], warmup: float = 20.0) -> dict[str, Any]:
    """Key figures: memory slope after warm-up, thread/fd ranges, queue maxima, losses."""
    steady = [s for s in samples if s.t >= warmup] or samples
    t = np.array([s.t for s in steady], dtype=float)
    rss = np.array([s.rss_mb for s in steady], dtype=float)
    slope = float(np.polyfit(t, rss, 1)[0]) * 600.0 if len(steady) >= 3 else 0.0
    last = samples[-1]
    return {
        "samples": len(samples),
        "rss_mb_start": steady[0].rss_mb,
        "rss_mb_end": last.rss_mb,
        "rss_mb_max": max(s.rss_mb for s in steady),
        "rss_mb_per_10min": round(slope, 2),
        "threads_min": min(s.threads for s in steady),
        "threads_max": max(s.threads for s in steady),
        "pool_threads_max": max(s.pool_threads for s in samples),
        "fds_min": min(s.fds for s in steady),
        "fds_max": max(s.fds for s in steady),
        "bus_depth_max": max(s.bus_depth for s in samples),
        "player_queued_ms_max": max(s.player_queued_ms for s in samples),
        "emulator_queue_max": max(s.emulator_queue for s in samples),
        "turns": last.turns,
        "dropped_blocks": last.dropped_blocks,
        "input_overflows": last.input_overflows,
        "output_underflows": last.output_underflows,
        "bus_dropped": last.bus_dropped,
        "late_deltas_dropped": last.late_deltas_dropped,
        "cpu_s": last.cpu_s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--minutes", type=float, default=None, help="soak length in minutes (default 30)")
    length.add_argument("--seconds", type=float, default=None, help="soak length in seconds")
    parser.add_argument("--every", type=float, default=None, help="seconds between samples")
    parser.add_argument("--out", type=Path, default=None, help="folder for the recording and soak.json")
    args = parser.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else 60.0 * (args.minutes or 30.0)
    every = args.every or (10.0 if seconds <= 300 else 30.0)
    # Warm-up: lazily started worker threads, the latency tracker's block index and the
    # session's record history fill up over the first minutes, then stay flat.
    result = run_soak(seconds, folder=args.out, every=every, warmup=min(300.0, seconds / 4))
    if args.out is not None:
        (args.out / "soak.json").write_text(json.dumps(result, indent=2))
    s = result["summary"]
    ok = (
        s["dropped_blocks"] == 0
        and s["input_overflows"] == 0
        and s["bus_dropped"] == 0
        and s["threads_max"] == s["threads_min"]
        and s["fds_max"] == s["fds_min"]
        and abs(s["recording_mic_s"] - s["mic_sent_s"]) < 0.05
    )
    print("PASS" if ok else "FAIL: see the figures above", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
