"""One client connection of the emulator: the reader, the sender and the work its responses ask for.

:class:`Connection` is what :class:`~voicelive_nb.emulator.server.Emulator` runs for each
WebSocket it accepts: a reader that feeds client messages to the sans-I/O
:class:`~voicelive_nb.emulator.core.Conversation` (in the emulator's core thread pool, one call
at a time and in order), a sender task that writes the server events (applying the armed
:class:`~voicelive_nb.emulator.faults.Faults`), and the effects the core asks for:
transcriptions (ASR pool), replies (responder and TTS in the work pool, tool calls through
:mod:`~voicelive_nb.emulator.tool_replies`) and their pacing (time to first audio,
faster-than-real-time factor).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from aiohttp import WSMsgType, web

from voicelive_nb.emulator.asr import ASR
from voicelive_nb.emulator.audio_formats import encode_output, resample
from voicelive_nb.emulator.core import Conversation
from voicelive_nb.emulator.effects import Generate, ListMcpTools, Output, Transcribe
from voicelive_nb.emulator.mcp_client import McpSessions
from voicelive_nb.emulator.tool_replies import as_calls, list_mcp, tool_reply
from voicelive_nb.speech.tts import TTS

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.emulator.server import Emulator

__all__ = ["Connection"]

log = logging.getLogger("voicelive_nb.emulator")  # (the emulator's one log, as in server.py)

_T = TypeVar("_T")


class Connection:
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
