"""The session behind the panel and the commands on it (:class:`SessionControl`).

A :class:`~voicelive_nb.panel.panel.Panel` holds one :class:`SessionControl`; the panel's
public methods (:meth:`~SessionControl.connect`, :meth:`~SessionControl.disconnect`,
:meth:`~SessionControl.mute`, :meth:`~SessionControl.record`, :meth:`~SessionControl.set_vad`,
the ``wait_*`` awaitables, the tool switches and MCP approvals) hand over to it.  It owns the
session (built from the panel's fields, or the one passed in; attached to the panel's state,
recorded) and the path of a control change: debounced, validated, sent as one
``session.update`` and shown as pending until the answer to that very command.

None of it writes a widget.  It reads the controls' values, changes the panel's
:class:`~voicelive_nb.panel.state.PanelState`, keeps what the controls should show next
(:meth:`~SessionControl.take_shown`, :attr:`~SessionControl.record_text`,
:meth:`~SessionControl.take_key_clear`) and calls the ``refresh`` it was given: the panel's,
the one place widgets are written.  It needs no panel: a state, the controls of
:func:`~voicelive_nb.panel.widgets.build_controls`, an
:class:`~voicelive_nb.panel.audio.AudioChoice` and a refresh callable are enough (its tests
build it so).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from voicelive_nb.panel.mapping import LIVE_FIELDS, config_from_values, values_from_config
from voicelive_nb.panel.state import FieldStatus, PanelState
from voicelive_nb.panel.widgets import DEFAULT_DEVICE, EMULATOR_LABEL, Controls

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.config import SessionConfig
    from voicelive_nb.panel.audio import AudioChoice
    from voicelive_nb.session import CommandResult

__all__ = ["SessionControl"]

log = logging.getLogger(__name__)

_LIVE = ("connected", "connecting", "reconnecting")


class SessionControl:
    """The panel's session and the commands on it (see the module docstring).

    Args:
        state: The panel's model: the session's bus feeds it; statuses and changes go to it.
        controls: The panel's controls (:func:`~voicelive_nb.panel.widgets.build_controls`),
            read for a session built here (endpoint, key, auth, model, voice, instructions,
            devices) and for the live fields there are.
        refresh: Pushes the state into the widgets (the panel's ``refresh``); called after a
            command changed what they show.
        audio: Where a session built here takes its mic and speaker.
        config: The session config to start from (a ``session`` brings its own).
        session: A session to control, attached now; None: one is built on :meth:`connect`
            (and stopped by :meth:`close`).
        record_dir: Where :meth:`record` makes a folder per recording.
        debounce_s: Quiet time after the last control change before it is sent (0: at once).
        session_kwargs: For the ``VoiceSession`` built here (``connection=``, ``tools=`` ...).
    """

    def __init__(
        self,
        state: PanelState,
        controls: Controls,
        refresh: Callable[[], object],
        *,
        audio: AudioChoice,
        config: SessionConfig,
        session: Any = None,
        record_dir: str | Path = "recordings",
        debounce_s: float = 0.3,
        session_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self.state = state
        self.c = controls
        self._refresh = refresh
        self._audio = audio
        self.record_dir = Path(record_dir)
        """Where :meth:`record` makes its folders."""
        self._debounce_s = debounce_s
        self._session_kwargs = dict(session_kwargs or {})
        self._session: Any = None
        self._own_session = session is None
        self._config: SessionConfig = session.config if session is not None else config
        self._unsubscribe: Callable[[], None] | None = None
        self._api_key: str | None = None  # typed into the panel: held here, in memory only
        # Turns of the panel's earlier connections: the transcript keeps them, so the chart
        # does too, numbered on (a new connection's tracker starts again at 1).
        self._past_turns: list[Any] = []
        self._tracker_seen: Any = None
        self._recorder: Any = None
        # what the controls are to show besides the state's snapshot (taken by the panel's refresh)
        self._recording_wanted = False  # the record toggle
        self._record_text = ""  # the line under the record toggle
        self._to_show: dict[str, Any] = {}  # control values to display (not user changes)
        self._clear_key = False  # empty the API key box (the key is held in memory only)
        self._pending: dict[str, Any] = {}  # control changes waiting for the debounce
        self._debounce: asyncio.TimerHandle | None = None
        if session is not None:
            self._attach(session)

    # ------------------------------------------------------------------ what the panel reads

    @property
    def session(self) -> Any:
        """The session controlled (None until :meth:`connect` builds one)."""
        return self._session

    @property
    def config(self) -> SessionConfig:
        """The session config the controls currently describe."""
        return self._session.config if self._session is not None else self._config

    @property
    def own_session(self) -> bool:
        """True when the session is built here (none was passed in)."""
        return self._own_session

    @property
    def recorder(self) -> Any:
        """The recording in progress (None when not recording)."""
        return self._recorder

    @property
    def recording(self) -> bool:
        """What the record toggle shows: recording, or asked to when connecting."""
        return self._recording_wanted or self._recorder is not None

    @property
    def record_text(self) -> str:
        """The line under the record toggle (HTML): recording to / saved a folder."""
        return self._record_text

    @property
    def pending(self) -> Mapping[str, Any]:
        """Control changes not sent yet (waiting for the debounce), by field name (read-only)."""
        return MappingProxyType(self._pending)

    def connected(self) -> bool:
        """True while the session is connected, connecting or reconnecting (per the state)."""
        return self.state.connection in _LIVE

    def show(self, values: Mapping[str, Any]) -> None:
        """Have the controls show ``values`` at the next refresh (values in force, not user changes)."""
        self._to_show.update(values)

    def take_shown(self) -> dict[str, Any]:
        """The control values to show now (from :meth:`show`, a refused or a sent change); emptied."""
        values, self._to_show = self._to_show, {}
        return values

    def take_key_clear(self) -> bool:
        """True once after a typed API key was taken: the key box is to be emptied."""
        clear, self._clear_key = self._clear_key, False
        return clear

    def tool_names(self) -> list[str]:
        """The tools the panel has switches for: the session's, or the config's and ``tools=``."""
        from voicelive_nb.tool_config import tool_definition, tool_name

        if self._session is not None:
            return list(getattr(self._session, "tools", {}))
        given = [*self._config.tools, *self._session_kwargs.get("tools", ())]
        return list(dict.fromkeys(tool_name(tool_definition(t)) for t in given))

    # ------------------------------------------------------------------ commands (Panel's)

    def connect(self) -> None:
        """Start the session, building it first when it is built here (:meth:`Panel.connect`)."""
        try:
            if self._session is None or self._own_session:
                self.build_session()
            session = self._session
            if self._recording_wanted and self._recorder is None:
                self._start_recorder()
            self.state.set_status("Starting…")
            session.start()
        except Exception as exc:  # shown in plain words; the traceback goes to the log
            log.exception("connect failed")
            self.state.set_status(f"Could not connect: {exc}", error=True)
        self._refresh()

    def disconnect(self) -> None:
        """Stop the session (idempotent); a recording in progress is finalised."""
        if self._session is not None:
            try:
                self._session.stop()
            except Exception as exc:
                log.exception("disconnect failed")
                self.state.set_status(f"Stopping failed: {exc}", error=True)
        self._stop_recorder()
        self._refresh()

    def mute(self, muted: bool = True) -> None:
        """Stop (or resume) sending the mic."""
        if self._session is not None:
            (self._session.mute if muted else self._session.unmute)()
        self.state.set_muted(muted)
        self._refresh()

    def unmute(self) -> None:
        """Resume sending the mic."""
        self.mute(False)

    def record(self, on: bool = True) -> Path | None:
        """Start (or stop) recording into a new folder under :attr:`record_dir` (:meth:`Panel.record`)."""
        self._recording_wanted = on  # the toggle follows at the next refresh
        folder = Path(self._recorder.folder) if self._recorder is not None else None
        if on and self._recorder is None and self.connected():
            self._start_recorder()
            folder = Path(self._recorder.folder) if self._recorder is not None else None
        elif not on:
            self._stop_recorder()
        return folder

    def set_vad(self, **changes: Any) -> concurrent.futures.Future[CommandResult]:
        """Validate ``changes`` (ValueError, shown refused) and apply them (:meth:`Panel.set_vad`)."""
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
        """Await the next record of ``type`` in a worker thread (:meth:`Panel.wait_for`)."""
        session = self._require_session()
        since = time.monotonic()
        return await asyncio.to_thread(session.wait_for, type, timeout, predicate, since=since)

    async def wait_turns(self, count: int = 1, timeout: float = 90.0) -> list[Any]:
        """Await ``count`` more finished responses; the turns so far (:meth:`Panel.wait_turns`)."""
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
        self._refresh()
        return self.turns()

    async def wait_quiet(self, timeout: float = 60.0, settle_s: float = 0.2) -> None:
        """Await the end of the assistant's speech, then ``settle_s`` (:meth:`Panel.wait_quiet`)."""
        session = self._require_session()
        deadline = time.monotonic() + timeout
        while session.assistant_busy:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"the assistant was still speaking after {timeout:g} s")
            await asyncio.sleep(0.05)
        await asyncio.sleep(settle_s)

    def enable_tool(self, name: str, enabled: bool = True) -> Any:
        """Switch a tool on or off live (:meth:`Panel.enable_tool`)."""
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
        """Answer the oldest pending MCP approval request; None if none waits."""
        session = self._session
        pending = session.pending_approvals if session is not None else []
        if not pending:
            return None
        return session.approve_mcp(pending[0]["approval_request_id"], approve)

    def change(self, name: str, value: Any) -> None:
        """The user set control ``name`` to ``value``: kept pending, then sent after ``debounce_s``
        of quiet together with every other change made meanwhile (one update)."""
        self._pending[name] = value
        self._schedule_apply()
        if name == "type":
            self._refresh()  # (speech_duration_ms applies to semantic VAD only)

    def close(self) -> None:
        """Stop a session built here, finalise a recording, stop feeding the state."""
        if self._own_session and self._session is not None:
            self.disconnect()
        self._stop_recorder()
        if self._unsubscribe is not None:
            self._unsubscribe()

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

    def turns(self) -> list[Any]:
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

    def build_session(self) -> None:
        """Build (or rebuild: the last one stopped, its live changes kept) the session from the
        controls, without starting it; a typed API key is taken into memory."""
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

    # ------------------------------------------------------------------ control changes

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
        self._refresh()

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
        if session is None or not self.connected():
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
            self._refresh()
            done.set_result(CommandResult("update", True, "not connected: used on connect"))
            return done
        try:
            future: concurrent.futures.Future[CommandResult] = session.update(config)  # validated: sent as it is
        except Exception as exc:
            for name in changes:
                self.state.set_field(name, FieldStatus("error", str(exc)))
            done.set_result(CommandResult("update", False, str(exc)))
            self._refresh()
            return done
        # the controls wait for the answer to this command (its command.result record)
        self.state.mark_pending(changes, future.command_id if isinstance(future, CommandFuture) else None)
        self._refresh()
        return future


def _renumbered(turns: Iterable[Any], offset: int) -> list[Any]:
    """``turns`` with their numbers moved on by ``offset`` (copies; the tracker's own are untouched)."""
    if not offset:
        return list(turns)
    return [dataclasses.replace(t, index=t.index + offset) for t in turns]
