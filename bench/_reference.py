"""The reference quickstart's audio path, rebuilt for side-by-side figures.

Not our code and not a recommendation: a faithful sketch of what the Voice Live
Python quickstart does (see /work/shared/DESIGN.md, "What the reference quickstart
does"), on sounddevice instead of PyAudio, with the same settings:

* mic: an input stream with 50 ms blocks (1200 samples at 24 kHz) and PortAudio's
  default latency; its callback base64-encodes the block and schedules
  ``input_audio_buffer.append`` with ``asyncio.run_coroutine_threadsafe`` (future dropped);
* speaker: an output stream with 50 ms blocks and default latency; its callback
  pulls ``bytes`` packets from a ``queue.Queue`` and concatenates them until the
  block is full, keeping the remainder for the next callback;
* barge-in: on ``speech_started`` it skips the queued packets (a sequence-number
  base, like the quickstart) and cancels the response -- the remainder already
  taken from the queue still plays;
* events are read as typed SDK events with ``async for event in connection``.

Instruments added for the bench (they do not change the behaviour): device
over/underflows from the callbacks' status flags, the capture time and size of every
mic block, and a copy of the audio sent (preallocated) for the gap count.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import queue
import threading
import time
from typing import Any

import numpy as np

RATE = 24000
BLOCK = 1200  # 50 ms


class ReferenceClient:
    """Quickstart-style client on its own thread (the quickstart runs it in ``asyncio.run``).

    Args:
        endpoint: ``http://127.0.0.1:PORT`` of the emulator or the probe server.
        blocksize: Samples per mic and speaker callback (1200 = 50 ms, the quickstart's).
        latency: PortAudio latency (None = sounddevice's default, as the quickstart).
        config: Extra ``session.update`` fields (a dict), e.g. turn detection.
    """

    def __init__(
        self, endpoint: str, blocksize: int = BLOCK, latency: Any = None, config: dict[str, Any] | None = None
    ) -> None:
        self.endpoint = endpoint
        self.blocksize = blocksize
        self.latency = latency
        self.config = config or {}
        self.input_overflows = 0
        self.output_underflows = 0
        self.cap_t = np.zeros(200_000, dtype=np.float64)  # capture time of each mic block
        self.cap_n = np.zeros(200_000, dtype=np.int64)
        self.blocks = 0
        self.sent = np.zeros(RATE * 60 * 12, dtype=np.int16)  # what the mic callback sent (12 min)
        self.sent_n = 0
        self.responses_done = 0
        self.turns = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self.error: BaseException | None = None
        # playback state (the quickstart's AudioProcessor)
        self._queue: queue.Queue[tuple[int, bytes]] = queue.Queue()
        self._seq = 0
        self._base = 0
        self._remaining = b""
        self._conn: Any = None
        self._in: Any = None
        self._out: Any = None
        self._active_response = False
        self._got_audio = False
        self.starved = 0

    # ------------------------------------------------------------- thread shell
    def start(self) -> ReferenceClient:
        """Connect and start the audio (returns once the session is configured)."""
        self._thread = threading.Thread(target=self._main, name="reference-client", daemon=True)
        self._thread.start()
        if not self._ready.wait(20):
            raise RuntimeError(f"reference client did not get a session.updated: {self.error!r}")
        return self

    def stop(self) -> None:
        """Stop audio and close the connection."""
        for s in (self._in, self._out):  # the mic first: its callback schedules on the loop
            if s is not None:
                s.stop()
                s.close()
        self._in = self._out = None
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:  # reported by start()/the bench
            self.error = exc
            self._ready.set()

    async def _run(self) -> None:
        from azure.ai.voicelive.aio import connect
        from azure.core.credentials import AzureKeyCredential

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with connect(endpoint=self.endpoint, credential=AzureKeyCredential("bench"), model="gpt-realtime") as c:
            self._conn = c
            session = {"modalities": ["text", "audio"], "input_audio_format": "pcm16", "output_audio_format": "pcm16"}
            session.update(self.config)
            await c.send({"type": "session.update", "session": session})
            self._start_playback()
            reader = asyncio.create_task(self._events(c))
            await self._stop.wait()
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _events(self, conn: Any) -> None:
        async for event in conn:
            etype = str(getattr(event, "type", ""))
            if etype == "session.updated":
                if self._in is None:
                    self._start_capture()
                self._ready.set()
            elif etype == "input_audio_buffer.speech_started":
                self._skip_pending_audio()
                if self._active_response:
                    with contextlib.suppress(Exception):
                        await conn.response.cancel()
            elif etype == "response.created":
                self._active_response = True
                self._got_audio = False
            elif etype == "response.audio.delta":
                self._queue_audio(event.delta)
                self._got_audio = True
            elif etype == "response.done":
                self._active_response = False
                self.responses_done += 1
            elif etype == "input_audio_buffer.committed":
                self.turns += 1

    # ------------------------------------------------------------- audio (quickstart style)
    def _start_capture(self) -> None:
        import sounddevice as sd

        loop = self._loop
        conn = self._conn

        def callback(indata: np.ndarray, frames: int, ti: Any, status: Any) -> None:
            if status.input_overflow:
                self.input_overflows += 1
            if self.blocks < self.cap_t.shape[0]:
                self.cap_t[self.blocks] = time.monotonic()
                self.cap_n[self.blocks] = frames
                self.blocks += 1
            if self.sent_n + frames <= self.sent.shape[0]:  # bench: keep a copy of what is sent
                self.sent[self.sent_n : self.sent_n + frames] = indata[:, 0]
                self.sent_n += frames
            audio_base64 = base64.b64encode(indata.tobytes()).decode("utf-8")
            asyncio.run_coroutine_threadsafe(conn.input_audio_buffer.append(audio=audio_base64), loop)  # type: ignore[arg-type]

        kw = {} if self.latency is None else {"latency": self.latency}
        self._in = sd.InputStream(
            samplerate=RATE, channels=1, dtype="int16", blocksize=self.blocksize, callback=callback, **kw
        )
        self._in.start()

    def _start_playback(self) -> None:
        import sounddevice as sd

        def callback(outdata: np.ndarray, frames: int, ti: Any, status: Any) -> None:
            if status.output_underflow:
                self.output_underflows += 1
            need = frames * 2
            out = self._remaining
            self._remaining = b""
            while len(out) < need:
                try:
                    seq, data = self._queue.get_nowait()
                except queue.Empty:
                    break
                if seq < self._base:
                    continue  # skipped by a barge-in
                out = out + data
            if len(out) > need:
                self._remaining = out[need:]
                out = out[:need]
            if len(out) < need:
                if self._active_response and self._got_audio:
                    self.starved += 1  # bench: ran dry while the answer was still arriving
                out = out + bytes(need - len(out))
            outdata[:, 0] = np.frombuffer(out, dtype="<i2")

        kw = {} if self.latency is None else {"latency": self.latency}
        self._out = sd.OutputStream(
            samplerate=RATE, channels=1, dtype="int16", blocksize=self.blocksize, callback=callback, **kw
        )
        self._out.start()

    def _queue_audio(self, data: bytes) -> None:
        self._queue.put((self._seq, data))
        self._seq += 1

    def _skip_pending_audio(self) -> None:
        self._base = self._seq
        self._seq += 1

    @property
    def latencies(self) -> tuple[float, float]:
        """(input, output) latency PortAudio reported for the open streams (s)."""
        return (
            float(self._in.latency) if self._in is not None else 0.0,
            float(self._out.latency) if self._out is not None else 0.0,
        )

    def sent_track(self) -> np.ndarray:
        """Every mic block sent so far, in order."""
        return self.sent[: self.sent_n].copy()

    def capture_table(self) -> tuple[np.ndarray, np.ndarray]:
        """Capture times (monotonic s) and sizes of the mic blocks so far."""
        n = self.blocks  # the callback keeps counting
        return self.cap_t[:n].copy(), self.cap_n[:n].copy()
