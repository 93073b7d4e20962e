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
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voicelive_nb.config import SessionConfig
from voicelive_nb.connection import ConnectionSettings
from voicelive_nb.events import EventBus, EventRecord, Local, Observer
from voicelive_nb.session.commands import CommandFuture, CommandResult
from voicelive_nb.session.devices import check_spec, headless, make_sink, make_source
from voicelive_nb.session.echo import check_echo_specs, set_local_echo, with_echo_canceller
from voicelive_nb.session.engine import SessionEngine
from voicelive_nb.session.history import RecordHistory
from voicelive_nb.session.observers import BUS_THREAD, SessionObservers
from voicelive_nb.session.thread import run_session_thread

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.metrics import TurnTracker
    from voicelive_nb.recording.recorder import Recorder
    from voicelive_nb.session.tools import ToolAnswers

log = logging.getLogger(__name__)

__all__ = ["VoiceSession"]


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
        self.bus = EventBus(name=BUS_THREAD)
        """The session's event bus (records of every start of this object)."""
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._engine: SessionEngine | None = None
        self._command_ids = itertools.count(1)  # each command's id (next() is atomic under the GIL)
        self._observers = SessionObservers(self.bus, connection)  # the tracker and the recorder
        self._muted = False
        self._history = RecordHistory(history, state=lambda: self.state, failure=lambda: self.failure)
        self.started_at: float | None = None
        """Monotonic time of the latest :meth:`start` (for ``wait_for(..., since=...)``)."""
        self.bus.subscribe(self._history.observe)

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
        return self._observers.tracker

    @property
    def recorder(self) -> Recorder | None:
        """The recorder of the current (or last) run: ``record=``, or :meth:`record`."""
        return self._observers.recorder

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
            self._observers.attach(config, self._record)
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
            self._history.clear_failure()
            self.started_at = time.monotonic()
            ready = threading.Event()
            self._thread = threading.Thread(
                target=run_session_thread,
                args=(engine, settings, ready),
                kwargs={"bus": self.bus, "set_loop": self._set_loop, "close_tools": self._tools.runner.close},
                name="voicelive-session",
                daemon=True,
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
            self._observers.finish()

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
        Raises :class:`~voicelive_nb.session.SessionFailedError` with the cause as soon as the
        session has failed (an unreachable endpoint, a refused key ...), TimeoutError when
        nothing came in time.
        """
        return self._history.wait_for(type, timeout, predicate, since=since)

    def records(self, type: str | None = None) -> list[EventRecord]:
        """Records still in the history (optionally of one type), oldest first."""
        return self._history.records(type)

    # ------------------------------------------------------------------ internals

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

    def record(self, folder: str | Path | None) -> Recorder | None:
        """Start recording into ``folder`` now, or with None stop and finalise the recording.

        The same recorder as ``record=`` (secrets such as the API key are kept out of the
        files the same way), subscribed from this moment: a recording started mid-session
        begins with the next record.  Returns the recorder started (or finalised).
        Raises RuntimeError if a recording is already running (stop it first).
        """
        return self._observers.record(folder, self.config)

    def _join_previous(self) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(10.0)
            self._thread = None
            self._observers.finish()

    def _set_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self._loop = loop
