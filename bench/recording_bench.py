"""Recording benchmark: a simulated 1-hour session, recorded as fast as possible.

Synthetic records at real rates (50 mic blocks/s, a turn every ``--turn-every`` s with
VAD events, transcripts, 10 audio deltas/s and 50 played blocks/s during each reply,
1 Hz counters) go straight into a :class:`~voicelive_nb.recording.Recorder` and a live
:class:`~voicelive_nb.metrics.TurnTracker`.  Reports the recorder's RSS growth (psutil,
sampled every simulated minute; target < 30 MB), the record rate, and the time to
load the folder back and compute its turn table (target < 2 s).

Wall times depend on what else runs on the machine: the CPU time is printed too.

Run: ``.venv/bin/python bench/recording_bench.py [--minutes 60] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psutil

from voicelive_nb.events import EventRecord, Local
from voicelive_nb.metrics import TurnTracker
from voicelive_nb.recording import Recorder, Recording

RATE = 24_000
BLOCK = 480  # 20 ms
WALL0 = 1.7e9


def simulate(minutes: float, turn_every: float = 10.0, t0: float = 10_000.0) -> Iterator[EventRecord]:
    """Yield the records of a ``minutes``-long session, in time order, without keeping any."""
    rng = np.random.default_rng(0)
    mic_pcm = (rng.standard_normal(BLOCK) * 800).astype(np.int16).tobytes()
    reply_pcm = (np.sin(np.arange(BLOCK) / 5.0) * 6000).astype(np.int16).tobytes()
    delta_pcm = bytes(4800)
    blocks = int(minutes * 60 * RATE / BLOCK)
    per_turn = int(turn_every * RATE / BLOCK)
    pending: list[tuple[float, str, str, dict, bytes | None]] = []

    def ev(t: float, kind: str, typ: str, data: dict, audio: bytes | None = None) -> EventRecord:
        return EventRecord(t, WALL0 + t, kind, typ, data, audio)  # type: ignore[arg-type]

    yield ev(t0, "local", Local.SESSION_INFO, {"config": {"voice": "alloy"}, "input_rate": RATE})
    for i in range(blocks):
        offset = i * BLOCK
        t = t0 + (offset + BLOCK) / RATE
        # schedule one turn's events at the start of each turn period
        if i % per_turn == 0:
            n = i // per_turn
            s = offset / RATE + 1.0  # user speaks from +1 s to +4 s of the period
            e = s + 3.0
            item, rid = f"item_{n}", f"resp_{n}"
            stop = t0 + e + 0.55
            sched = [
                (t0 + s + 0.25, "server", "input_audio_buffer.speech_started",
                 {"audio_start_ms": int(s * 1000), "item_id": item}, None),
                (stop, "server", "input_audio_buffer.speech_stopped",
                 {"audio_end_ms": int(e * 1000), "item_id": item}, None),
                (stop + 0.002, "server", "input_audio_buffer.committed", {"item_id": item}, None),
                (stop + 0.003, "server", "conversation.item.created", {"item": {"id": item}}, None),
                (stop + 0.004, "server", "response.created", {"response": {"id": rid, "status": "in_progress"}}, None),
                (stop + 0.3, "server", "conversation.item.input_audio_transcription.completed",
                 {"item_id": item, "transcript": "what is the weather like tomorrow in Lisbon"}, None),
            ]  # fmt: skip
            first = stop + 0.25
            for k in range(30):  # 3 s of reply audio generated in 10 deltas/s
                sched.append(
                    (first + k * 0.1, "server", "response.audio.delta",
                     {"response_id": rid, "item_id": "a" + rid, "delta_bytes": 4800}, delta_pcm)
                )  # fmt: skip
                sched.append(
                    (first + k * 0.1 - 0.01, "server", "response.audio_transcript.delta",
                     {"response_id": rid, "delta": "word "}, None)
                )  # fmt: skip
            played = first + 0.03
            sched.append((played, "local", Local.PLAYBACK_STARTED,
                          {"response_id": rid, "item_id": "a" + rid, "output_latency_s": 0.04}, None))  # fmt: skip
            for k in range(150):  # 3 s played, 50 blocks/s
                sched.append((played + k * BLOCK / RATE, "local", Local.SPEAKER_AUDIO,
                              {"response_id": rid, "samples": BLOCK, "rate": RATE, "rms_db": -14.0,
                               "peak_db": -8.0, "offset": k * BLOCK}, reply_pcm))  # fmt: skip
            sched += [
                (first + 3.0, "server", "response.audio.done", {"response_id": rid}, None),
                (first + 3.001, "server", "response.audio_transcript.done",
                 {"response_id": rid, "transcript": "word " * 30}, None),
                (first + 3.002, "server", "response.done",
                 {"response": {"id": rid, "status": "completed", "usage": {"total_tokens": 321}}}, None),
                (played + 3.0, "local", Local.PLAYBACK_STOPPED,
                 {"response_id": rid, "item_id": "a" + rid, "played_ms": 3000.0}, None),
            ]  # fmt: skip
            pending.extend(sched)
            pending.sort(key=lambda x: x[0])
        while pending and pending[0][0] <= t:
            pt, kind, typ, data, audio = pending.pop(0)
            yield ev(pt, kind, typ, data, audio)
        yield ev(t, "local", Local.MIC_AUDIO,
                 {"samples": BLOCK, "rate": RATE, "rms_db": -32.0, "peak_db": -21.0, "offset": offset,
                  "connection_offset": 0, "captured_t": t - BLOCK / RATE}, mic_pcm)  # fmt: skip
        if i % 50 == 0:
            counters = {"input_overflows": 0, "output_underflows": 0, "dropped_blocks": 0, "queue_depth_ms": 0.0}
            yield ev(t, "local", Local.COUNTERS, counters)
    for pt, kind, typ, data, audio in pending:
        yield ev(pt, kind, typ, data, audio)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--turn-every", type=float, default=10.0, help="seconds between user turns")
    parser.add_argument("--keep", metavar="DIR", help="record into DIR and keep it (default: a temp dir)")
    args = parser.parse_args(argv)

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="vlnb-bench-")) / "session"
    proc = psutil.Process()
    gc.collect()
    recorder = Recorder(folder)
    tracker = TurnTracker()
    rss0 = proc.memory_info().rss
    peak = rss0
    samples = []
    n = 0
    start = time.perf_counter()
    minute_blocks = 60 * 50
    for record in simulate(args.minutes, args.turn_every):
        recorder(record)
        tracker.feed(record)
        n += 1
        if record.type == Local.MIC_AUDIO and record.data["offset"] // BLOCK % minute_blocks == 0:
            rss = proc.memory_info().rss
            peak = max(peak, rss)
            samples.append((rss - rss0) / 2**20)
    recorder.close()
    record_s = time.perf_counter() - start
    growth = (peak - rss0) / 2**20
    size = sum(f.stat().st_size for f in folder.iterdir()) / 2**20
    print(f"simulated {args.minutes:g} min: {n} records in {record_s:.1f} s "
          f"({n / record_s:,.0f} records/s, {args.minutes * 60 / record_s:,.0f}x real time), "
          f"folder {size:,.0f} MB")  # fmt: skip
    print(f"recorder+tracker RSS growth: peak {growth:.1f} MB (per minute: "
          + " ".join(f"{x:.1f}" for x in samples[:: max(1, len(samples) // 12)]) + ")")  # fmt: skip
    live_turns = tracker.turn_count
    live_summary = tracker.summary()

    del tracker
    gc.collect()
    import pandas  # noqa: F401  (imported by any notebook already; not part of the load)

    t, cpu = time.perf_counter(), time.process_time()
    rec = Recording.load(folder)
    loaded = time.perf_counter() - t
    table = rec.turns
    total = time.perf_counter() - t
    total_cpu = time.process_time() - cpu
    print(f"load {loaded:.2f} s + turn table -> {total:.2f} s total (CPU {total_cpu:.2f} s; the machine's "
          f"load average {os.getloadavg()[0]:.1f}) for {rec.record_count:,} records, "
          f"{len(table)} turns (live tracker: {live_turns}); "
          f"voice-to-voice p50 {rec.summary()['voice_to_voice_ms']['p50']:.0f} ms")  # fmt: skip
    same = rec.summary()["voice_to_voice_ms"] == live_summary["voice_to_voice_ms"]
    print(f"loaded turn table matches the live tracker: {same}")
    # the machine is shared: judge the load by its CPU time (= wall time on an idle machine)
    ok = growth < 30 and total_cpu < 2.0 and len(table) == live_turns and same
    print("PASS" if ok else "FAIL", "(targets: RSS growth < 30 MB, load + turns < 2 s of CPU)")
    if not args.keep:
        shutil.rmtree(folder.parent, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
