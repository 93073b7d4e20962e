"""VAD sweep throughput: the sequential replay sweep vs the offline path on Dask, 1 worker and all cores.

    .venv/bin/python bench/sweep_bench.py            # ~3 minutes on 2 quiet cores; prints the table
                                                     # and writes bench/sweep_results.md
    .venv/bin/python bench/sweep_bench.py --quick    # a smaller corpus, to see that it works

The figure is **audio-seconds x settings processed per wall second** ("x real time"): a
sweep of 9 settings over 10 minutes of audio done in 6 s runs at 900x.

* ``replay``: today's :func:`voicelive_nb.tuning.replay.vad_sweep` -- 30 s of one recording
  replayed through a session into the embedded emulator at its default 4x, one setting after another.
* ``offline, 1 worker`` / ``offline, N workers``: :func:`voicelive_nb.tuning.sweep.sweep` on a
  local Dask cluster of 1 / all-cores single-threaded worker processes (cluster start-up
  measured apart; it is paid once per sweep), run ``--repeat`` times interleaved, best kept.
  Each recording's speech probabilities are computed once (``prepare``), then each setting
  runs the emulator's turn logic on them.

The corpus is generated: eSpeak sentences with random pauses (0.3-2.5 s), labels from the
samples.  Worker memory (RSS) is sampled through the run: "flat" means the last sample is
within 10 % (or 25 MB) of the first one taken after 10 % of the pairs.  The load average is
printed with each run: the machine is shared, so figures taken under load are low.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RATE = 24_000
SENTENCES = [
    "hello there how are you today",
    "I would like to book a table for two",
    "my order has not arrived yet",
    "can you tell me where the nearest branch is",
    "yes that is right",
    "no I meant the other one",
    "could you repeat that please",
    "I have been waiting for almost an hour",
    "thank you very much for your help",
    "what time do you open tomorrow morning",
    "my account number is four five six seven",
    "I would like to speak to someone about my bill",
]
GRID: dict[str, list[Any]] = {"silence_duration_ms": [300, 500, 800], "threshold": [0.4, 0.5, 0.6]}


@dataclass
class Run:
    name: str
    workers: int
    audio_s: float
    settings: int
    wall_s: float
    load_before: float
    load_after: float
    startup_s: float = 0.0
    rss_mb: list[float] = field(default_factory=list)  # peak over 10-55 %, peak over 55-100 %, last
    note: str = ""

    @property
    def rate(self) -> float:
        return self.audio_s * self.settings / self.wall_s


def make_corpus(folder: Path, files: int, seconds: float, seed: int = 7) -> float:
    """``files`` WAVs of ~``seconds`` each with labels; returns the total audio seconds."""
    from voicelive_nb.audio.wav import write_wav
    from voicelive_nb.speech.prompts import synthesize

    clips = [synthesize(s, RATE) for s in SENTENCES]
    rng = np.random.default_rng(seed)
    total = 0.0
    for i in range(files):
        parts, labels, n = [np.zeros(int(0.5 * RATE), np.int16)], [], int(0.5 * RATE)
        while n < seconds * RATE:
            clip = clips[rng.integers(len(clips))]
            loud = np.flatnonzero(np.abs(clip) > 300)
            labels.append(((n + loud[0]) / RATE, (n + loud[-1]) / RATE))
            gap = np.zeros(int(rng.uniform(0.3, 2.5) * RATE), np.int16)
            parts += [clip, gap]
            n += len(clip) + len(gap)
        write_wav(folder / f"call{i:03d}.wav", np.concatenate(parts), RATE)
        (folder / f"call{i:03d}.labels.csv").write_text("start_s,end_s\n" + "".join(f"{a},{b}\n" for a, b in labels))
        total += n / RATE
    return total


def write_recording(folder: Path, pcm: np.ndarray) -> None:
    """A recording folder holding ``pcm`` as its mic track (what vad_sweep replays)."""
    from voicelive_nb.config import SessionConfig
    from voicelive_nb.events import EventRecord, Local
    from voicelive_nb.recording import Recorder

    block = 480
    pcm = np.concatenate([pcm, np.zeros((-len(pcm)) % block, np.int16)])
    with Recorder(folder, config=SessionConfig(voice="alloy").to_dict()) as rec:
        for off in range(0, len(pcm), block):
            data = {"samples": block, "rate": RATE, "offset": off, "rms_db": -30.0, "peak_db": -20.0}
            rec(EventRecord(500 + (off + block) / RATE, 0.0, "local", Local.MIC_AUDIO, data,
                            pcm[off : off + block].tobytes()))  # fmt: skip


def bench_replay(corpus: Path, work: Path, settings: list[int]) -> Run:
    from voicelive_nb.audio.wav import read_wav
    from voicelive_nb.connection import ConnectionSettings
    from voicelive_nb.emulator import Emulator
    from voicelive_nb.emulator.settings import EmulatorSettings
    from voicelive_nb.tuning.replay import vad_sweep

    pcm, _ = read_wav(sorted(corpus.glob("*.wav"))[0])
    pcm = pcm[: 30 * RATE]  # 30 s: the replay runs at ~1x (replies are played out in real time)
    write_recording(work / "replay-src", pcm)
    load = os.getloadavg()[0]
    with Emulator(api_key="bench-key-0123456789", settings=EmulatorSettings(transcribe_for_responder=False)) as emu:
        conn = ConnectionSettings(endpoint=emu.endpoint, api_key="bench-key-0123456789")
        t = time.perf_counter()
        vad_sweep(work / "replay-src", {"silence_duration_ms": settings}, connection=conn, out=work / "replays",
                  progress=False)  # fmt: skip
        wall = time.perf_counter() - t
    return Run("replay (today's vad_sweep, 4x)", 1, len(pcm) / RATE, len(settings), wall, load, os.getloadavg()[0],
               note="one session per setting")  # fmt: skip


def bench_offline(corpus: Path, workers: int, out: Path) -> tuple[Run, Any]:
    import psutil
    from distributed import Client, LocalCluster

    from voicelive_nb.tuning.sweep import sweep

    t = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR)  # fmt: skip
    client = Client(cluster, set_as_default=False)
    pids = list(client.run(os.getpid).values())
    startup = time.perf_counter() - t
    procs = [psutil.Process(p) for p in pids]
    samples: list[tuple[float, float]] = []  # (fraction done, total worker RSS MB)

    def progress(n: int, total: int, row: dict[str, Any]) -> None:
        if n == total or n % max(1, total // 40) == 0:
            samples.append((n / total, sum(p.memory_info().rss for p in procs if p.is_running()) / 2**20))

    load = os.getloadavg()[0]
    t = time.perf_counter()
    try:
        rows = sweep(corpus, GRID, out=out, scheduler=client, progress=progress)
    finally:
        wall = time.perf_counter() - t
        client.close()
        cluster.close()
    first = [mb for f, mb in samples if 0.1 <= f <= 0.55]
    second = [mb for f, mb in samples if f > 0.55]
    audio = float(rows.groupby("recording")["audio_s"].first().sum())
    rss = [max(first), max(second), second[-1]] if first and second else []
    name = f"offline, {workers} worker{'s' if workers > 1 else ''}"
    run = Run(name, workers, audio, len(rows["setting"].unique()), wall, load, os.getloadavg()[0], startup, rss)
    return run, rows


def _flat(rss: list[float]) -> str:
    if not rss:
        return "n/a"
    first, second, last = rss
    ok = second <= 1.1 * first + 25.0
    return f"{first:.0f} / {second:.0f} / {last:.0f} ({'flat' if ok else 'GROWS'})"


def projection(one: Run, rows: Any, best: Run, cores: int, replay: Run) -> list[str]:
    """What the figures imply for 1,000 hours of calls x 50 settings."""
    good = rows[rows["error"].isna()]
    per_rec = good.groupby("recording").agg(audio_s=("audio_s", "first"), prepare_s=("prepare_s", "first"))
    prep_x = per_rec["audio_s"].sum() / per_rec["prepare_s"].sum()  # x real time, one core
    pair_x = good["audio_s"].sum() / good["compute_s"].sum()
    hours, settings = 1000.0, 50
    core_s = hours * 3600 * (1 / prep_x + settings / pair_x)
    efficiency = min(1.0, best.rate / (one.rate * best.workers)) if best.workers > 1 else 1.0
    lines = [
        f"Per core, inside the tasks: speech probabilities (once per recording) {prep_x:,.0f}x real time, "
        f"turn logic + scoring (per setting) {pair_x:,.0f}x real time.",
        f"1,000 h x {settings} settings = {core_s / 3600:,.1f} core-hours of task time "
        f"({hours * 3600 / prep_x / 3600:,.1f} for the probabilities, {hours * 3600 * settings / pair_x / 3600:,.1f} "
        f"for the settings); measured scaling on this machine {efficiency:.0%} of linear.",
        "",
        "| machines x cores | wall time (at the measured scaling) |",
        "|---|---|",
    ]
    for machines, c in ((1, cores), (1, 16), (4, 16), (16, 16), (64, 16)):
        wall_h = core_s / (machines * c * efficiency) / 3600
        when = f"{wall_h * 60:,.0f} min" if wall_h < 2 else f"{wall_h:,.1f} h"
        lines.append(f"| {machines} x {c} | {when} |")
    replay_days = hours * 3600 * settings / replay.rate / 86400
    lines += [
        "",
        f"The same job as sequential replays at the measured replay rate: {replay_days:,.0f} days on one machine.",
        "Reading the audio: 1,000 h of 24 kHz PCM16 is 173 GB, read once per recording (the settings reuse it "
        "in the worker's memory), so on a cluster the corpus should sit on storage every worker reads fast.",
    ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=24, help="recordings in the generated corpus")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of audio per recording")
    parser.add_argument("--repeat", type=int, default=3, help="offline runs per worker count (best is kept)")
    parser.add_argument("--quick", action="store_true", help="6 x 30 s recordings, 1 replay setting, 1 repeat")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "sweep_results.md")
    args = parser.parse_args()
    files, seconds, repeat = (6, 30.0, 1) if args.quick else (args.files, args.seconds, max(1, args.repeat))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    tries: dict[int, list[tuple[Run, Any]]] = {1: [], cores: []}
    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as tmp:
        work = Path(tmp)
        (work / "corpus").mkdir()
        audio = make_corpus(work / "corpus", files, seconds)
        print(f"corpus: {files} recordings, {audio / 60:.1f} min of audio; grid {GRID} (9 settings); {cores} cores")
        replay = bench_replay(work / "corpus", work, [500] if args.quick else [500, 800])
        print(f"replay: {replay.rate:.1f}x (load {replay.load_before:.1f})", flush=True)
        for i in range(repeat):  # interleaved, so a burst of load from elsewhere hits both alike
            for workers in tries:
                run, rows = bench_offline(work / "corpus", workers, work / f"run-{workers}-{i}.parquet")
                tries[workers].append((run, rows))
                print(f"offline {workers} worker(s), run {i + 1}: {run.rate:,.0f}x (load {run.load_before:.1f})",
                      flush=True)  # fmt: skip
    one, rows1 = max(tries[1], key=lambda t: t[0].rate)
    best, _ = max(tries[cores], key=lambda t: t[0].rate)
    for run, workers in ((one, 1), (best, cores)):
        run.note = "best of " + ", ".join(f"{r.rate:,.0f}x" for r, _ in tries[workers])
    runs = [replay, one, best]
    table = [
        "| run | audio | settings | wall | audio-s x settings / s | per core | runs | cluster start "
        "| worker RSS MB: peak 10-55 % / peak 55-100 % / end | load avg (1 min) before/after |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for r in runs:
        table.append(
            f"| {r.name} | {r.audio_s / 60:.1f} min | {r.settings} | {r.wall_s:.1f} s | **{r.rate:,.0f}x** | "
            f"{r.rate / r.workers:,.0f}x | {r.note} | {r.startup_s:.1f} s | {_flat(r.rss_mb)} "
            f"| {r.load_before:.2f} / {r.load_after:.2f} |"
        )
    scaling = best.rate / one.rate
    checks = [
        f"- offline >= 100x real time per core: {one.rate:,.0f}x on 1 worker "
        f"-> {'met' if one.rate >= 100 else 'NOT met'}",
        f"- {cores} workers >= 1.7x one worker: {scaling:.2f}x -> {'met' if scaling >= 1.7 else 'NOT met'}"
        + (
            " (the machine was loaded; re-measure when quiet)"
            # the bench's own previous run leaves ~1 on the load average: more than that is someone else
            if scaling < 1.7 and max(best.load_before, one.load_before) > 1.0
            else ""
        ),
        f"- worker memory flat over the run: 1 worker {_flat(one.rss_mb)}; {cores} workers {_flat(best.rss_mb)}",
        f"- offline vs today's replay sweep: {one.rate / replay.rate:,.0f}x faster on one core",
    ]
    text = "\n".join([*table, "", *checks, "", *projection(one, rows1, best, cores, replay)])
    print("\n" + text)
    stamp = time.strftime("%Y-%m-%d %H:%M")
    args.results.write_text(
        "# VAD sweep throughput (bench/sweep_bench.py)\n\n"
        f"Written by `.venv/bin/python bench/sweep_bench.py{' --quick' if args.quick else ''}` on {stamp}: "
        f"{files} generated recordings ({audio / 60:.1f} min of eSpeak speech with pauses), a 3 x 3 grid "
        f"(silence 300/500/800 ms x threshold 0.4/0.5/0.6), {cores} cores, Python {sys.version.split()[0]}.\n"
        "The replay row replays the first 30 s of the first recording once per setting (silence 500/800 ms): "
        "the mic audio goes at 4x, but each run also waits for the emulator's replies, played out in real "
        "time, and 2 s of quiet.  Offline rows: best of the interleaved runs (the machine is shared).\n\n" + text + "\n"
    )
    print(f"\nwrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
