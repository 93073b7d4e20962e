"""The session's asyncio side: one connection at a time around the sans-I/O protocol.

:class:`SessionEngine` runs on the session thread's loop (see
:mod:`voicelive_nb.session`, which owns the thread and the public commands).  It
is a thin I/O shell around :class:`~voicelive_nb.session.protocol.SessionProtocol`:

* connects with the SDK (``azure.ai.voicelive.aio.connect``), sends the current
  session config, reads raw frames off the SDK's socket (:func:`~voicelive_nb.session.transport.text_receiver`)
  and parses them with :func:`~voicelive_nb.session.wire.parse_frame`
  (``json.loads`` with audio deltas decoded fast, so records keep the server's dicts
  verbatim), stamps each on receipt, publishes
  it and carries out the protocol's actions (send, play, flush + truncate, ...);
* its :class:`~voicelive_nb.session.pump.AudioPump` (``engine.pump``) drains the mic into
  ``input_audio_buffer.append`` and the player's marks into playback records;
* runs the functions the model calls and sends their outputs, answers MCP approval
  requests (:class:`~voicelive_nb.session.tool_dispatch.ToolDispatch`);
* reconnects with exponential backoff when the socket drops, re-sending the
  current config; a server that never confirms the config is dropped after
  ``configure_timeout_s``; after ``max_failures`` consecutive failures (or at once
  for a refused credential) it publishes ``connection.state`` ``failed`` and returns.

Nothing raises out of :meth:`SessionEngine.run`: problems become ``local.error``
and ``connection.state`` records.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from voicelive_nb.audio.sources import AudioSink, AudioSource, StartsOnQueue
from voicelive_nb.events import EventRecord, Kind, Local
from voicelive_nb.session.actions import (
    Action,
    ApproveMcp,
    CommandDone,
    FinishAudio,
    FlushPlayback,
    PlayAudio,
    ReportError,
    RunTool,
    SendEvent,
    StartAudio,
)
from voicelive_nb.session.errors import explain_exception, is_fatal_exception, is_unreachable
from voicelive_nb.session.flush import flush_playback, flushed_data
from voicelive_nb.session.protocol import SessionProtocol
from voicelive_nb.session.pump import AudioPump, Publish
from voicelive_nb.session.tool_dispatch import McpApproval, ToolDispatch
from voicelive_nb.session.transport import text_receiver
from voicelive_nb.session.wire import parse_frame

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.audio.player import Player
    from voicelive_nb.config import SessionConfig
    from voicelive_nb.connection import ConnectionSettings
    from voicelive_nb.session.tools import ToolRunner

log = logging.getLogger(__name__)


class SessionEngine:
    """Runs one session on the current event loop until :meth:`request_stop`.

    Args:
        config: The session config to send on (every) connect.
        settings: Where to connect (already resolved to a concrete endpoint).
        source: The mic (an ``AudioSource``), started when the session is configured.
        sink: The speaker (an ``AudioSink``), started with ``player`` at once.
        player: The barge-in player the sink drains.
        publish: Where records go (the session's :class:`~voicelive_nb.events.EventBus`).
        max_failures: Consecutive failed (re)connects before giving up.
        backoff_s: First reconnect delay; doubles each failure, capped at ``max_backoff_s``.
        poll_s: Mic/marks pump interval.
        configure_timeout_s: A connection whose server has not confirmed the session
            config (``session.updated``) within this time is dropped and retried.
        bus_dropped: Reads the bus's dropped-record count (for ``audio.counters``).
        on_sink_started: Called once the speaker runs (its latency is known then).
        tools: Runs the functions the model calls (None: calls are answered with an error).
        mcp_approval: How MCP approval requests are answered (see :data:`McpApproval`).
    """

    def __init__(
        self,
        *,
        config: SessionConfig,
        settings: ConnectionSettings,
        source: AudioSource,
        sink: AudioSink,
        player: Player,
        publish: Publish,
        max_failures: int = 5,
        backoff_s: float = 0.25,
        max_backoff_s: float = 8.0,
        poll_s: float = 0.01,
        configure_timeout_s: float = 10.0,
        bus_dropped: Callable[[], int] = lambda: 0,
        on_sink_started: Callable[[], None] | None = None,
        tools: ToolRunner | None = None,
        mcp_approval: McpApproval = None,
    ) -> None:
        self.source = source
        self.sink = sink
        self.player = player
        self._publish = publish
        self.protocol = SessionProtocol()
        self._conn: Any = None
        self.pump = AudioPump(
            source=source,
            sink=sink,
            player=player,
            publish=publish,
            connection=lambda: self._conn,
            audio_enabled=lambda: self._conn is not None and self.protocol.audio_enabled,
            late_deltas_dropped=lambda: self.protocol.late_deltas_dropped,
            poll_s=poll_s,
            bus_dropped=bus_dropped,
        )
        """The mic pump and the player's marks (the engine's audio half)."""
        self.config = config
        self.settings = settings
        self.max_failures = max_failures
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.configure_timeout_s = configure_timeout_s
        self.close_timeout_s = 2.0
        """Longest wait for the server's answer to our close frame."""
        self._lost_reason: str | None = None
        self.on_sink_started = on_sink_started
        self.state = "idle"
        self.embedded = False
        """True when ``settings`` point at the session's own embedded emulator (nothing configured)."""
        self.failure: str | None = None
        """Why the session failed, in plain words (set with state ``failed``)."""
        self.stopping = False
        self._serve_task: asyncio.Task[bool] | None = None
        self._stop: asyncio.Event | None = None
        self._pending: dict[str, asyncio.Future[tuple[bool, Any]]] = {}
        self._next_cmd = 0
        self._player_full_reported = False
        self.tools = ToolDispatch(
            tools,
            mcp_approval,
            protocol=self.protocol,
            enabled=lambda: self.config.tool_names,
            emit=self._emit,
            send=self._send,
            run=self._run,
            error=self._error,
        )
        """The calls the model makes and the MCP approvals it asks for."""
        self._rx_t = 0.0  # when the server event being handled arrived
        self.flush_confirm_s = 0.5
        """Longest wait for a sink's own count of what it played before a flush (the browser's page)."""

    # ------------------------------------------------------------------ records

    def _emit(
        self,
        kind: Kind,
        type: str,
        data: Mapping[str, Any] | None = None,
        audio: bytes | None = None,
        t: float | None = None,
    ) -> None:
        self._publish(EventRecord.now(kind, type, data, audio, t))

    def _error(self, message: str, where: str, **extra: Any) -> None:
        log.warning("%s: %s", where, message)
        self._emit("local", Local.ERROR, {"message": message, "where": where, **extra})

    async def _send(self, event: dict[str, Any], record: bool = True) -> bool:
        conn = self._conn
        if conn is None:
            return False
        try:
            await conn.send(event)
        except Exception as exc:  # a dying socket: the receive loop notices and reconnects
            self.pump.send_failed(exc)
            return False
        if record:
            self._emit("client", str(event.get("type", "")), event)
        return True

    @property
    def muted(self) -> bool:
        """Send digital silence instead of the mic (the pump's switch)."""
        return self.pump.muted

    @muted.setter
    def muted(self, value: bool) -> None:
        self.pump.muted = value

    @property
    def counters(self) -> dict[str, Any]:
        """The latest ``audio.counters`` values (the pump's)."""
        return self.pump.counters

    def _set_state(self, state: str, attempt: int = 0, detail: str = "") -> None:
        if state == "failed":
            self.failure = detail or "the session failed"
        self.state = state
        endpoint = self.settings.describe()["endpoint"]
        self._emit(
            "local",
            Local.CONNECTION,
            {"state": state, "endpoint": endpoint, "attempt": attempt, "detail": detail, "emulator": self.embedded},
        )

    # ------------------------------------------------------------------ commands (loop thread)

    def request_stop(self) -> None:
        """Ask :meth:`run` to finish: closes the socket, which ends the receive loop."""
        self.stopping = True
        if self._stop is not None:
            self._stop.set()
        # Cancel the receive loop rather than closing under it: the connection's
        # context manager then closes the socket with nothing waiting on it.
        task = self._serve_task
        if task is not None and not task.done():
            task.cancel()

    async def update(self, config: SessionConfig, timeout: float, command_id: str | None = None) -> tuple[bool, Any]:
        """Send ``config`` as a session.update; return (ok, server session or error text).

        The protocol core matches the server's answer to this update (``command_id``: the
        caller's name for it; one is made up if None).
        """
        if self._conn is None or not self.protocol.audio_enabled:
            self.config = config
            return True, "not connected: the config is sent when the connection is (re)established"
        if command_id is None:
            self._next_cmd += 1
            command_id = f"update-{self._next_cmd}"
        future: asyncio.Future[tuple[bool, Any]] = asyncio.get_running_loop().create_future()
        self._pending[command_id] = future
        try:
            await self._run(self.protocol.update_session(config.to_dict(), command_id))
            ok, detail = await asyncio.wait_for(asyncio.shield(future), timeout)
        except asyncio.TimeoutError:
            ok, detail = False, f"no answer from the server within {timeout:g} s"
            self.protocol.forget_command(command_id)  # a lost answer must not hold up the next command's
        finally:
            self._pending.pop(command_id, None)
        if ok:
            self.config = config
        return ok, detail

    @property
    def pending_approvals(self) -> dict[str, ApproveMcp]:
        """MCP approval requests waiting for :meth:`approve_mcp`."""
        return self.tools.pending

    async def approve_mcp(self, approval_request_id: str, approve: bool, by: str = "user") -> bool:
        """Answer a pending MCP approval request; False if there is none with that id."""
        return await self.tools.approve(approval_request_id, approve, by)

    async def send_text(self, text: str) -> None:
        """Add a user text message and ask for a response."""
        await self._run(self.protocol.send_text(text))

    async def cancel_response(self) -> None:
        """Cancel the active response and flush playback."""
        await self._run(self.protocol.cancel_response())

    # ------------------------------------------------------------------ main

    async def run(self) -> None:
        """Connect (and reconnect) until stopped or given up; never raises."""
        self._stop = asyncio.Event()
        if self.stopping:  # stop() came before the loop got here
            self._stop.set()
        pump = asyncio.get_running_loop().create_task(self.pump.run(), name="voicelive-pump")
        try:
            try:
                self.sink.start(self.player)
            except Exception as exc:  # no device, PortAudio missing ...: a plain message, no traceback
                self._error(f"The speaker could not be started: {exc}", "speaker")
                self._set_state("failed", detail=f"speaker: {exc}")
                return
            if self.on_sink_started is not None:
                self.on_sink_started()
            await self._connect_loop()
        except Exception as exc:  # the last line of defence: report, never raise
            log.exception("session engine failed")
            self._error(f"The session stopped after an unexpected error: {exc!r}", "session")
            self._set_state("failed", detail=str(exc))
        finally:
            pump.cancel()
            await asyncio.gather(pump, self.tools.stop(), return_exceptions=True)
            for future in self._pending.values():
                if not future.done():
                    future.set_result((False, "the session stopped"))
            self._stop_audio()
            self.pump.drain_marks()
            self.pump.publish_counters()
            if self.state != "failed":
                self._set_state("closed")

    def _stop_audio(self) -> None:
        self.pump.unwatch_mic()
        for name, part in (("mic", self.source), ("speaker", self.sink)):
            try:
                part.stop()
            except Exception as exc:
                self._error(f"Stopping the {name} failed: {exc!r}", name)

    async def _connect_loop(self) -> None:
        from azure.ai.voicelive.aio import connect

        assert self._stop is not None
        failures = 0
        attempt = 0
        connected_once = False
        credential = self.settings.credential()
        try:
            while not self._stop.is_set():
                attempt += 1
                self._set_state("connecting" if attempt == 1 else "reconnecting", attempt)
                detail = ""
                fatal = False
                ready = False
                try:
                    extra: dict[str, Any] = {}
                    if self.settings.api_version:
                        extra["api_version"] = self.settings.api_version
                    manager = connect(
                        credential=credential,
                        endpoint=str(self.settings.endpoint),
                        model=self.config.model,
                        # a peer that never answers our close frame must not hold stop() for
                        # aiohttp's default 10 s
                        connection_options={"close_timeout": self.close_timeout_s},
                        **extra,
                    )
                    async with manager as conn:
                        self._conn = conn
                        if self._stop.is_set():
                            break
                        self._set_state("connected", attempt)
                        connected_once = True
                        self._lost_reason = None
                        self._serve_task = asyncio.get_running_loop().create_task(self._serve(conn))
                        try:
                            ready = await self._serve_task
                        except asyncio.CancelledError:
                            if not self._stop.is_set():
                                raise  # our own task was cancelled, not just the receive loop
                            ready = True
                        finally:
                            self._serve_task = None
                        detail = self._lost_reason or "the server closed the connection"
                except Exception as exc:
                    detail = explain_exception(exc)
                    # a first connect to a wrong address fails at once; a lost connection is retried
                    fatal = is_fatal_exception(exc) or (not connected_once and is_unreachable(exc))
                finally:
                    self._conn = None
                    await self._run(self.protocol.connection_reset())
                if self._stop.is_set():
                    break
                failures = 1 if ready else failures + 1
                if fatal or failures >= self.max_failures:
                    self._error(detail, "connection")
                    self._set_state("failed", attempt, detail)
                    return
                delay = min(self.backoff_s * 2 ** (failures - 1), self.max_backoff_s)
                log.warning("connection lost (%s); reconnecting in %.2f s", detail, delay)
                self._set_state("reconnecting", attempt, f"{detail}; retrying in {delay:.2f} s")
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
        finally:
            close = getattr(credential, "close", None)
            if close is not None:
                result = close()
                if asyncio.iscoroutine(result):
                    await result

    async def _serve(self, conn: Any) -> bool:
        """Configure the session and receive until the socket closes. True if it got configured."""
        from azure.ai.voicelive.aio import ConnectionClosed

        assert self._stop is not None
        await self._run(self.protocol.update_session(self.config.to_dict()))
        configure_by = time.monotonic() + self.configure_timeout_s
        receive = text_receiver(conn)  # frames as the socket hands them over (str)
        while not self._stop.is_set():
            try:
                if self.protocol.audio_enabled:
                    raw = await receive()
                else:  # a server that never confirms the config must not leave us waiting forever
                    raw = await asyncio.wait_for(receive(), max(0.0, configure_by - time.monotonic()))
            except ConnectionClosed:
                break
            except asyncio.TimeoutError:
                self._lost_reason = (
                    f"the server did not answer the session configuration within {self.configure_timeout_s:g} s"
                )
                self._error(f"The server is not responding: {self._lost_reason}; reconnecting.", "connection")
                return False
            t = time.monotonic()
            if not raw:
                continue
            try:
                event = parse_frame(raw)  # json.loads, with audio deltas decoded fast
            except ValueError:
                self._error("The server sent a frame that is not JSON; ignored it.", "server")
                continue
            if isinstance(event, dict):
                await self._on_server(event, t)
        return self.protocol.audio_enabled or self.protocol.session != {}

    # ------------------------------------------------------------------ server events

    async def _on_server(self, event: dict[str, Any], t: float) -> None:
        etype = str(event.get("type", ""))
        self._rx_t = t
        actions = self.protocol.receive(event)
        if etype == "response.audio.delta":
            pcm = next((a.pcm for a in actions if isinstance(a, PlayAudio)), None)
            data = {k: v for k, v in event.items() if k != "delta"}
            delta = event.get("delta")
            data["delta_bytes"] = len(pcm) if pcm is not None else (len(delta) * 3 // 4 if delta else 0)
            if pcm is None:
                data["played"] = False
            self._emit("server", etype, data, pcm, t)
        else:
            self._emit("server", etype, event, None, t)
        await self._run(actions)

    async def _run(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, SendEvent):
                await self._send(action.event)
            elif isinstance(action, PlayAudio):
                self._play(action)
            elif isinstance(action, FinishAudio):
                self.player.done(action.response_id, action.item_id)
            elif isinstance(action, FlushPlayback):
                await self._flush(action.reason)
            elif isinstance(action, StartAudio):
                self.pump.start_mic()
            elif isinstance(action, ReportError):
                self._error(action.message, "server", code=action.code)
            elif isinstance(action, CommandDone):
                future = self._pending.get(action.command_id)
                if future is not None and not future.done():
                    future.set_result((action.ok, action.detail))
            elif isinstance(action, RunTool):
                self.tools.start_call(action, self._rx_t)
            elif isinstance(action, ApproveMcp):
                self.tools.start_approval(action)

    def _play(self, action: PlayAudio) -> None:
        from voicelive_nb.audio.playback import PlayerFullError

        try:
            self.player.push(action.pcm, action.response_id, action.item_id)
        except PlayerFullError as exc:
            if not self._player_full_reported:
                self._player_full_reported = True
                self._error(str(exc), "speaker")
            return
        if isinstance(self.sink, StartsOnQueue):
            self.sink.audio_queued()  # AdaptiveSpeaker: an answer starts now, not behind the device's silence

    async def _flush(self, reason: str) -> None:
        flushed = await flush_playback(
            self.player, self.sink, reason, drain_marks=self.pump.drain_marks, confirm_s=self.flush_confirm_s
        )
        if flushed is None:
            return
        info, played_by = flushed
        self._emit("local", Local.PLAYBACK_FLUSHED, flushed_data(info, played_by), t=info.t)
        await self._run(self.protocol.playback_flushed(info.item_id, info.played_ms, info.response_id))
