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
(:meth:`connect`, :meth:`disconnect`, :meth:`mute`, :meth:`record`, :meth:`set_vad` ...),
which are :class:`~voicelive_nb.panel.commands.PanelCommands`'; this module builds the
widgets, wires them to those methods and projects the state into them (:meth:`Panel.refresh`).
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
from voicelive_nb.panel.commands import PanelCommands
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


class Panel(PanelCommands):
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

        self._session = session
        self._own_session = session is None
        self._session_kwargs = session_kwargs
        if session is not None:
            self._config = session.config
        else:
            self._config = config if config is not None else session_config_from_env()
            if config is None and transcribe and self._config.transcription_model is None:
                self._config = self._config.replace(transcription_model=transcribe)
        self.record_dir = Path(record_dir)
        self._period = 1.0 / max(1.0, min(refresh_hz, 60.0))
        self._debounce_s = debounce_s
        # Turns of the panel's earlier connections: the transcript keeps them, so the chart
        # does too, numbered on (a new connection's tracker starts again at 1).
        self._past_turns: list[Any] = []
        self._tracker_seen: Any = None
        self.state = PanelState(self._turns)
        """The panel's model (fed by the session's event bus)."""
        self._unsubscribe: Callable[[], None] | None = None
        self._recorder: Any = None
        self._api_key: str | None = None
        # what refresh() shows besides the state's snapshot (refresh() is the only writer of widgets)
        self._record_text = ""  # the line under the record toggle
        self._recording_wanted = False  # the record toggle
        self._to_show: dict[str, Any] = {}  # control values to display (not user changes)
        self._locked = False  # connection fields locked (a session passed in)
        self._clear_key = False  # empty the API key box (the key is held in memory only)
        self._pending: dict[str, Any] = {}
        self._debounce: asyncio.TimerHandle | None = None
        self._closed = False
        self._syncing = False
        self._seen = {"tx": -1, "log": -1, "turns": -1, "types": 0, "fields": -1}
        self._seen_connection = ""
        self._seen_server: Any = None
        self._last_log_draw = 0.0
        self._last_chart_draw = 0.0
        self._last_counters_draw = 0.0
        self._chart_job: asyncio.Future[bytes] | None = None
        self.refreshes = 0
        """Snapshots pushed into the widgets so far."""
        self._refresher = Refresher(self.refresh, self._period, busy=self._connected)
        self._set = self._refresher.set

        src = read_sources()
        env_endpoint = src.get("endpoint") or None
        self.c, conn_box, vad_box = build_controls(self._config, env_endpoint, audio)
        self.chart = LatencyChart(last_n=last_n)
        v = build_views(self.c, conn_box, vad_box, self.chart.render([]), self._threshold())
        self._status, self._meters, self._chart_img = v.status, v.meters, v.chart
        self._transcript, self._counters, self._log, self._log_acc = v.transcript, v.counters, v.log, v.log_box
        self.widget = v.root
        """The root widget (display it, or put it in your own layout)."""
        self.widget.add_class("vlnb-panel")
        self._build_tool_controls()
        self._wire()
        self.state.mark_defaults(defaulted_fields(self._config), SERVICE_DEFAULTS)
        self._audio = AudioChoice(self.c, conn_box, audio)
        if session is not None:
            self._attach(session)
            self._locked = True  # (a session passed in brings its own mic and speaker)
            self.refresh()
        else:  # the widgets show the state from the start (the audio choice): one refresh, which
            self._seen["turns"] = 0  # draws no chart (the empty one is drawn above) and holds back
            self.refresh()  # no counters or log drawn right after it
            self._last_counters_draw = self._last_log_draw = 0.0

    # ------------------------------------------------------------------ the widgets

    @property
    def widget_updates(self) -> int:
        """Widget values actually changed so far (each is one comm message to the browser)."""
        return self._refresher.updates

    def _build_tool_controls(self) -> None:
        from voicelive_nb.panel.tools import ToolControls

        self._tools = ToolControls(
            self._tool_names(),
            switch=lambda name, on: None if self._syncing else self.enable_tool(name, on),
            approve=self.approve_mcp,
        )
        if self._tools.row is not None:
            self.widget.children = (*self.widget.children, self._tools.row)

    def _tool_names(self) -> list[str]:
        from voicelive_nb.tool_config import tool_definition, tool_name

        if self._session is not None:
            return list(getattr(self._session, "tools", {}))
        given = [*self._config.tools, *self._session_kwargs.get("tools", ())]
        return list(dict.fromkeys(tool_name(tool_definition(t)) for t in given))

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
        if snap.server_session != self._seen_server and snap.server_session and not self._pending:
            self._seen_server = snap.server_session
            values = values_from_session(snap.server_session, local_echo=self.config.local_echo_cancellation)
            self._to_show.update(values)
            if values:  # what the server left unset shows its default, marked as such
                self.state.mark_defaults([n for n in SERVICE_DEFAULTS if n not in values], SERVICE_DEFAULTS)
        self._show_controls(snap)
        return snap

    def close(self) -> None:
        """Stop refreshing, stop a session the panel built, and close the widgets."""
        self._closed = True
        self._refresher.close()
        if self._own_session and self._session is not None:
            self.disconnect()
        self._stop_recorder()
        if self._unsubscribe is not None:
            self._unsubscribe()
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
        c.connect.on_click(lambda _b: self.disconnect() if self._connected() else self.connect())
        c.mute.observe(lambda ch: None if self._syncing else self.mute(bool(ch["new"])), names="value")
        c.record.observe(lambda ch: None if self._syncing else self.record(bool(ch["new"])), names="value")
        c.audio.observe(lambda ch: None if self._syncing else self._choose_audio(str(ch["new"])), names="value")
        c.log_audio.observe(lambda ch: self.state.set_log_high_rate(bool(ch["new"])), names="value")
        c.log_filter.observe(lambda _ch: self._redraw_log(), names="value")
        self._log_acc.observe(lambda _ch: self._redraw_log(), names="selected_index")
        for name, widget in c.fields.items():
            widget.observe(self._control_changed(name), names="value")
        for name, box in c.boxes.items():  # a typed value goes the same way (and may be refused)
            box.observe(self._control_changed(name), names="value")

    def _show_controls(self, snap: PanelSnapshot) -> None:
        """Project what the controls show (refresh() only): values set by code or by the server
        (not taken for user changes), the toggles, the record line, the locks."""
        c = self.c
        self._syncing = True
        try:
            values, self._to_show = self._to_show, {}
            for name, value in values.items():
                if name in self._pending:
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
            self._set(c.record, "value", self._recording_wanted or self._recorder is not None)
            self._set(c.record_folder, "value", self._record_text)
            if self._clear_key:
                self._clear_key = False
                self._set(c.api_key, "value", "")
                self._set(c.api_key, "placeholder", "•••••• (held in memory for this panel)")
            self._audio.show(self._set)
            session = self._session
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
        if self._own_session:
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
        return f"recording to {self._recorder.folder}" if self._recorder is not None else ""

    def _counter_values(self, snap: PanelSnapshot) -> dict[str, float]:
        values = dict(snap.counters)
        bus = getattr(self._session, "counters", None) if self._session is not None else None
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
