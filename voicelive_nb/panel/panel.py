"""The notebook panel: ipywidgets that control a :class:`~voicelive_nb.session.VoiceSession`.

Usage::

    from voicelive_nb import Panel
    panel = Panel()        # builds its own session from AZURE_VOICELIVE_* (or the emulator)
    panel                  # display it; press Connect and talk

    panel.connect(); panel.set_vad(silence_duration_ms=800); panel.disconnect()  # same, in code

Threads: the session's event bus feeds a :class:`~voicelive_nb.panel.state.PanelState`
(a lock-protected model, no widgets).  Widgets are touched only on the kernel's own
thread: an asyncio task on the kernel's running loop takes a snapshot at most
``refresh_hz`` times a second and assigns only the values that changed, so an idle
panel sends nothing and a talking one sends a few dozen small comm messages a second.
Without a running loop (a plain script) call :meth:`Panel.refresh` yourself.

Widgets observe; they own nothing.  Every button and control calls a public method
(:meth:`connect`, :meth:`disconnect`, :meth:`mute`, :meth:`record`, :meth:`set_vad` ...).
The panel holds a :class:`~voicelive_nb.panel.control.SessionControl`, the session behind it
and the commands on it, and those methods hand over to it; this module builds the widgets,
wires them to those methods and projects the state into them (:meth:`Panel.refresh`).
The API key typed into the panel lives only in memory: the password box is emptied on
connect, so the key never reaches the notebook file or the widget state.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from voicelive_nb.panel.audio import AudioChoice
from voicelive_nb.panel.chart import LatencyChart
from voicelive_nb.panel.control import SessionControl
from voicelive_nb.panel.mapping import SERVICE_DEFAULTS, defaulted_fields, values_from_session
from voicelive_nb.panel.refresh import Refresher
from voicelive_nb.panel.state import PanelSnapshot, PanelState
from voicelive_nb.panel.views import (
    counters_html,
    field_badge_html,
    filter_log,
    log_html,
    meters_html,
    status_html,
    transcript_html,
)
from voicelive_nb.panel.widgets import build_controls, build_views

__all__ = ["Panel"]


def _require_ipywidgets() -> Any:
    try:
        import ipywidgets
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ImportError("The panel needs ipywidgets: pip install 'ipywidgets>=8.1'") from exc
    return ipywidgets


def _close_tree(widget: Any) -> None:
    """Close a widget and everything inside it (only ours: ``Widget.close_all`` would close every widget)."""
    for child in getattr(widget, "children", ()):
        _close_tree(child)
    for name in ("layout", "style"):
        part = getattr(widget, name, None)
        if part is not None and hasattr(part, "close"):
            part.close()
    widget.close()


class Panel:
    """A control panel for one live Voice Live session.

    Args:
        session: The :class:`~voicelive_nb.session.VoiceSession` to control.  None builds
            one on :meth:`connect` from the panel's fields (endpoint, auth, model, voice,
            instructions, devices), which start from ``AZURE_VOICELIVE_*`` / ``.env``;
            with no endpoint configured that is the bundled local emulator.
        config: Starting :class:`~voicelive_nb.config.SessionConfig` when ``session`` is None.
        record_dir: Where the Record button creates session folders.
        refresh_hz: Most widget refreshes per second (meters, status).
        last_n: Turns shown in the latency chart.
        debounce_s: Quiet time after the last control change before ``session.update``.
        transcribe: Input-transcription model switched on when the panel makes the config
            itself (``config`` and ``session`` None), so the transcript shows what you said;
            None leaves it off.
        audio: ``"local"`` (this kernel's sound devices), ``"browser"`` (the browser's
            microphone and speaker, through a strip shown in the panel: for kernels that run
            away from you, e.g. JupyterHub) or ``"auto"`` (default: ``VOICELIVE_NB_AUDIO`` if
            set, else local when the kernel has an input device, else the browser).  The
            panel's Audio selector switches while disconnected.
        **session_kwargs: Passed to ``VoiceSession`` when the panel builds it (``mic=``,
            ``speaker=``, ``connection=``, ``tools=``, ``mcp_approval=`` ...).  With tools,
            the panel shows a switch per tool (on/off live, acknowledged like a VAD change)
            and Approve/Refuse buttons for MCP approval requests; tool calls appear in the
            transcript (name, arguments, result or error, ms).
    """

    def __init__(
        self,
        session: Any = None,
        *,
        config: Any = None,
        record_dir: str | Path = "recordings",
        refresh_hz: float = 20.0,
        last_n: int = 12,
        debounce_s: float = 0.3,
        transcribe: str | None = "azure-speech",
        audio: str = "auto",
        **session_kwargs: Any,
    ) -> None:
        _require_ipywidgets()
        from voicelive_nb.connection import read_sources, session_config_from_env
        from voicelive_nb.session.devices import choose_audio

        audio = choose_audio(audio)  # ValueError naming the choices

        if session is not None:
            config = session.config
        elif config is None:
            config = session_config_from_env()
            if transcribe and config.transcription_model is None:
                config = config.replace(transcription_model=transcribe)
        self._period = 1.0 / max(1.0, min(refresh_hz, 60.0))
        # the widgets' side (refresh() is their only writer): what it has shown, what it is doing
        self._locked = False  # connection fields locked (a session passed in)
        self._closed = False
        self._syncing = False  # refresh() is writing the controls: their observers ignore it
        self._seen = {"tx": -1, "log": -1, "turns": -1, "types": 0, "fields": -1}
        self._seen_connection = ""
        self._seen_server: Any = None
        self._last_log_draw = 0.0
        self._last_chart_draw = 0.0
        self._last_counters_draw = 0.0
        self._chart_job: asyncio.Future[bytes] | None = None
        self.refreshes = 0
        """Snapshots pushed into the widgets so far."""
        self.state = PanelState(lambda: self._control.turns())
        """The panel's model (fed by the session's event bus)."""

        src = read_sources()
        env_endpoint = src.get("endpoint") or None
        self.c, conn_box, vad_box = build_controls(config, env_endpoint, audio)
        self._audio = AudioChoice(self.c, conn_box, audio)
        self._control = SessionControl(
            self.state,
            self.c,
            self.refresh,
            audio=self._audio,
            config=config,
            session=session,
            record_dir=record_dir,
            debounce_s=debounce_s,
            session_kwargs=session_kwargs,
        )
        self._refresher = Refresher(self.refresh, self._period, busy=self._control.connected)
        self._set = self._refresher.set
        self.chart = LatencyChart(last_n=last_n)
        v = build_views(self.c, conn_box, vad_box, self.chart.render([]), self._threshold())
        self._status, self._meters, self._chart_img = v.status, v.meters, v.chart
        self._transcript, self._counters, self._log, self._log_acc = v.transcript, v.counters, v.log, v.log_box
        self.widget = v.root
        """The root widget (display it, or put it in your own layout)."""
        self.widget.add_class("vlnb-panel")
        self._build_tool_controls()
        self._wire()
        self.state.mark_defaults(defaulted_fields(config), SERVICE_DEFAULTS)
        if session is not None:  # (attached by the control)
            self._locked = True  # (a session passed in brings its own mic and speaker)
            self.refresh()
        else:  # the widgets show the state from the start (the audio choice): one refresh, which
            self._seen["turns"] = 0  # draws no chart (the empty one is drawn above) and holds back
            self.refresh()  # no counters or log drawn right after it
            self._last_counters_draw = self._last_log_draw = 0.0

    # ------------------------------------------------------------------ public API (the control's)

    @property
    def session(self) -> Any:
        """The session this panel controls (None until :meth:`connect` builds one)."""
        return self._control.session

    @property
    def config(self) -> Any:
        """The session config the controls currently describe."""
        return self._control.config

    @property
    def record_dir(self) -> Path:
        """Where :meth:`record` (the Record button) creates session folders."""
        return self._control.record_dir

    @record_dir.setter
    def record_dir(self, folder: str | Path) -> None:
        self._control.record_dir = Path(folder)

    def connect(self) -> None:
        """Start the session (building it first if the panel owns it)."""
        self._control.connect()
        self._refresher.ensure_running()

    def disconnect(self) -> None:
        """Stop the session (idempotent); a recording in progress is finalised."""
        self._control.disconnect()

    def mute(self, muted: bool = True) -> None:
        """Stop (or resume, with ``muted=False``) sending the mic."""
        self._control.mute(muted)

    def unmute(self) -> None:
        """Resume sending the mic."""
        self._control.unmute()

    def record(self, on: bool = True) -> Path | None:
        """Start (or stop) recording into a new folder under ``record_dir``.

        Returns the folder being recorded (or just finalised, with ``on=False``); None when
        recording was asked for before connecting (the folder is made on connect).
        """
        return self._control.record(on)

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
        return self._control.set_vad(**changes)

    async def wait_for(self, type: str, timeout: float = 60.0, predicate: Any = None) -> Any:
        """Await the next record of ``type`` without blocking the kernel (the panel keeps updating).

        ``await panel.wait_for("response.done")`` in a notebook cell; raises TimeoutError, or
        SessionFailedError with the cause as soon as the session failed.
        """
        return await self._control.wait_for(type, timeout, predicate)

    async def wait_turns(self, count: int = 1, timeout: float = 90.0) -> list[Any]:
        """Await ``count`` more finished responses (``response.done``); returns the turns so far."""
        return await self._control.wait_turns(count, timeout)

    async def wait_quiet(self, timeout: float = 60.0, settle_s: float = 0.2) -> None:
        """Await the end of the assistant's speech: no response being generated, none of its audio
        left to hand to the speaker; then ``settle_s`` more, so its last records reach the
        recording.  ``await panel.wait_quiet()`` before ``panel.record(False)``; raises TimeoutError.
        """
        await self._control.wait_quiet(timeout, settle_s)

    def enable_tool(self, name: str, enabled: bool = True) -> Any:
        """Switch a tool on or off live (what its switch does); the session's Future of the
        server's answer, or None before connecting (the panel's config changes then)."""
        return self._control.enable_tool(name, enabled)

    def approve_mcp(self, approve: bool = True) -> Any:
        """Answer the oldest pending MCP approval request (what Approve/Refuse do); None if none waits."""
        return self._control.approve_mcp(approve)

    # ------------------------------------------------------------------ the widgets

    @property
    def widget_updates(self) -> int:
        """Widget values actually changed so far (each is one comm message to the browser)."""
        return self._refresher.updates

    def _build_tool_controls(self) -> None:
        from voicelive_nb.panel.tools import ToolControls

        self._tools = ToolControls(
            self._control.tool_names(),
            switch=lambda name, on: None if self._syncing else self.enable_tool(name, on),
            approve=self.approve_mcp,
        )
        if self._tools.row is not None:
            self.widget.children = (*self.widget.children, self._tools.row)

    def refresh(self) -> PanelSnapshot:
        """Push the current state into the widgets (the refresher calls this ~20 times a second)."""
        now = time.monotonic()
        snap = self.state.snapshot(now)
        self.refreshes += 1
        if snap.connection != self._seen_connection:  # buttons first: a reader of the status sees them current
            self._seen_connection = snap.connection
            self._update_buttons(snap)
        self._set(self._status, "value", status_html(snap, self._record_note()))
        self._set(self._meters, "value", meters_html(snap, self._threshold()))
        if snap.transcript_version != self._seen["tx"]:
            self._seen["tx"] = snap.transcript_version
            self._set(self._transcript, "value", transcript_html(snap.transcript))
        if (
            snap.log_version != self._seen["log"]
            and self._log_acc.selected_index == 0
            and now - self._last_log_draw >= 0.5
        ):
            self._seen["log"] = snap.log_version
            self._last_log_draw = now
            self._set(self._log, "value", log_html(filter_log(snap.log, self.c.log_filter.value)))
        if len(snap.type_counts) != self._seen["types"]:
            self._seen["types"] = len(snap.type_counts)
            base = ["all", "server", "client", "local", "errors"]
            self._set(self.c.log_filter, "options", [*base, *sorted(snap.type_counts)])
        if (
            snap.turns_version != self._seen["turns"]
            and now - self._last_chart_draw >= 0.25
            and self._chart_job is None
        ):
            self._seen["turns"] = snap.turns_version
            self._last_chart_draw = now
            self._draw_chart(snap.turns)
        if now - self._last_counters_draw >= 0.25:  # numbers people read: 4 Hz is plenty
            self._last_counters_draw = now
            self._set(self._counters, "value", counters_html(self._counter_values(snap)))
        if snap.fields_version != self._seen["fields"]:
            self._seen["fields"] = snap.fields_version
            for name, badge in self.c.badges.items():
                self._set(badge, "value", field_badge_html(snap.fields.get(name)))
        if snap.server_session != self._seen_server and snap.server_session and not self._control.pending:
            self._seen_server = snap.server_session
            values = values_from_session(snap.server_session, local_echo=self.config.local_echo_cancellation)
            self._control.show(values)
            if values:  # what the server left unset shows its default, marked as such
                self.state.mark_defaults([n for n in SERVICE_DEFAULTS if n not in values], SERVICE_DEFAULTS)
        self._show_controls(snap)
        return snap

    def close(self) -> None:
        """Stop refreshing, stop a session the panel built, and close the widgets."""
        self._closed = True
        self._refresher.close()
        self._control.close()  # (stops a session the panel built)
        self.chart.close()
        _close_tree(self.widget)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)  # type: ignore[no-untyped-call]  # (IPython: untyped)
        self._refresher.ensure_running()

    def __repr__(self) -> str:
        snap = self.state.snapshot(time.monotonic())
        return f"<voicelive_nb.Panel {snap.connection}: {snap.status}>"

    # ------------------------------------------------------------------ controls

    def _wire(self) -> None:
        c = self.c
        c.connect.on_click(lambda _b: self.disconnect() if self._control.connected() else self.connect())
        c.mute.observe(lambda ch: None if self._syncing else self.mute(bool(ch["new"])), names="value")
        c.record.observe(lambda ch: None if self._syncing else self.record(bool(ch["new"])), names="value")
        c.audio.observe(lambda ch: None if self._syncing else self._choose_audio(str(ch["new"])), names="value")
        c.log_audio.observe(lambda ch: self.state.set_log_high_rate(bool(ch["new"])), names="value")
        c.log_filter.observe(lambda _ch: self._redraw_log(), names="value")
        self._log_acc.observe(lambda _ch: self._redraw_log(), names="selected_index")
        for name, widget in c.fields.items():
            widget.observe(self._user_change(name), names="value")
        for name, box in c.boxes.items():  # a typed value goes the same way (and may be refused)
            box.observe(self._user_change(name), names="value")

    def _user_change(self, name: str) -> Callable[[dict[str, Any]], None]:
        """Control ``name``'s observer: a change the user made goes to the control (debounced,
        then sent); the panel's own writes (refresh) do not."""

        def handler(change: dict[str, Any]) -> None:
            if not self._syncing:
                self._control.change(name, change["new"])

        return handler

    def _show_controls(self, snap: PanelSnapshot) -> None:
        """Project what the controls show (refresh() only): values set by code or by the server
        (not taken for user changes), the toggles, the record line, the locks."""
        c = self.c
        self._syncing = True
        try:
            values, pending = self._control.take_shown(), self._control.pending
            for name, value in values.items():
                if name in pending:
                    continue
                for widget in (c.fields.get(name), c.boxes.get(name)):
                    if widget is not None:
                        with contextlib.suppress(Exception):  # e.g. a value outside a slider's range
                            self._set(widget, "value", value)
            semantic_only = c.fields["type"].value == "server_vad"  # speech_duration_ms: semantic VAD only
            self._set(c.fields["speech_duration_ms"], "disabled", semantic_only)
            if "speech_duration_ms" in c.boxes:
                self._set(c.boxes["speech_duration_ms"], "disabled", semantic_only)
            self._set(c.mute, "value", snap.muted)
            self._set(c.record, "value", self._control.recording)
            self._set(c.record_folder, "value", self._control.record_text)
            if self._control.take_key_clear():
                self._set(c.api_key, "value", "")
                self._set(c.api_key, "placeholder", "•••••• (held in memory for this panel)")
            self._audio.show(self._set)
            session = self._control.session
            if session is not None and self._tools.switches:  # the session's tools, and the wishes sent
                shown = {**getattr(session, "tools", {}), **snap.tool_wishes}
                self._tools.show(shown, bool(session.pending_approvals), self._set)
            if self._locked:
                for widget in (c.endpoint, c.auth, c.api_key, c.model, c.mic, c.speaker, c.audio):
                    self._set(widget, "disabled", True)
        finally:
            self._syncing = False

    @property
    def audio(self) -> str:
        """``"local"`` or ``"browser"``: where the next :meth:`connect` takes its audio."""
        return self._audio.audio

    def _choose_audio(self, audio: str) -> None:
        """The Audio selector changed: the next session's audio (the section follows at the refresh)."""
        self._audio.choose(audio)
        self.refresh()

    def _update_buttons(self, snap: PanelSnapshot) -> None:
        live = snap.connection in ("connected", "connecting", "reconnecting")
        b = self.c.connect
        self._set(b, "description", "Disconnect" if live else "Connect")
        self._set(b, "button_style", "warning" if live else "success")
        self._set(b, "icon", "stop" if live else "plug")
        if self._control.own_session:
            c = self.c
            for widget in (c.endpoint, c.auth, c.api_key, c.model, c.mic, c.speaker, c.audio):
                self._set(widget, "disabled", live)

    def _draw_chart(self, turns: tuple[Any, ...]) -> None:
        """Redraw the latency chart in a worker thread (~0.1 s of CPU; the meters keep moving).

        One job at a time touches the figure; the PNG reaches the widget on the loop.
        """

        def deliver(png: bytes) -> None:
            self._chart_job = None
            self._set(self._chart_img, "value", png)

        self._chart_job = self._refresher.off_loop(lambda: self.chart.render(turns), deliver)
        if self._chart_job is not None:
            self._chart_job.add_done_callback(lambda _f: setattr(self, "_chart_job", None))

    def _redraw_log(self) -> None:
        self._seen["log"] = -1
        self._last_log_draw = 0.0
        self.refresh()

    # ------------------------------------------------------------------ helpers

    def _threshold(self) -> float | None:
        td = self.config.turn_detection
        return float(td.threshold) if td is not None else None

    def _record_note(self) -> str:
        recorder = self._control.recorder
        return f"recording to {recorder.folder}" if recorder is not None else ""

    def _counter_values(self, snap: PanelSnapshot) -> dict[str, float]:
        values = dict(snap.counters)
        session = self._control.session
        bus = getattr(session, "counters", None) if session is not None else None
        if isinstance(bus, dict):
            for key, value in bus.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and key not in values:
                    values[key] = value
        done = [t for t in snap.turns if getattr(t, "response_latency_ms", None) is not None]
        if done:
            last = done[-1]
            values["last_response_ms"] = round(float(last.response_latency_ms), 1)
            if last.voice_to_voice_ms is not None:
                values["last_voice_to_voice_ms"] = round(float(last.voice_to_voice_ms), 1)
        return values
