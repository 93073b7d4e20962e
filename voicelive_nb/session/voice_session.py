"""VoiceSession: a live Voice Live conversation on a background thread.

The caller's thread (a notebook kernel, a script) only calls command methods;
each returns quickly.  A daemon thread owns one asyncio loop, the SDK connection,
the mic pump and the player marks (:class:`~voicelive_nb.session.engine.SessionEngine`,
around the sans-I/O :class:`~voicelive_nb.session.protocol.SessionProtocol`).  Everything
that happens comes back as immutable :class:`~voicelive_nb.events.EventRecord`
objects on an :class:`~voicelive_nb.events.EventBus` (``subscribe``), so it works
the same inside Jupyter's running event loop (no ``asyncio.run`` conflict: the
loop lives on its own thread) and in plain scripts.

Example::

    from voicelive_nb import VoiceSession

    with VoiceSession(mic="question.wav", speaker="answer.wav", record="runs/one") as s:
        s.wait_for("response.done", timeout=30)
        print(s.update_vad(silence_duration_ms=800).result(5))
        print(s.tracker.summary())

No exception from the session thread reaches the caller: connection problems
become ``connection.state`` / ``local.error`` records (``state`` tells the
latest).  Bad arguments raise :class:`ValueError` at once, in the caller's thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import logging
import platform
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voicelive_nb.audio.sources import InputStats, OutputStats
from voicelive_nb.config import SessionConfig
from voicelive_nb.connection import ConnectionSettings, Secret
from voicelive_nb.events import EventBus, EventRecord, Local, Observer
from voicelive_nb.session.devices import check_spec, describe, headless, make_sink, make_source, transport
from voicelive_nb.session.echo import check_echo_specs, set_local_echo, with_echo_canceller
from voicelive_nb.session.engine import SessionEngine

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.metrics import TurnTracker
    from voicelive_nb.recording.recorder import Recorder
    from voicelive_nb.session.tools import ToolAnswers

log = logging.getLogger(__name__)

__all__ = ["CommandFuture", "CommandResult", "SessionFailedError", "VoiceSession"]


class SessionFailedError(ConnectionError):
    """The session gave up (unreachable endpoint, refused key, no speaker ...); the message says why."""


_BUS_THREAD = "voicelive-events"


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The server's answer to a command such as :meth:`VoiceSession.update_vad`.

    Attributes:
        command: ``"update"``, ``"update_vad"`` or ``"enable_tool"``.
        ok: True if the server accepted it (``session.updated``).
        detail: The confirmed session dict, or the reason it failed, in plain words.
        id: The command's id (also in its ``command.result`` record, and the Future's ``command_id``).
    """

    command: str
    ok: bool
    detail: Any = None
    id: str = ""


class CommandFuture(concurrent.futures.Future[CommandResult]):
    """The Future of a command's :class:`CommandResult`, named by ``command_id`` from the start.

    The same id is in the ``command.result`` record of the answer, so an observer of the
    records (the panel) can tell which of its commands an answer belongs to.
    """

    def __init__(self, command_id: str) -> None:
        super().__init__()
        self.command_id = command_id


class VoiceSession:
    """A Voice Live session running on its own thread.

    Args:
        config: Session settings (voice, instructions, VAD ...); default ``SessionConfig()``.
        connection: Endpoint and credential; None = ``ConnectionSettings.resolve()``
            (arguments > ``AZURE_VOICELIVE_*`` > ``.env``).  With no endpoint configured
            an embedded :class:`~voicelive_nb.emulator.Emulator` is started and used.
        mic: None (default input device; a WAV of demo prompts when
            ``VOICELIVE_NB_HEADLESS=1``), a device index/name, a ``.wav`` path,
            ``"browser"`` (the notebook page's microphone, for kernels without a sound
            card: :mod:`voicelive_nb.audio.browser`), or an ``AudioSource``.
        speaker: None (default output device; an in-memory capture when headless), a
            device index/name, a ``.wav`` path to write, ``"browser"`` (the page's
            speaker), or an ``AudioSink``.
        record: A folder to record the session into (a
            :class:`~voicelive_nb.recording.Recorder` observes the bus); each start
            needs a new folder.
        max_failures: Consecutive failed (re)connects before the session gives up.
        history: Records kept for :meth:`wait_for` ``since=`` look-backs.
        tools: Python functions (or ``@tool`` objects, or tool dicts) the model may call,
            added to ``config.tools``; the session runs them off its loop (see
            :mod:`voicelive_nb.session.tools`) and sends their outputs.
        tool_timeout_s: Longest run of a tool call (a ``@tool(timeout_s=...)`` overrides);
            then the model is told it timed out.
        mcp_approval: How the service's MCP approval requests are answered: None (wait
            for :meth:`approve_mcp`, e.g. the panel's buttons), True/False (approve/refuse
            all), or ``callable(request) -> bool`` (``request``: ``approval_request_id``,
            ``server_label``, ``name``, ``arguments``; run in a worker thread).
        tool_answers: Answers calls to tools that have no Python function here (an object
            with ``answer(name, arguments) -> ToolOutcome | None``); a replay passes the
            recording's outputs (:class:`voicelive_nb.tuning.replay_tools.RecordedAnswers`).
        latency: The latency/robustness knob of sound-device mics and speakers:
            ``"auto"`` (default: 10 ms blocks, 20 ms speaker buffer that grows after an
            underflow), ``"low"`` (never grows) or ``"robust"`` (100 ms speaker buffer), or a
            :class:`~voicelive_nb.audio.profiles.LatencyProfile`.  See
            :mod:`voicelive_nb.audio.profiles`; ignored for WAV files and objects passed in.
    """

    def __init__(
        self,
        config: SessionConfig | None = None,
        *,
        connection: ConnectionSettings | None = None,
        mic: Any = None,
        speaker: Any = None,
        record: str | Path | None = None,
        max_failures: int = 5,
        history: int = 4000,
        latency: str | Any = None,
        tools: list[Any] | tuple[Any, ...] | None = None,
        tool_timeout_s: float = 10.0,
        mcp_approval: bool | Callable[[dict[str, Any]], bool] | None = None,
        tool_answers: ToolAnswers | None = None,
    ) -> None:
        if config is not None and not isinstance(config, SessionConfig):
            raise ValueError(f"config must be a SessionConfig, got {type(config).__name__}")
        if connection is not None and not isinstance(connection, ConnectionSettings):
            raise ValueError(
                f"connection must be a ConnectionSettings (e.g. ConnectionSettings.resolve()), "
                f"got {type(connection).__name__}"
            )
        check_spec(mic, "mic")
        check_spec(speaker, "speaker")
        from voicelive_nb.audio.profiles import profile

        self._latency = profile(latency)  # ValueError naming the profiles
        if max_failures < 1:
            raise ValueError(f"max_failures must be >= 1, got {max_failures}")
        self._config = config or SessionConfig()
        check_echo_specs(self._config.echo_cancellation, mic, speaker, headless())
        from voicelive_nb.session.tools import ToolSet

        self._tools = ToolSet([*self._config.tools, *(tools or [])], timeout_s=tool_timeout_s, answers=tool_answers)
        self._config = self._tools.completed(self._config)
        self._mcp_approval = mcp_approval
        self._connection = connection
        self._mic = mic
        self._speaker = speaker
        self._record = Path(record) if record is not None else None
        self._max_failures = max_failures
        self.bus = EventBus(name=_BUS_THREAD)
        """The session's event bus (records of every start of this object)."""
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._engine: SessionEngine | None = None
        self._command_ids = itertools.count(1)  # each command's id (next() is atomic under the GIL)
        self._recorder: Recorder | None = None
        self._recorder_unsub: Callable[[], None] | None = None
        self._tracker_unsub: Callable[[], None] | None = None
        self._tracker: TurnTracker | None = None
        self._muted = False
        self._cond = threading.Condition()
        self._history: deque[tuple[int, EventRecord]] = deque(maxlen=history)
        self._seq = 0
        self._failed: str | None = None  # the cause in the latest ``failed`` record this session saw
        self.started_at: float | None = None
        """Monotonic time of the latest :meth:`start` (for ``wait_for(..., since=...)``)."""
        self.bus.subscribe(self._observe)

    # ------------------------------------------------------------------ properties

    @property
    def state(self) -> str:
        """``idle``, ``connecting``, ``connected``, ``reconnecting``, ``closed`` or ``failed``.

        Set by the session thread as it happens (the ``connection.state`` records follow).
        """
        engine = self._engine
        return engine.state if engine is not None else "idle"

    @property
    def failure(self) -> str | None:
        """Why the session failed, in plain words (None unless :attr:`state` is ``failed``)."""
        engine = self._engine
        return engine.failure if engine is not None and engine.state == "failed" else None

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop` (even while reconnecting)."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    @property
    def config(self) -> SessionConfig:
        """The config in force (updated when the server accepts an update)."""
        engine = self._engine
        return engine.config if engine is not None else self._config

    @property
    def counters(self) -> dict[str, Any]:
        """The latest ``audio.counters`` values (overflows, underflows, drops, queue depth)."""
        engine = self._engine
        return dict(engine.counters) if engine is not None else {}

    @property
    def tracker(self) -> TurnTracker | None:
        """Per-turn latencies of the current (or last) run."""
        return self._tracker

    @property
    def recorder(self) -> Recorder | None:
        """The recorder of the current (or last) run: ``record=``, or :meth:`record`."""
        return self._recorder

    @property
    def speaker(self) -> Any:
        """The AudioSink of the current (or last) run (e.g. a CaptureSpeaker to read back)."""
        engine = self._engine
        return engine.sink if engine is not None else None

    @property
    def assistant_busy(self) -> bool:
        """True while a response is being generated or its audio is still queued for playback."""
        engine = self._engine
        if engine is None or not self.running:
            return False
        return engine.protocol.active_response_id is not None or engine.player.queued_ms > 0

    @property
    def mic(self) -> Any:
        """The AudioSource of the current (or last) run."""
        engine = self._engine
        return engine.source if engine is not None else None

    @property
    def tools(self) -> dict[str, bool]:
        """Every tool given (function names, MCP server labels) and whether it is switched on."""
        return self._tools.states(self.config)

    @property
    def pending_approvals(self) -> list[dict[str, Any]]:
        """MCP approval requests waiting for :meth:`approve_mcp`."""
        engine = self._engine
        if engine is None:
            return []
        from voicelive_nb.session.tool_dispatch import request_info

        return [request_info(r) for r in list(engine.pending_approvals.values())]

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> VoiceSession:
        """Start the session thread and connect; returns at once (idempotent).

        Raises ValueError for bad settings (no API key for an endpoint, missing WAV, local echo
        cancellation without a sound-device mic and speaker ...), and
        :class:`~voicelive_nb.audio.apm.EchoCancellerUnavailable` for local echo cancellation
        without the ``livekit`` package.
        """
        with self._lock:
            if self.running:
                return self
            self._join_previous()
            settings = self._connection or ConnectionSettings.resolve()
            config = self.config
            source = make_source(self._mic, config.input_audio_sampling_rate, self._latency)
            sink = make_sink(self._speaker, config.output_rate, self._latency)
            source = with_echo_canceller(source, sink, config.echo_cancellation)
            from voicelive_nb.audio.player import Player

            player = Player(rate=config.output_rate)
            self._attach_observers(config)
            engine = SessionEngine(
                config=config,
                settings=settings,
                source=source,
                sink=sink,
                player=player,
                publish=self.bus.publish,
                max_failures=self._max_failures,
                bus_dropped=lambda: self.bus.dropped,
                tools=self._tools.runner,
                mcp_approval=self._mcp_approval,
            )
            engine.muted = self._muted
            engine.state = "connecting"
            self._engine = engine
            with self._cond:
                self._failed = None
            self.started_at = time.monotonic()
            ready = threading.Event()
            self._thread = threading.Thread(
                target=self._thread_main, args=(engine, settings, ready), name="voicelive-session", daemon=True
            )
            self._thread.start()
            ready.wait(10.0)
            return self

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the session: close the socket, stop mic and speaker, join the thread.

        Idempotent; safe from any thread except the session thread itself.
        """
        with self._lock:
            thread, loop, engine = self._thread, self._loop, self._engine
            if thread is None:
                return
            if thread is threading.current_thread():
                raise RuntimeError("VoiceSession.stop() cannot be called from the session thread")
            if loop is not None and engine is not None:
                # RuntimeError: the loop already closed, the thread is finishing
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(engine.request_stop)
            thread.join(timeout)
            if thread.is_alive():
                log.warning("the session thread did not finish within %.1f s", timeout)
                return
            self._thread = None
            self._finish_observers()

    def __enter__(self) -> VoiceSession:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __del__(self) -> None:  # a forgotten session must not keep devices open
        try:
            if self._thread is not None and self._thread is not threading.current_thread():
                self.stop(timeout=2.0)
        except Exception:
            pass

    # ------------------------------------------------------------------ commands

    def update(self, config: SessionConfig, *, timeout: float = 10.0) -> CommandFuture:
        """Send a new session config; the Future resolves with the server's answer.

        The answer is also published as a ``command.result`` record.  When not running
        the config is just stored (applied on the next start).  A change of the local half
        of ``echo_cancellation`` applies at once (ValueError if this session's mic and
        speaker are not a sound-device pair).
        """
        if not isinstance(config, SessionConfig):
            raise ValueError(f"update() needs a SessionConfig, got {type(config).__name__}")
        check_echo_specs(config.echo_cancellation, self._mic, self._speaker, headless())
        engine = self._engine
        if self.running and engine is not None and config.echo_cancellation != engine.config.echo_cancellation:
            set_local_echo(engine.source, config.echo_cancellation)  # the local half, at once
        return self._update("update", config, timeout)

    def update_vad(self, *, timeout: float = 10.0, **changes: Any) -> CommandFuture:
        """Change turn-detection settings live, e.g. ``update_vad(silence_duration_ms=800)``.

        Invalid names or values raise ValueError here.  Returns a Future of
        :class:`CommandResult` (``.result(timeout)`` blocks only the caller).
        """
        return self._update("update_vad", self.config.with_vad(**changes), timeout)

    def enable_tool(self, name: str, enabled: bool = True, *, timeout: float = 10.0) -> CommandFuture:
        """Switch a tool (a function's name, an MCP server's label) on or off, live.

        Sends the new tool list in a ``session.update``; the Future resolves with the
        server's answer, as for :meth:`update_vad`.  A call to a switched-off tool that
        still arrives is answered with an error the model can read.
        """
        return self._update("enable_tool", self._tools.switched(self.config, name, enabled), timeout)

    def approve_mcp(self, approval_request_id: str, approve: bool = True) -> concurrent.futures.Future[bool]:
        """Answer a pending MCP approval request; the Future is False if none had that id."""
        return self._submit(lambda e: e.approve_mcp(approval_request_id, approve), "approve_mcp")

    def mute(self) -> None:
        """Send silence instead of the mic (the audio timeline keeps running)."""
        self._set_muted(True)

    def unmute(self) -> None:
        """Send the mic again."""
        self._set_muted(False)

    def send_text(self, text: str) -> None:
        """Say ``text`` as the user (a text message), and ask for a response."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("send_text() needs a non-empty string")
        self._submit(lambda e: e.send_text(text), "send_text")

    def cancel_response(self) -> None:
        """Stop the assistant: cancel the active response and drop queued audio."""
        self._submit(lambda e: e.cancel_response(), "cancel_response")

    # ------------------------------------------------------------------ observing

    def subscribe(self, callback: Observer) -> Callable[[], None]:
        """Call ``callback(record)`` (on the bus thread) for every record; returns an unsubscribe."""
        return self.bus.subscribe(callback)

    def wait_for(
        self,
        type: str,
        timeout: float = 30.0,
        predicate: Callable[[EventRecord], bool] | None = None,
        *,
        since: float | None = None,
    ) -> EventRecord:
        """Block the caller until a record of ``type`` (matching ``predicate``) is published.

        Only records that happened (their ``t``) at or after ``since`` count; ``since``
        defaults to the time of this call.  Right after :meth:`start`, use
        ``wait_for("session.updated", since=session.started_at)`` so a fast answer that
        came before the call is not missed; ``since=0`` searches the whole history.
        Raises :class:`SessionFailedError` with the cause as soon as the session has failed
        (an unreachable endpoint, a refused key ...), TimeoutError when nothing came in time.
        """
        now = time.monotonic()
        deadline = now + timeout
        after = now if since is None else since

        def match(record: EventRecord) -> bool:
            return record.t >= after and record.type == type and (predicate is None or predicate(record))

        with self._cond:
            seen = 0
            while True:
                fresh = []
                for seq, record in reversed(self._history):  # only what arrived since the last look
                    if seq <= seen:
                        break
                    fresh.append(record)
                for record in reversed(fresh):
                    if match(record):
                        return record
                seen = self._seq
                # the failure as the history saw it, not the engine's state: the engine sets its
                # state a moment before its ``failed`` record arrives here, and a caller waiting
                # for that very record must get it, not an error, every time
                if self._failed is not None:
                    raise SessionFailedError(self._failed)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no {type!r} record within {timeout:g} s (state: {self.state})")
                self._cond.wait(remaining)

    def records(self, type: str | None = None) -> list[EventRecord]:
        """Records still in the history (optionally of one type), oldest first."""
        with self._cond:
            return [r for _, r in self._history if type is None or r.type == type]

    # ------------------------------------------------------------------ internals

    def _observe(self, record: EventRecord) -> None:
        with self._cond:
            self._seq += 1
            self._history.append((self._seq, record))
            if record.type == Local.CONNECTION and record.get("state") == "failed":
                self._failed = record.get("detail") or self.failure or "the session failed"
            self._cond.notify_all()

    def _set_muted(self, muted: bool) -> None:
        self._muted = muted
        engine, loop = self._engine, self._loop
        if engine is not None and loop is not None and self.running:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(setattr, engine, "muted", muted)

    def _submit(self, make: Callable[[SessionEngine], Any], what: str) -> concurrent.futures.Future[Any]:
        engine, loop = self._engine, self._loop
        if engine is None or loop is None or not self.running or engine.state in ("failed", "closed"):
            raise RuntimeError(f"{what}(): the session is not running (state: {engine and engine.state}); call start()")
        return asyncio.run_coroutine_threadsafe(make(engine), loop)

    def _update(self, command: str, config: SessionConfig, timeout: float) -> CommandFuture:
        """Send ``config``; the one answer (matched to this update by the protocol core) settles
        the Future and is published once as a ``command.result`` record with the command's id."""
        command_id = f"{command}-{next(self._command_ids)}"
        result = CommandFuture(command_id)
        engine, loop = self._engine, self._loop
        if engine is None or loop is None or not self.running:
            self._config = config
            if engine is not None:
                engine.config = config
            result.set_result(CommandResult(command, True, "stored; applied when the session starts", command_id))
            return result

        async def run() -> None:
            try:
                ok, detail = await engine.update(config, timeout, command_id)
            except Exception as exc:  # never leave the caller's Future hanging
                ok, detail = False, f"update failed: {exc!r}"
            if ok:
                self._config = engine.config
            data = {"command": command, "id": command_id, "ok": ok, "detail": detail if not ok else "session.updated"}
            self.bus.publish(EventRecord.now("local", Local.COMMAND, data))
            result.set_result(CommandResult(command, ok, detail, command_id))

        try:
            asyncio.run_coroutine_threadsafe(run(), loop)
        except RuntimeError:
            result.set_result(CommandResult(command, False, "the session is stopping", command_id))
        return result

    def _attach_observers(self, config: SessionConfig) -> None:
        try:
            from voicelive_nb.metrics import TurnTracker
        except ImportError:  # pragma: no cover - metrics is part of the package
            self._tracker = None
        else:
            tracker = TurnTracker()
            self._tracker = tracker

            def feed(record: EventRecord) -> None:
                tracker.feed(record)

            unsub_tracker = self.bus.subscribe(feed)
        current = self._recorder
        if current is None or current.closed:  # (one started with record() before start() goes on)
            self._recorder = None
            if self._record is not None:
                self._start_recorder(self._record, config)

        def unsubscribe() -> None:
            if self._tracker is not None:
                unsub_tracker()

        self._tracker_unsub = unsubscribe

    def _start_recorder(self, folder: str | Path, config: SessionConfig) -> Recorder:
        """The one way a recorder is made: the session's records, the API key kept out."""
        from voicelive_nb.recording.recorder import Recorder

        key = self._connection.api_key if self._connection is not None else None
        secrets = [key.reveal()] if isinstance(key, Secret) else []
        recorder = Recorder(folder, config=config.to_dict(), secrets=secrets)
        self._recorder = recorder
        self._recorder_unsub = self.bus.subscribe(recorder)
        return recorder

    def _close_recorder(self) -> Recorder | None:
        recorder, self._recorder = self._recorder, None
        unsub, self._recorder_unsub = self._recorder_unsub, None
        if unsub is not None:
            unsub()
        if recorder is not None:
            recorder.close()
        return recorder

    def record(self, folder: str | Path | None) -> Recorder | None:
        """Start recording into ``folder`` now, or with None stop and finalise the recording.

        The same recorder as ``record=`` (secrets such as the API key are kept out of the
        files the same way), subscribed from this moment: a recording started mid-session
        begins with the next record.  Returns the recorder started (or finalised).
        Raises RuntimeError if a recording is already running (stop it first).
        """
        if folder is None:
            if threading.current_thread().name != _BUS_THREAD:
                self.bus.flush(2.0)  # the records already published belong in the recording
            return self._close_recorder()
        current = self._recorder
        if current is not None and not current.closed:
            raise RuntimeError(f"already recording to {current.folder}; call record(None) first")
        return self._start_recorder(folder, self.config)

    def _finish_observers(self) -> None:
        if threading.current_thread().name != _BUS_THREAD:
            self.bus.flush()
        if self._tracker_unsub is not None:
            self._tracker_unsub()
            self._tracker_unsub = None
        recorder = self._recorder
        self._close_recorder()
        self._recorder = recorder  # still readable after the run (``session.recorder``)
        if threading.current_thread().name != _BUS_THREAD:
            self.bus.close()

    def _join_previous(self) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(10.0)
            self._thread = None
            self._finish_observers()

    def _thread_main(self, engine: SessionEngine, settings: ConnectionSettings, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        ready.set()
        emulator = None
        try:
            if settings.uses_emulator:
                from voicelive_nb.emulator import Emulator

                emulator = Emulator()
                emulator.start()
                # not a warning: it is the documented default, and a notebook would show it as a
                # pink stderr box; the panel's status line says it instead (connection.state "emulator")
                log.info("no Voice Live endpoint configured: using the embedded emulator at %s", emulator.endpoint)
                settings = settings.for_endpoint(emulator.endpoint)
                engine.settings = settings
                engine.embedded = True
            engine.on_sink_started = lambda: self._publish_info(engine, engine.settings)
            loop.run_until_complete(engine.run())
        except BaseException as exc:  # nothing escapes the session thread
            log.exception("the session thread failed")
            engine.state = "failed"
            self.bus.publish(
                EventRecord.now("local", Local.ERROR, {"message": f"The session failed: {exc!r}", "where": "session"})
            )
            self.bus.publish(EventRecord.now("local", Local.CONNECTION, {"state": "failed", "detail": repr(exc)}))
            for part in (engine.source, engine.sink):
                with contextlib.suppress(Exception):
                    part.stop()
        finally:
            self._tools.runner.close()
            if emulator is not None:
                try:
                    emulator.close()  # stop + release its worker threads (it is ours alone)
                except Exception:
                    log.exception("stopping the embedded emulator failed")
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()
                self._loop = None

    def _publish_info(self, engine: SessionEngine, settings: ConnectionSettings) -> None:
        import azure.ai.voicelive as sdk

        from voicelive_nb._version import __version__

        data = {
            "config": engine.config.to_dict(),
            "connection": settings.describe(),
            "mic": describe(engine.source),
            "speaker": describe(engine.sink),
            "transport": {"mic": transport(engine.source), "speaker": transport(engine.sink)},
            "input_rate": int(engine.source.rate),
            "output_rate": engine.player.rate,
            "input_latency_s": _latency(engine.source.input_latency_s if isinstance(engine.source, InputStats) else 0),
            "output_latency_s": _latency(engine.sink.output_latency_s if isinstance(engine.sink, OutputStats) else 0),
            "versions": {
                "voicelive_nb": __version__,
                "azure-ai-voicelive": getattr(sdk, "__version__", "?"),
                "python": platform.python_version(),
            },
        }
        self.bus.publish(EventRecord.now("local", Local.SESSION_INFO, data))


def _latency(value: float) -> float:
    """A device's reported latency as seconds (0.0 for a missing or nonsensical value)."""
    try:
        return max(0.0, float(value or 0.0))
    except (TypeError, ValueError):
        return 0.0
