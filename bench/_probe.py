"""The latency bench's measuring instrument, run as its own process.

It is a separate process on purpose: the client under test (and the busy-kernel
load of the glitch run) must not share a GIL with the thing that timestamps it.
All times are :func:`time.monotonic` seconds (``CLOCK_MONOTONIC``, one clock for
every process on the machine).  PortAudio's stream clock on Linux/ALSA is the wall
clock, so the probe maps it with ``monotonic() - currentTime``, taking the
smallest offset seen over all callbacks (the callback runs after ``currentTime``
was read, never before).

Parts (all on the PulseAudio virtual devices started by the bench):

* **stimulus** -- an output stream into ``vmicsink`` (what the client's mic hears):
  short clicks at random 0.35-0.65 s intervals (``clicks``) or silence (``idle``).
  Each click's DAC time is recorded.  A phase with ``wav`` also loops that speech
  into ``vmicsink`` through ``pacat`` (:class:`SpeechLoop`).
* **cable** -- a 4 ms-block input stream on ``vmic`` (the client's mic): click
  arrivals here minus their DAC times are the *floor* of the virtual cable that no
  client can beat.
* **monitor** -- a 4 ms-block input stream on ``vspeaker.monitor`` (what the client
  played): onsets (first loud sample after >= 50 ms quiet) and offsets (last loud
  sample before >= 50 ms quiet), sample-accurate: a sample ``j`` of an ``n``-frame
  block that arrived at ``t`` is dated ``t - (n - j) / rate``.
* **server** -- a scripted Voice Live endpoint (aiohttp, ``/voice-live/realtime``)
  the unmodified SDK connects to.  It dates every ``input_audio_buffer.append`` on
  receipt and finds the clicks in the appended audio; in ``responses`` phases it
  alternates a *marker* response (a click then 250 ms of tone, sent at once) and a
  *barge-in* response (3 s of tone sent at once, then ``speech_started`` after a
  random 0.4-0.9 s).

Protocol: the first stdout line is ``{"endpoint": ...}``.  Stdin takes JSON lines
``{"cmd": "phase", "mode": ..., "responses": bool, "wav": path}``, ``{"cmd": "end"}``
(answers one JSON line with every timestamp of the phase) and ``{"cmd": "quit"}``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import sys
import threading
import time
import wave
from typing import Any

import numpy as np
from _sink import opened

RATE = 24000
CLICK = np.full(24, 20000, dtype=np.int16)  # 1 ms
LOUD = 300  # |sample| above this is sound (the tone peaks at 3000)
QUIET_S = 0.05  # silence that separates two sounds
MAX_EVENTS = 100_000


def _tone(seconds: float, freq: float = 440.0, amp: int = 3000) -> np.ndarray:
    n = round(seconds * RATE)
    return (amp * np.sin(2 * np.pi * freq * np.arange(n) / RATE)).astype(np.int16)


class Events:
    """A preallocated, append-only float64 table filled from audio callbacks."""

    def __init__(self, width: int = 1) -> None:
        self.rows = np.zeros((MAX_EVENTS, width), dtype=np.float64)
        self.n = 0

    def add(self, *values: float) -> None:
        if self.n < MAX_EVENTS:
            self.rows[self.n, : len(values)] = values
            self.n += 1

    def take(self) -> list[list[float]]:
        out = self.rows[: self.n].tolist()
        self.n = 0
        return out


class Probe:
    """Stimulus, cable and monitor streams plus the pa-time -> monotonic offset."""

    def __init__(self) -> None:
        self.offset = float("inf")  # monotonic - PortAudio time (smallest seen)
        self.mode = "idle"
        self.next_click = RATE // 2
        self.pos = 0
        self.clicks_dac = Events()  # PortAudio DAC time of each click
        self.cable = Events()  # PortAudio time of each click arriving on vmic
        self.onsets = Events()  # PortAudio time of monitor onsets
        self.offsets = Events()  # PortAudio time of monitor offsets
        self.status = Events(2)  # (stream id, flags) of callbacks with status
        self._cable_quiet = 0
        self._mon_quiet = RATE
        self._mon_last_loud = 0.0
        self._mon_sounding = False
        self._rng = random.Random(8)
        self.streams: list[Any] = []

    def _clock(self, current: float) -> None:
        off = time.monotonic() - current
        if off < self.offset:
            self.offset = off

    def _out(self, out: np.ndarray, frames: int, ti: Any, status: Any) -> None:
        self._clock(ti.currentTime)
        if status:
            self.status.add(0, float(int(status.output_underflow)))
        buf = out[:, 0]
        buf[:] = 0
        if self.mode == "clicks":
            k = self.next_click - self.pos
            if k < frames:
                n = min(CLICK.shape[0], frames - k)
                buf[k : k + n] = CLICK[:n]
                self.clicks_dac.add(ti.outputBufferDacTime + k / RATE)
                self.next_click = self.pos + k + round(self._rng.uniform(0.35, 0.65) * RATE)
        else:
            self.next_click = self.pos + frames + RATE // 4
        self.pos += frames

    def _cable_in(self, data: np.ndarray, frames: int, ti: Any, status: Any) -> None:
        self._clock(ti.currentTime)
        x = data[:, 0]
        loud = np.flatnonzero(np.abs(x) > 8000)
        if loud.size and self._cable_quiet >= RATE // 10:
            self.cable.add(ti.currentTime - (frames - int(loud[0])) / RATE)
        self._cable_quiet = frames - 1 - int(loud[-1]) if loud.size else self._cable_quiet + frames

    def _monitor_in(self, data: np.ndarray, frames: int, ti: Any, status: Any) -> None:
        now = ti.currentTime
        self._clock(now)
        if status:
            self.status.add(1, float(int(status.input_overflow)))
        x = data[:, 0]
        loud = np.flatnonzero(np.abs(x) > LOUD)
        if loud.size:
            first = now - (frames - int(loud[0])) / RATE
            if not self._mon_sounding:
                self.onsets.add(first)
                self._mon_sounding = True
            self._mon_last_loud = now - (frames - 1 - int(loud[-1])) / RATE
        elif self._mon_sounding and now - self._mon_last_loud > QUIET_S:
            self.offsets.add(self._mon_last_loud + 1.0 / RATE)  # end of the last loud sample
            self._mon_sounding = False

    def start(self) -> None:
        from voicelive_nb.audio.devices import quiet_alsa

        quiet_alsa()  # libasound's "underrun occurred" lines would bury the bench's output
        import sounddevice as sd

        common = {"samplerate": RATE, "channels": 1, "dtype": "int16", "latency": "low"}
        self.streams = [
            # The stimulus may have a roomy buffer: its DAC time accounts for it.
            opened(
                {"PULSE_SINK": "vmicsink"},
                lambda: sd.OutputStream(blocksize=240, callback=self._out, **{**common, "latency": 0.05}),
            ),
            opened({"PULSE_SOURCE": "vmic"}, lambda: sd.InputStream(blocksize=96, callback=self._cable_in, **common)),
            opened(
                {"PULSE_SOURCE": "vspeaker.monitor"},
                lambda: sd.InputStream(blocksize=96, callback=self._monitor_in, **common),
            ),
        ]
        for s in self.streams:
            s.start()

    def stop(self) -> None:
        for s in self.streams:
            s.stop()
            s.close()
        self.streams = []

    def mono(self, rows: list[list[float]]) -> list[float]:
        return [r[0] + self.offset for r in rows]


class Server:
    """The scripted Voice Live endpoint (runs on its own asyncio loop thread)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self.appends: list[tuple[float, int, int]] = []  # (t_rx, first sample, samples)
        self.mic_clicks: list[tuple[float, int]] = []  # (t_rx of its append, sample index)
        self.marker_sent: list[float] = []
        self.speech_started_sent: list[float] = []
        self.responses = False
        self.client_events: dict[str, int] = {}
        self._samples = 0
        self._quiet = RATE
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="probe-server", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)

    def reset(self) -> dict[str, Any]:
        out = {
            "appends": self.appends,
            "mic_clicks": self.mic_clicks,
            "marker_sent": self.marker_sent,
            "speech_started_sent": self.speech_started_sent,
            "client_events": self.client_events,
        }
        self.appends, self.mic_clicks, self.marker_sent, self.speech_started_sent = [], [], [], []
        self.client_events = {}
        return out

    def _run(self) -> None:
        from aiohttp import web

        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_get("/voice-live/realtime", self._ws)
        runner = web.AppRunner(app)
        self.loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self.loop.run_forever()

    async def _ws(self, request: Any) -> Any:
        from aiohttp import WSMsgType, web

        ws = web.WebSocketResponse(max_msg_size=4 * 1024 * 1024)
        await ws.prepare(request)
        session = {"id": "sess_probe", "modalities": ["text", "audio"], "output_audio_format": "pcm16"}
        await ws.send_json({"type": "session.created", "event_id": "e0", "session": session})
        task: asyncio.Task[None] | None = None
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                t = time.monotonic()
                event = json.loads(msg.data)
                etype = event.get("type", "")
                self.client_events[etype] = self.client_events.get(etype, 0) + 1
                if etype == "input_audio_buffer.append":
                    self._on_audio(t, base64.b64decode(event.get("audio", "")))
                elif etype == "session.update":
                    merged = {**session, **(event.get("session") or {})}
                    await ws.send_json({"type": "session.updated", "event_id": "e1", "session": merged})
                    if task is None:
                        task = asyncio.get_running_loop().create_task(self._respond(ws))
                elif etype == "conversation.item.truncate":
                    await ws.send_json(
                        {
                            "type": "conversation.item.truncated",
                            "item_id": event.get("item_id"),
                            "content_index": 0,
                            "audio_end_ms": event.get("audio_end_ms"),
                        }
                    )
        finally:
            if task is not None:
                task.cancel()
        return ws

    def _on_audio(self, t: float, pcm: bytes) -> None:
        x = np.frombuffer(pcm, dtype="<i2")
        self.appends.append((t, self._samples, int(x.shape[0])))
        loud = np.flatnonzero(np.abs(x) > 8000)
        if loud.size and self._quiet + int(loud[0]) >= RATE // 10:
            self.mic_clicks.append((t, self._samples + int(loud[0])))
        self._quiet = x.shape[0] - 1 - int(loud[-1]) if loud.size else self._quiet + x.shape[0]
        self._samples += int(x.shape[0])

    async def _respond(self, ws: Any) -> None:
        """Alternate marker and barge-in responses while ``responses`` is on."""
        rng = random.Random(5)
        n = 0
        marker = np.concatenate([CLICK, _tone(0.25)])
        long_tone = _tone(3.0)
        while not ws.closed:
            await asyncio.sleep(0.5 + rng.uniform(0.0, 0.3))
            if not self.responses:
                continue
            n += 1
            rid, iid = f"resp_{n}", f"item_{n}"
            barge = n % 2 == 0
            audio = long_tone if barge else marker
            await self._begin(ws, rid, iid)
            step = 2400  # 100 ms deltas, sent at once (faster than real time, like the service)
            for i in range(0, audio.shape[0], step):
                chunk = base64.b64encode(audio[i : i + step].tobytes()).decode("ascii")
                event = {"type": "response.audio.delta", "response_id": rid, "item_id": iid, "delta": chunk}
                event.update({"output_index": 0, "content_index": 0, "event_id": f"d{n}_{i}"})
                if i == 0 and not barge:
                    self.marker_sent.append(time.monotonic())
                await ws.send_json(event)
            if barge:
                await asyncio.sleep(rng.uniform(0.4, 0.9))
                self.speech_started_sent.append(time.monotonic())
                ms = self._samples * 1000 // RATE
                await ws.send_json(
                    {"type": "input_audio_buffer.speech_started", "audio_start_ms": ms, "item_id": f"user_{n}"}
                )
                await self._end(ws, rid, iid, "cancelled")
                await asyncio.sleep(0.6)
            else:
                await self._end(ws, rid, iid, "completed")
                await asyncio.sleep(0.6)

    async def _begin(self, ws: Any, rid: str, iid: str) -> None:
        await ws.send_json({"type": "response.created", "response": {"id": rid, "status": "in_progress"}})
        item = {"id": iid, "type": "message", "role": "assistant", "status": "in_progress", "content": []}
        await ws.send_json({"type": "response.output_item.added", "response_id": rid, "output_index": 0, "item": item})

    async def _end(self, ws: Any, rid: str, iid: str, status: str) -> None:
        ids = {"response_id": rid, "item_id": iid, "output_index": 0, "content_index": 0}
        await ws.send_json({"type": "response.audio.done", **ids})
        await ws.send_json({"type": "response.done", "response": {"id": rid, "status": status}})


class SpeechLoop:
    """Loops a WAV into ``vmicsink`` through ``pacat`` (C, its own 300 ms buffer, no GIL).

    The glitch run must not blame the client for the stimulus's own underflows, so the
    speech comes from a separate C client fed through a pipe by a writer thread.
    """

    def __init__(self, pcm: np.ndarray) -> None:
        import subprocess

        self.proc = subprocess.Popen(
            [
                "pacat",
                "--playback",
                "-d",
                "vmicsink",
                f"--rate={RATE}",
                "--channels=1",
                "--format=s16le",
                "--raw",
                "--latency-msec=300",
            ],
            stdin=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._data = pcm.tobytes()
        self._halt = threading.Event()
        self._writer = threading.Thread(target=self._write, name="probe-speech", daemon=True)
        self._writer.start()

    def _write(self) -> None:
        assert self.proc.stdin is not None
        try:
            while not self._halt.is_set():
                self.proc.stdin.write(self._data)
                self.proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass

    def stop(self) -> None:
        self._halt.set()
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except Exception:
            self.proc.kill()
        self._writer.join(5)


def _load_wav(path: str) -> np.ndarray:
    with wave.open(path, "rb") as w:
        if w.getframerate() != RATE or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError(f"{path}: the probe plays 24 kHz mono PCM16 WAVs only")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy()


def main() -> None:
    probe = Probe()
    server = Server()
    server.start()
    probe.start()
    print(json.dumps({"endpoint": f"http://127.0.0.1:{server.port}"}), flush=True)
    speech: SpeechLoop | None = None
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "phase":
            if cmd.get("wav"):
                speech = SpeechLoop(_load_wav(cmd["wav"]))
            server.reset()
            for table in (probe.clicks_dac, probe.cable, probe.onsets, probe.offsets, probe.status):
                table.take()
            probe.mode = cmd.get("mode", "idle")
            server.responses = bool(cmd.get("responses", False))
            print(json.dumps({"ok": True}), flush=True)
        elif cmd["cmd"] == "end":
            probe.mode = "idle"
            if speech is not None:
                speech.stop()
                speech = None
            server.responses = False
            time.sleep(0.3)
            result = {
                **server.reset(),
                "clicks_dac": probe.mono(probe.clicks_dac.take()),
                "cable": probe.mono(probe.cable.take()),
                "onsets": probe.mono(probe.onsets.take()),
                "offsets": probe.mono(probe.offsets.take()),
                "probe_status": probe.status.take(),
            }
            print(json.dumps(result), flush=True)
        elif cmd["cmd"] == "quit":
            break
    probe.stop()


if __name__ == "__main__":
    main()
