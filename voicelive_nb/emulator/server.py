"""The emulator's I/O shell: an aiohttp WebSocket server around :class:`Conversation`.

``Emulator`` runs its own asyncio loop in a daemon thread and serves
``ws://HOST:PORT/voice-live/realtime`` (any query string), so the unmodified SDK
connects with ``connect(endpoint=emu.endpoint, credential=AzureKeyCredential(...))``.
Per connection (:class:`~voicelive_nb.emulator.connection.Connection`): a reader feeds
client messages to the sans-I/O core; a sender task writes server events (applying
:class:`Faults`); responses are paced there (time to first audio, faster-than-real-time
factor).  This module is the server: listening, handshakes (api-key), the thread pools,
start/stop, load figures.  Nothing slow runs on the event loop: calls
into the core (VAD included) run in a small "core" thread pool, one at a time per
session and in order (Silero releases the GIL, so VAD uses the second core); ASR and
TTS run in their own pools.
"""

from __future__ import annotations

import asyncio
import collections
import hmac
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from aiohttp import web

from voicelive_nb.audio.apm import start_runtime
from voicelive_nb.emulator.asr import ASR, WhisperASR
from voicelive_nb.emulator.connection import Connection
from voicelive_nb.emulator.core import Conversation
from voicelive_nb.emulator.faults import Faults
from voicelive_nb.emulator.responder import Responder, default_responder
from voicelive_nb.emulator.settings import EmulatorSettings
from voicelive_nb.emulator.vad import acquire_model, release_model
from voicelive_nb.speech.tts import TTS, EspeakTTS

log = logging.getLogger("voicelive_nb.emulator")

PATH = "/voice-live/realtime"
WORKER_THREAD_PREFIX = "emulator-"
"""Name prefix of the worker pools' threads (ASR, responder/TTS, VAD model): the CLI finds them by it."""


def _quiet(func: Any) -> None:
    try:
        func()
    except Exception as exc:  # reported again, clearly, when a transcription needs it
        log.info("speech recogniser not available: %s", exc)


class Emulator:
    """A local Voice Live server on its own event loop in a daemon thread.

    Args:
        host: Interface to bind (loopback by default; binding elsewhere exposes it).
        port: TCP port (0 = pick a free one; read it back from :attr:`port`).
        api_key: When set, handshakes must carry ``api-key: KEY`` (or ``Authorization:
            Bearer KEY``, or ``?api-key=KEY``); others get HTTP 401.
        responder: ``callable(transcript, session) -> str`` (default: echo what was heard).
        settings: :class:`EmulatorSettings` (pacing, chunk size, VAD choice...).
        tts, asr: Engines (default eSpeak NG and faster-whisper tiny.en, loaded lazily);
            ``asr=False`` disables recognition.

    Usage::

        with Emulator() as emu:
            async with connect(endpoint=emu.endpoint, credential=AzureKeyCredential("x"),
                               model="gpt-realtime") as conn: ...
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str | None = None,
        responder: Responder | None = None,
        settings: EmulatorSettings | None = None,
        tts: TTS | None = None,
        asr: ASR | Literal[False] | None = None,
    ) -> None:
        if api_key is not None and not api_key:
            raise ValueError("api_key must be a non-empty string, or None to accept any client")
        self.host = host
        self.port = port
        self.settings = settings or EmulatorSettings()
        self.responder: Responder = responder or default_responder
        self.faults = Faults()
        self._api_key = api_key
        self._tts: TTS = tts or EspeakTTS(self.settings.tts_voice, self.settings.tts_wpm)
        self._asr: ASR | None = None if asr is False else (asr or WhisperASR())
        self._asr_pool = ThreadPoolExecutor(1, thread_name_prefix=WORKER_THREAD_PREFIX + "asr")
        self._work_pool = ThreadPoolExecutor(4, thread_name_prefix=WORKER_THREAD_PREFIX + "work")
        self._core_pool = ThreadPoolExecutor(2, thread_name_prefix=WORKER_THREAD_PREFIX + "core")
        self._conns: set[Connection] = set()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._asr_warm = False
        self._loop_lags: collections.deque[float] = collections.deque(maxlen=100_000)
        self.total_connections = 0
        """Handshakes accepted since start."""

    def __repr__(self) -> str:
        state = "running" if self._thread is not None else "stopped"
        return f"<Emulator {self.endpoint} {state} connections={self.connections}>"

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """``http://HOST:PORT`` to pass to ``connect(endpoint=...)``."""
        return f"http://{self.host}:{self.port}"

    @property
    def connections(self) -> int:
        """Open WebSocket sessions."""
        return len(self._conns)

    @property
    def conversations(self) -> list[Conversation]:
        """The live sessions' sans-I/O state (read it, don't drive it from another thread)."""
        return [c.conv for c in list(self._conns)]

    def start(self, timeout: float = 10.0) -> Emulator:
        """Bind and serve in a background thread; returns self once it accepts connections."""
        if self._thread is not None:
            return self
        # the echo cancellers' process-wide runtime, started here rather than inside the first
        # session that asks for server echo cancellation (see start_runtime)
        start_runtime()
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name=f"voicelive-emulator-{self.port}", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the emulator did not start in time")
        if self._error is not None:
            self._thread.join(1)
            self._thread = None
            raise OSError(f"emulator could not listen on {self.host}:{self.port}: {self._error}") from self._error
        log.info("Voice Live emulator listening at %s", self.endpoint)
        if self.host not in ("127.0.0.1", "localhost", "::1") and self._api_key is None:
            log.warning("the emulator listens on %s without an api_key: anyone on the network can use it", self.host)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Close every session and the listener; idempotent."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None or loop is None or stopping is None:
            return
        loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout)
        self._thread = None

    def close(self) -> None:
        """Stop and release the worker threads (the object cannot be restarted)."""
        self.stop()
        self._asr_pool.shutdown(wait=False, cancel_futures=True)
        self._work_pool.shutdown(wait=False, cancel_futures=True)
        self._core_pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
        finally:
            loop.close()
            self._loop = None

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        app = web.Application()
        app.router.add_get(PATH, self._handle)
        app.router.add_get("/openai/realtime", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            addresses = runner.addresses
            if addresses:
                self.port = int(addresses[0][1])
            self._ready.set()
            ticker = asyncio.get_running_loop().create_task(self._watch_loop())
            await self._stopping.wait()
            ticker.cancel()
            for conn in list(self._conns):
                conn.closed = True
                await conn.ws.close(code=1001, message=b"emulator stopping")
        finally:
            await runner.cleanup()

    async def _watch_loop(self, period: float = 0.02) -> None:
        # How late the loop wakes up for a 20 ms timer: the emulator's own scheduling delay.
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + period
            await asyncio.sleep(period)
            self._loop_lags.append((loop.time() - due) * 1000)

    def stats(self, reset: bool = False) -> dict[str, float]:
        """Load figures: open sessions and event-loop lag (ms late for a 20 ms timer) since the last reset."""
        lags = sorted(self._loop_lags)
        if reset:
            self._loop_lags.clear()

        def q(x: float) -> float:
            return round(lags[min(len(lags) - 1, int(x * len(lags)))], 1) if lags else 0.0

        return {
            "connections": self.connections,
            "loop_lag_p50_ms": q(0.5),
            "loop_lag_p95_ms": q(0.95),
            "loop_lag_max_ms": q(1.0),
            "samples": len(lags),
        }

    # --- handshake ---------------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        if self._api_key is None:
            return True
        key = self._api_key.encode()
        offered = [request.headers.get("api-key", ""), request.query.get("api-key", "")]
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            offered.append(auth[7:].strip())
        return any(o and hmac.compare_digest(o.encode(), key) for o in offered)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self.faults.take_refusal():
            return web.Response(status=503, text="handshake refused (emulator fault injection)\n")
        if not self._authorized(request):
            log.warning("refused a handshake from %s: missing or wrong api-key", request.remote)
            return web.Response(
                status=401,
                text="Unauthorized: send the emulator's key in the api-key header "
                "(AzureKeyCredential) or as a Bearer token.\n",
            )
        ws = web.WebSocketResponse(max_msg_size=self.settings.max_message_bytes * 4 + 1024, heartbeat=None)
        await ws.prepare(request)
        loop = asyncio.get_running_loop()
        model = None
        if self.settings.vad:
            model = await loop.run_in_executor(self._work_pool, acquire_model, self.settings.vad)
        conv = Conversation(
            self.settings,
            model,
            model=request.query.get("model") or None,
            api_version=request.query.get("api-version") or None,
        )
        if self._asr is not None and not self._asr_warm:
            self._asr_warm = True  # load the recogniser in the background before the first turn needs it
            load = getattr(self._asr, "load", None)
            if load is not None:
                loop.run_in_executor(self._asr_pool, _quiet, load)
        conn = Connection(self, ws, request, conv)
        self._conns.add(conn)
        self.total_connections += 1
        t0 = time.monotonic()
        log.info("session %s opened (%d open)", conv.session["id"], len(self._conns))
        try:
            await conn.run()
        finally:
            self._conns.discard(conn)
            if model is not None:
                release_model(model)
            log.info("session %s closed after %.1f s", conv.session["id"], time.monotonic() - t0)
        return ws
