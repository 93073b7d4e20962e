"""The emulator's I/O shell: an aiohttp WebSocket server around :class:`Conversation`.

``Emulator`` runs its own asyncio loop in a daemon thread and serves
``ws://HOST:PORT/voice-live/realtime`` (any query string), so the unmodified SDK
connects with ``connect(endpoint=emu.endpoint, credential=AzureKeyCredential(...))``.
Per connection: a reader feeds client messages to the sans-I/O core; a sender task
writes server events (applying :class:`Faults`); responses are paced here (time to
first audio, faster-than-real-time factor).  Nothing slow runs on the event loop: calls
into the core (VAD included) run in a small "core" thread pool, one at a time per
session and in order (Silero releases the GIL, so VAD uses the second core); ASR and
TTS run in their own pools.
"""

from __future__ import annotations

import asyncio
import collections
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, TypeVar

import numpy as np
from aiohttp import WSMsgType, web

from voicelive_nb.audio.apm import start_runtime
from voicelive_nb.emulator.asr import ASR, WhisperASR
from voicelive_nb.emulator.audio_formats import encode_output, resample
from voicelive_nb.emulator.core import Conversation
from voicelive_nb.emulator.effects import Generate, ListMcpTools, Output, Transcribe
from voicelive_nb.emulator.faults import Faults
from voicelive_nb.emulator.mcp_client import McpSessions
from voicelive_nb.emulator.responder import Responder, default_responder
from voicelive_nb.emulator.settings import EmulatorSettings
from voicelive_nb.emulator.tool_replies import as_calls, list_mcp, tool_reply
from voicelive_nb.emulator.vad import acquire_model, release_model
from voicelive_nb.speech.tts import TTS, EspeakTTS

log = logging.getLogger("voicelive_nb.emulator")

PATH = "/voice-live/realtime"
WORKER_THREAD_PREFIX = "emulator-"
"""Name prefix of the worker pools' threads (ASR, responder/TTS, VAD model): the CLI finds them by it."""
_T = TypeVar("_T")


class _Connection:
    """One WebSocket session: reader, sender, and the tasks of its responses."""

    def __init__(self, emu: Emulator, ws: web.WebSocketResponse, request: web.Request, conv: Conversation) -> None:
        self.emu = emu
        self.ws = ws
        self.request = request
        self.conv = conv
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[tuple[float, dict[str, Any]] | None] = asyncio.Queue()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.transcripts: dict[str, asyncio.Future[str | None]] = {}
        self.closed = False
        self.mcp = McpSessions(emu.settings.mcp_timeout_s)  # this conversation's MCP client sessions
        self._core_order = asyncio.Lock()  # calls into the core run in arrival order...
        self._core_mutex = threading.Lock()  # ...and never two at once, even after a cancel

    async def core(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Call into the sans-I/O core off the event loop, one call at a time per session.

        The core runs in the emulator's core thread pool: the speech model releases the GIL,
        so VAD for many sessions runs beside the event loop instead of on it.
        """

        def locked() -> _T:
            with self._core_mutex:
                return fn(*args)

        async with self._core_order:
            return await self.loop.run_in_executor(self.emu._core_pool, locked)

    # --- plumbing ----------------------------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task = self.loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("emulator task failed", exc_info=task.exception())

    def dispatch(self, outputs: list[Output]) -> None:
        """Queue events for the sender; start the work effects ask for."""
        for out in outputs:
            if isinstance(out, dict):
                self.queue.put_nowait((self.loop.time(), out))
            elif isinstance(out, Transcribe):
                self.transcripts[out.item_id] = self.loop.create_future()
                self._spawn(self._transcribe(out))
            elif isinstance(out, Generate):
                self._spawn(self._respond(out))
            elif isinstance(out, ListMcpTools):
                self._spawn(list_mcp(self, out))

    def log_warning(self, message: str) -> None:
        """Log a problem of this session (an MCP server that does not answer ...)."""
        log.warning("session %s: %s", self.conv.session.get("id"), message)

    def abort(self) -> None:
        """Drop the socket without a close frame (fault injection)."""
        self.closed = True
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    # --- sender ------------------------------------------------------------------------------

    async def sender(self) -> None:
        """Write queued events in order, applying the armed faults."""
        faults = self.emu.faults
        held: dict[str, Any] | None = None  # reorder: the event waiting for its successor
        while True:
            if held is not None:
                try:
                    item = await asyncio.wait_for(self.queue.get(), 0.2)
                except asyncio.TimeoutError:  # nothing to swap with: send it as is
                    event, held = held, None
                    if not await self._emit(event):
                        return
                    continue
            else:
                item = await self.queue.get()
            if item is None:
                return
            queued_at, event = item
            if faults.silent:
                continue
            if faults.delay_ms > 0:
                await asyncio.sleep(max(0.0, queued_at + faults.delay_ms / 1000 - self.loop.time()))
            if faults.reorder and held is None:
                held = event
                continue
            for ev in (event, held) if held is not None else (event,):
                if not await self._emit(ev):
                    return
            held = None

    async def _emit(self, event: dict[str, Any]) -> bool:
        faults = self.emu.faults
        if not await self._send(event):
            return False
        if faults.take_drop_after() or (
            event.get("type") == "response.audio.delta" and faults.take_drop_mid_response()
        ):
            self.abort()
            return False
        return True

    async def _send(self, event: dict[str, Any]) -> bool:
        if self.closed or self.ws.closed:
            return False
        if log.isEnabledFor(logging.INFO):
            log.info("-> %s", _describe(event))
        try:
            await self.ws.send_str(json.dumps(event))
        except (ConnectionError, RuntimeError) as exc:
            log.debug("send failed: %s", exc)
            self.closed = True
            return False
        return True

    # --- effects -----------------------------------------------------------------------------

    async def _transcribe(self, job: Transcribe) -> None:
        fut = self.transcripts[job.item_id]
        text: str | None = None
        error: str | None = None
        asr = self.emu._asr
        if asr is None:
            error = "input transcription is disabled in this emulator (Emulator(asr=False))"
        else:
            try:
                text = await self.loop.run_in_executor(self.emu._asr_pool, _run_asr, asr, job.pcm, job.rate)
            except Exception as exc:
                error = f"transcription failed: {exc}"
                log.warning("%s", error)
        if not self.closed:
            self.dispatch(await self.core(self.conv.transcription_result, job.item_id, text, error))
        if not fut.done():
            fut.set_result(await self.core(self.conv.transcript_of, job.item_id, text))

    async def _respond(self, job: Generate) -> None:
        settings = self.emu.settings
        started = self.loop.time()
        transcript = job.known_text
        if transcript is None and job.input_item_id in self.transcripts:
            try:  # a slow recogniser (a loaded machine) must not stall the reply forever
                transcript = await asyncio.wait_for(
                    asyncio.shield(self.transcripts[job.input_item_id]), settings.max_transcript_wait_ms / 1000
                )
            except asyncio.TimeoutError:
                log.info("transcript of %s not ready in time: replying without it", job.input_item_id)
        message = self.emu.faults.take_fail_next_response()
        if message is not None:
            self.dispatch(await self.core(self.conv.fail_response, job.response_id, "server_error", message))
            return
        emu = {
            "input_audio_ms": job.input_audio_ms,
            "response_id": job.response_id,
            "tool_outputs": job.tool_outputs,
            "mcp_tools": job.mcp_tools,
        }
        session = {**job.session, "emulator": emu}
        try:
            reply: Any = None
            if not job.approvals:
                reply = await self.loop.run_in_executor(self.emu._work_pool, self.emu.responder, transcript, session)
            text = reply
            if job.approvals or as_calls(reply) is not None:
                text = await tool_reply(self, job, reply, transcript, session)
                if text is None:  # the response made calls the client answers first: it is over
                    return
            audio = b""
            if job.audio:
                audio = await self.loop.run_in_executor(
                    self.emu._work_pool, _synthesize, self.emu._tts, str(text), job.rate_factor, job.output_format
                )
        except Exception as exc:
            log.exception("responder/TTS failed")
            failure = f"reply generation failed: {exc}"
            self.dispatch(await self.core(self.conv.fail_response, job.response_id, "server_error", failure))
            return
        await self.core(self.conv.set_response_content, job.response_id, str(text), audio)
        first = started + settings.time_to_first_audio_ms / 1000
        await asyncio.sleep(max(0.0, first - self.loop.time()))
        step = await self.core(self.conv.step_audio_ms, job.response_id) / 1000
        interval = step / settings.realtime_factor if settings.realtime_factor > 0 else 0.0
        due = self.loop.time()
        while not self.closed:
            events = await self.core(self.conv.response_step, job.response_id)
            if events is None:
                return
            self.dispatch(events)
            due += interval
            await asyncio.sleep(max(0.0, due - self.loop.time()))

    # --- reader ------------------------------------------------------------------------------

    async def run(self) -> None:
        sender = self.loop.create_task(self.sender())
        try:
            self.dispatch(self.conv.open())
            async for msg in self.ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    outputs = await self.core(self.conv.receive_raw, msg.data)
                    level = logging.DEBUG if self.conv.last_client_type == "input_audio_buffer.append" else logging.INFO
                    log.log(level, "<- %s", self.conv.last_client_type)
                    self.dispatch(outputs)
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.closed = True
            for task in list(self.tasks):
                task.cancel()
            self.queue.put_nowait(None)
            sender.cancel()
            await asyncio.gather(sender, *self.tasks, return_exceptions=True)
            await self.mcp.close()


def _run_asr(asr: ASR, pcm: np.ndarray, rate: int) -> str:
    audio = resample(pcm, rate, 16000).astype(np.float32) / 32768.0
    return asr.transcribe(audio)


def _synthesize(tts: TTS, text: str, rate_factor: float, fmt: str) -> bytes:
    pcm, rate = tts.synthesize(text, rate_factor=rate_factor)
    return encode_output(pcm, rate, fmt)


def _quiet(func: Any) -> None:
    try:
        func()
    except Exception as exc:  # reported again, clearly, when a transcription needs it
        log.info("speech recogniser not available: %s", exc)


def _describe(event: dict[str, Any]) -> str:
    etype = str(event.get("type"))
    if etype == "response.audio.delta":
        return f"{etype} ({len(event.get('delta', '')) * 3 // 4} bytes)"
    if etype == "error":
        err = event.get("error") or {}
        return f"error {err.get('code')}: {err.get('message')}"
    for key in ("audio_start_ms", "audio_end_ms", "transcript", "delta"):
        if key in event:
            return f"{etype} {key}={event[key]!r}"
    return etype


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
        self._conns: set[_Connection] = set()
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
        conn = _Connection(self, ws, request, conv)
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
