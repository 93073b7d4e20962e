"""What the panel does: its commands and the session behind them (:class:`PanelCommands`).

The public methods every button and control calls (:meth:`~PanelCommands.connect`,
:meth:`~PanelCommands.disconnect`, :meth:`~PanelCommands.mute`, :meth:`~PanelCommands.record`,
:meth:`~PanelCommands.set_vad`, the ``wait_*`` awaitables, the tool switches and MCP approvals),
the session they act on (built from the panel's fields, attached, recorded) and the path of a
control change: debounced, validated, sent as one ``session.update`` and shown as pending until
the answer to that very command.  None of it writes a widget: it changes the panel's state and
asks for a :meth:`~voicelive_nb.panel.panel.Panel.refresh`, the one place widgets are written.

:class:`~voicelive_nb.panel.panel.Panel` is built on it (the widgets and their wiring are
:mod:`voicelive_nb.panel.panel`'s); the attributes declared here are set in ``Panel.__init__``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voicelive_nb.panel.mapping import LIVE_FIELDS, config_from_values, values_from_config
from voicelive_nb.panel.state import FieldStatus, PanelSnapshot, PanelState
from voicelive_nb.panel.widgets import DEFAULT_DEVICE, EMULATOR_LABEL

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.config import SessionConfig
    from voicelive_nb.panel.audio import AudioChoice
    from voicelive_nb.panel.refresh import Refresher
    from voicelive_nb.session import CommandResult

__all__ = ["PanelCommands"]

log = logging.getLogger(__name__)


class PanelCommands:
    """The panel's commands, its session and the path of control changes (a base of ``Panel``)."""

    # set by Panel.__init__
    state: PanelState
    record_dir: Path
    c: Any  # the controls (widgets.build_controls)
    _session: Any
    _own_session: bool
    _session_kwargs: dict[str, Any]
    _config: Any
    _debounce_s: float
    _past_turns: list[Any]
    _tracker_seen: Any
    _unsubscribe: Callable[[], None] | None
    _recorder: Any
    _api_key: str | None
    _record_text: str
    _recording_wanted: bool
    _to_show: dict[str, Any]
    _clear_key: bool
    _pending: dict[str, Any]
    _debounce: asyncio.TimerHandle | None
    _syncing: bool
    _refresher: Refresher
    _audio: AudioChoice

    def refresh(self) -> PanelSnapshot:
        """Push the current state into the widgets (``Panel`` does it)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ public API

    @property
    def session(self) -> Any:
        """The session this panel controls (None until :meth:`connect` builds one)."""
        return self._session

    @property
    def config(self) -> Any:
        """The session config the controls currently describe."""
        return self._session.config if self._session is not None else self._config

    def connect(self) -> None:
        """Start the session (building it first if the panel owns it)."""
        try:
            if self._session is None or self._own_session:
                self._build_session()
            session = self._session
            if self._recording_wanted and self._recorder is None:
                self._start_recorder()
            self.state.set_status("Starting…")
            session.start()
        except Exception as exc:  # shown in plain words; the traceback goes to the log
            log.exception("connect failed")
            self.state.set_status(f"Could not connect: {exc}", error=True)
        self._refresher.ensure_running()
        self.refresh()

    def disconnect(self) -> None:
        """Stop the session (idempotent); a recording in progress is finalised."""
        if self._session is not None:
            try:
                self._session.stop()
            except Exception as exc:
                log.exception("disconnect failed")
                self.state.set_status(f"Stopping failed: {exc}", error=True)
        self._stop_recorder()
        self.refresh()

    def mute(self, muted: bool = True) -> None:
        """Stop (or resume, with ``muted=False``) sending the mic."""
        if self._session is not None:
            (self._session.mute if muted else self._session.unmute)()
        self.state.set_muted(muted)
        self.refresh()

    def unmute(self) -> None:
        """Resume sending the mic."""
        self.mute(False)

    def record(self, on: bool = True) -> Path | None:
        """Start (or stop) recording into a new folder under ``record_dir``.

        Returns the folder being recorded (or just finalised, with ``on=False``); None when
        recording was asked for before connecting (the folder is made on connect).
        """
        self._recording_wanted = on  # the toggle follows at the refresh below
        folder = Path(self._recorder.folder) if self._recorder is not None else None
        if on and self._recorder is None and self._connected():
            self._start_recorder()
            folder = Path(self._recorder.folder) if self._recorder is not None else None
        elif not on:
            self._stop_recorder()
        return folder

    def set_vad(self, **changes: Any) -> Any:
        """Change turn-detection / audio-processing settings now (what the controls do).

        Names: ``type``, ``threshold``, ``prefix_padding_ms``, ``silence_duration_ms``,
        ``speech_duration_ms``, ``end_of_utterance_detection`` (``"low"``... or ``""``),
        ``create_response``, ``interrupt_response``, ``noise_reduction``,
        ``echo_cancellation``, ``voice``, ``instructions``.

        Returns a Future of a :class:`~voicelive_nb.session.CommandResult` (``.result(timeout)``):
        the server's answer, or, with no running session, an immediate ``ok`` result saying the
        change is used on connect.  A value out of range raises ValueError naming the field
        and its range before anything is sent (and the control shows it refused).
        """
        unknown = sorted(set(changes) - set(LIVE_FIELDS))
        if unknown:
            raise ValueError(f"unknown setting(s) {', '.join(unknown)}: expected some of {', '.join(LIVE_FIELDS)}")
        changes = dict(changes)
        try:
            config = config_from_values(self.config, changes)
        except ValueError as exc:
            self._refuse(changes, exc)
            raise
        return self._apply(changes, config)

    async def wait_for(self, type: str, timeout: float = 60.0, predicate: Any = None) -> Any:
        """Await the next record of ``type`` without blocking the kernel (the panel keeps updating).

        ``await panel.wait_for("response.done")`` in a notebook cell; raises TimeoutError, or
        SessionFailedError with the cause as soon as the session failed.
        """
        session = self._require_session()
        since = time.monotonic()
        return await asyncio.to_thread(session.wait_for, type, timeout, predicate, since=since)

    async def wait_turns(self, count: int = 1, timeout: float = 90.0) -> list[Any]:
        """Await ``count`` more finished responses (``response.done``); returns the turns so far."""
        session = self._require_session()
        deadline = time.monotonic() + timeout
        target = self.state.count("response.done") + count
        while self.state.count("response.done") < target:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{count} turn(s) did not finish within {timeout:g} s (state: {session.state})")
            since = time.monotonic() - 0.5  # a record that raced the count check is still in the history
            await asyncio.to_thread(session.wait_for, "response.done", remaining, None, since=since)
            await asyncio.sleep(0.05)  # let the bus deliver it to the panel state too
        self.refresh()
        return self._turns()

    async def wait_quiet(self, timeout: float = 60.0, settle_s: float = 0.2) -> None:
        """Await the end of the assistant's speech: no response being generated, none of its audio
        left to hand to the speaker; then ``settle_s`` more, so its last records reach the
        recording.  ``await panel.wait_quiet()`` before ``panel.record(False)``; raises TimeoutError.
        """
        session = self._require_session()
        deadline = time.monotonic() + timeout
        while session.assistant_busy:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"the assistant was still speaking after {timeout:g} s")
            await asyncio.sleep(0.05)
        await asyncio.sleep(settle_s)

    def enable_tool(self, name: str, enabled: bool = True) -> Any:
        """Switch a tool on or off live (what its switch does); the session's Future of the
        server's answer, or None before connecting (the panel's config changes then)."""
        session = self._session
        if session is None or not getattr(session, "running", False):
            if session is not None:
                return session.enable_tool(name, enabled)
            return None
        self.state.set_status(f"{'Switching on' if enabled else 'Switching off'} {name}…")
        self.state.wish_tool(name, enabled)  # its switch shows the wish until the server answers
        future = session.enable_tool(name, enabled)
        future.add_done_callback(lambda f: self._tool_switched(name, enabled, f))
        return future

    def approve_mcp(self, approve: bool = True) -> Any:
        """Answer the oldest pending MCP approval request (what Approve/Refuse do); None if none waits."""
        session = self._session
        pending = session.pending_approvals if session is not None else []
        if not pending:
            return None
        return session.approve_mcp(pending[0]["approval_request_id"], approve)

    def _tool_switched(self, name: str, enabled: bool, future: Any) -> None:
        self.state.settle_tool(name)
        result = future.result()
        if result.ok:
            self.state.set_status(f"{name} switched {'on' if enabled else 'off'} (session.updated)")
        else:
            self.state.set_status(f"Switching {name} failed: {result.detail}", error=True)

    def _require_session(self) -> Any:
        if self._session is None:
            raise RuntimeError("the panel has no session yet: call panel.connect() (or press Connect) first")
        return self._session

    # ------------------------------------------------------------------ session plumbing

    def _turns(self) -> list[Any]:
        """Every turn the panel has shown, earlier connections first, numbered from 1 across them."""
        session = self._session
        tracker = getattr(session, "tracker", None) if session is not None else None
        if tracker is not self._tracker_seen:  # a new connection: keep the last one's turns
            if self._tracker_seen is not None:
                self._past_turns.extend(_renumbered(self._tracker_seen.turns, len(self._past_turns)))
            self._tracker_seen = tracker
        current = list(tracker.turns) if tracker is not None else []
        return self._past_turns + _renumbered(current, len(self._past_turns))

    def _attach(self, session: Any) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._session = session
        self._unsubscribe = session.subscribe(self.state.feed)
        if getattr(session, "running", False):  # attached to a live session: show where it stands
            from voicelive_nb.events import EventRecord, Local

            self.state.feed(EventRecord.now("local", Local.CONNECTION, {"state": session.state}))
        recorder = getattr(session, "recorder", None)
        if recorder is not None and not recorder.closed:
            self._record_text = f"recording to <code>{recorder.folder}</code>"

    def _build_session(self) -> None:
        from voicelive_nb.connection import ConnectionSettings
        from voicelive_nb.session.voice_session import VoiceSession

        if self._session is not None:
            self._session.stop()
            self._config = self._session.config  # keep what was changed live last time
        endpoint = str(self.c.endpoint.value or "").strip()
        typed_key = self.c.api_key.value or None
        if typed_key:
            self._api_key = typed_key
            self._clear_key = True  # the key must not stay in the widget state: the next refresh empties it
        connection = self._session_kwargs.get("connection") or ConnectionSettings.resolve(
            endpoint=None if endpoint.lower() in ("", EMULATOR_LABEL) else endpoint,
            api_key=self._api_key,
            auth=self.c.auth.value,
        )
        config = config_from_values(
            self._config, {"voice": self.c.voice.value, "instructions": self.c.instructions.value}
        )
        config = config.replace(model=self.c.model.value.strip() or config.model)
        self._config = config
        kwargs = {k: v for k, v in self._session_kwargs.items() if k != "connection"}
        kwargs = {**self._audio.session_kwargs(), **kwargs}
        kwargs.setdefault("mic", self.c.mic.value if self.c.mic.value != DEFAULT_DEVICE else None)
        kwargs.setdefault("speaker", self.c.speaker.value if self.c.speaker.value != DEFAULT_DEVICE else None)
        self._attach(VoiceSession(config, connection=connection, **kwargs))

    def _start_recorder(self) -> None:
        """Record through the session's own recorder (the same scrubbing of secrets as ``record=``)."""
        if self._session is None:
            return
        folder = self.record_dir / datetime.now().strftime("%Y%m%d-%H%M%S")
        self._recorder = self._session.record(folder)
        self._record_text = f"● recording to <code>{folder}</code>"

    def _stop_recorder(self) -> None:
        recorder, self._recorder = self._recorder, None
        if recorder is None:
            return
        if self._session is not None:
            self._session.record(None)  # flushes the bus, then finalises the files
        self._record_text = f"saved <code>{recorder.folder}</code>"
        self._recording_wanted = False

    def _connected(self) -> bool:
        return self.state.connection in ("connected", "connecting", "reconnecting")

    # ------------------------------------------------------------------ control changes

    def _control_changed(self, name: str) -> Callable[[dict[str, Any]], None]:
        def handler(change: dict[str, Any]) -> None:
            if self._syncing:
                return
            self._pending[name] = change["new"]
            self._schedule_apply()
            if name == "type":
                self.refresh()  # (speech_duration_ms applies to semantic VAD only)

        return handler

    def _schedule_apply(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or self._debounce_s <= 0:
            self._apply_pending()
            return
        if self._debounce is not None:
            self._debounce.cancel()
        self._debounce = loop.call_later(self._debounce_s, self._apply_pending)

    def _apply_pending(self) -> None:
        self._debounce = None
        changes, self._pending = self._pending, {}
        if changes:
            self._apply(changes)

    def _refuse(self, changes: dict[str, Any], exc: Exception) -> None:
        """Show ``changes`` refused (each control and the status line say why); the controls
        go back to the values in force."""
        for name in changes:
            self.state.set_field(name, FieldStatus("error", str(exc)))
        self.state.set_status(str(exc), error=True)
        in_force = values_from_config(self.config)
        self._to_show.update({k: in_force[k] for k in changes if k in in_force})
        self.refresh()

    def _apply(
        self, changes: dict[str, Any], config: SessionConfig | None = None
    ) -> concurrent.futures.Future[CommandResult]:
        """Send ``changes`` if connected, else keep them for the next connect.

        ``config`` is the session config with the changes, already validated (by
        :meth:`set_vad`); None: validate them here (once).  Returns a Future of the outcome:
        the server's answer to exactly this update, or an already settled result.
        """
        from voicelive_nb.session.commands import CommandFuture, CommandResult

        done: concurrent.futures.Future[CommandResult] = concurrent.futures.Future()
        if config is None:
            try:
                config = config_from_values(self.config, changes)
            except ValueError as exc:
                self._refuse(changes, exc)
                done.set_result(CommandResult("update", False, str(exc)))
                return done
        self._to_show.update({k: v for k, v in changes.items() if k in self.c.fields})
        session = self._session
        if session is None or not self._connected():
            if session is not None:
                try:
                    session.update(config)  # stored by the session for its next start
                except ValueError as exc:  # (local echo cancellation without a device pair)
                    self._refuse(changes, exc)
                    done.set_result(CommandResult("update", False, str(exc)))
                    return done
            self._config = config
            for name in changes:
                self.state.set_field(name, FieldStatus("ok", "used on connect"))
            self.refresh()
            done.set_result(CommandResult("update", True, "not connected: used on connect"))
            return done
        try:
            future: concurrent.futures.Future[CommandResult] = session.update(config)  # validated: sent as it is
        except Exception as exc:
            for name in changes:
                self.state.set_field(name, FieldStatus("error", str(exc)))
            done.set_result(CommandResult("update", False, str(exc)))
            self.refresh()
            return done
        # the controls wait for the answer to this command (its command.result record)
        self.state.mark_pending(changes, future.command_id if isinstance(future, CommandFuture) else None)
        self.refresh()
        return future


def _renumbered(turns: Iterable[Any], offset: int) -> list[Any]:
    """``turns`` with their numbers moved on by ``offset`` (copies; the tracker's own are untouched)."""
    if not offset:
        return list(turns)
    return [dataclasses.replace(t, index=t.index + offset) for t in turns]
