"""What the notebook panel shows, as plain data: EventRecords in, immutable snapshots out.

:class:`PanelState` is the panel's model and owns no widget.  The session's event bus
calls :meth:`PanelState.feed` (on the bus thread); the panel's refresher calls
:meth:`PanelState.snapshot` on the kernel's own loop, at most ~20 times a second, and
copies only what changed into the widgets.  Everything here is sans-I/O: no widgets,
no threads started, no clocks read except the ``now`` a caller passes in, so it is
tested by feeding records.

The lock is held only for dictionary updates (microseconds), so the bus thread never
waits on a widget and the kernel never waits on the bus.  Two parts of the model live in
their own modules and run under this lock: the transcript lines
(:class:`~voicelive_nb.panel.transcript.Transcript`) and the controls' statuses
(:class:`~voicelive_nb.panel.changes.ControlChanges`).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from voicelive_nb.events import EventRecord, Local
from voicelive_nb.panel.changes import ControlChanges
from voicelive_nb.panel.snapshot import (
    FLOOR_DB,
    FieldStatus,
    LogLine,
    PanelSnapshot,
    TranscriptLine,
    summarize_record,
)
from voicelive_nb.panel.transcript import Transcript

__all__ = [
    "FLOOR_DB",
    "HIGH_RATE_TYPES",
    "FieldStatus",
    "LogLine",
    "PanelSnapshot",
    "PanelState",
    "TranscriptLine",
]

ECHO_SHOWN_S = 2.0
"""The echo figures stay on show this long after the last ``audio.echo`` (sent twice a
second while the speaker plays, and for its echo tail)."""

HIGH_RATE_TYPES = frozenset(
    {
        Local.MIC_AUDIO,
        Local.SPEAKER_AUDIO,
        "response.audio.delta",
        "response.audio_transcript.delta",
        "conversation.item.input_audio_transcription.delta",
        Local.COUNTERS,
        Local.ECHO,
    }
)
"""Record types that arrive many times a second; the event log leaves them out unless asked."""

_BENIGN_ERROR_CODES = frozenset({"response_cancel_not_active"})


class PanelState:
    """Thread-safe model of the panel, fed :class:`~voicelive_nb.events.EventRecord` objects.

    Args:
        turns: Returns the finished turns (``TurnTracker.turns`` of the session).  Called
            only from :meth:`snapshot` when a response ended since the last call.
        max_log: Event-log rows kept (oldest dropped).
        max_transcript: Transcript lines kept.
        meter_fall_db_s: How fast a meter falls when the audio gets quieter or stops
            (dB per second; audio blocks can arrive in bursts, so bars fall, not blink).
    """

    def __init__(
        self,
        turns: Callable[[], Sequence[Any]] | None = None,
        *,
        max_log: int = 400,
        max_transcript: int = 200,
        meter_fall_db_s: float = 40.0,
    ) -> None:
        self._lock = threading.Lock()
        self._turns_source = turns
        self._fall = meter_fall_db_s
        self._last_snapshot_t: float | None = None
        self._t0: float | None = None
        self._connection = "idle"
        self._endpoint = ""
        self._status = "Not connected."
        self._error = ""
        self._device_trouble: dict[str, str] = {}  # "mic"/"speaker" -> why it is not working
        # Meters: the loudest block since the last snapshot, and when audio last came.
        self._mic_db = FLOOR_DB
        self._mic_peak_db = FLOOR_DB
        self._mic_shown = FLOOR_DB
        self._mic_peak_shown = FLOOR_DB
        self._recent_mic: deque[tuple[int, int, int, float]] = deque(maxlen=80)
        self._vad_onset_db: float | None = None
        self._spk_db = FLOOR_DB
        self._spk_shown = FLOOR_DB
        self._user_speaking = False
        self._assistant_speaking = False
        self._muted = False
        self._echo: dict[str, Any] | None = None  # the latest audio.echo figures and their time
        self._counters: dict[str, float] = {}
        self._changes = ControlChanges()  # the status next to each control
        self._server_session: dict[str, Any] = {}
        self._transcript = Transcript(max_transcript)
        self._log: deque[LogLine] = deque(maxlen=max_log)
        self._log_version = 0
        self._turns_version = 0
        self._turns_seen = -1
        self._turns_cache: tuple[Any, ...] = ()
        self._type_counts: dict[str, int] = {}
        self._log_high_rate = False
        self._first_delta_t: dict[str, float] = {}  # response id -> first audio delta received
        self._tool_wishes: dict[str, bool] = {}  # tool switches sent and not yet answered

    # ------------------------------------------------------------------ input

    def feed(self, record: EventRecord) -> None:
        """Take one record (any thread; the session's bus calls this)."""
        with self._lock:
            if self._t0 is None:
                self._t0 = record.t
            self._type_counts[record.type] = self._type_counts.get(record.type, 0) + 1
            handler = _HANDLERS.get(record.type)
            if handler is not None:
                handler(self, record)
            self._transcript.feed(record)
            if record.type not in HIGH_RATE_TYPES or self._log_high_rate:
                self._log.append(LogLine(record.t - self._t0, record.kind, record.type, summarize_record(record)))
                self._log_version += 1

    def feed_many(self, records: Iterable[EventRecord]) -> None:
        """Feed records in order (a recording's events, for instance)."""
        for record in records:
            self.feed(record)

    def mark_pending(self, names: Iterable[str], command_id: str | None = None) -> None:
        """Controls the panel just sent in the command ``command_id`` (a ``session.update``).

        They show "sent" until that command's ``command.result`` record: the one answer the
        session matched to it (accepted, refused, or lost with the connection).
        """
        names = list(names)
        with self._lock:
            error = self._changes.mark_pending(names, command_id)
            if error is not None:
                self._error = error

    def set_field(self, name: str, status: FieldStatus) -> None:
        """Show ``status`` next to the control ``name`` (e.g. a value refused before sending)."""
        with self._lock:
            self._changes.set_field(name, status)

    def mark_defaults(self, names: Iterable[str], all_defaultable: Iterable[str]) -> None:
        """Mark the controls ``names`` as showing the service's default; unmark the others of
        ``all_defaultable``.  A control with a change sent, applied or refused is left alone."""
        with self._lock:
            self._changes.mark_defaults(names, all_defaultable)

    def count(self, type: str) -> int:
        """How many records of ``type`` were fed."""
        with self._lock:
            return self._type_counts.get(type, 0)

    @property
    def connection(self) -> str:
        """The connection state of the last ``connection.state`` record (``"idle"`` before any)."""
        return self._connection

    def set_status(self, text: str, *, error: bool = False) -> None:
        """Show a status (or an error, in plain words) that did not come from a record."""
        with self._lock:
            if error:
                self._error = text
            else:
                self._status = text
                self._error = ""

    def set_muted(self, muted: bool) -> None:
        """Record that the mic was muted or unmuted (the panel calls this after the command)."""
        with self._lock:
            self._muted = muted

    def set_log_high_rate(self, enabled: bool) -> None:
        """Also log audio blocks and transcript deltas (many rows a second)."""
        with self._lock:
            self._log_high_rate = enabled

    def wish_tool(self, name: str, on: bool) -> None:
        """The user switched tool ``name`` on or off; its switch shows that until :meth:`settle_tool`."""
        with self._lock:
            self._tool_wishes[name] = on

    def settle_tool(self, name: str) -> None:
        """The server answered the switch of tool ``name``: the session's state shows again."""
        with self._lock:
            self._tool_wishes.pop(name, None)

    # ------------------------------------------------------------------ output

    def snapshot(self, now: float) -> PanelSnapshot:
        """The state at monotonic time ``now``; resets the meters' since-last-snapshot maxima.

        Meters have peak-meter ballistics: a bar jumps up to the loudest block since the
        previous snapshot and falls at ``meter_fall_db_s`` -- so a stopped mic never
        freezes a bar, and audio arriving in bursts does not make it blink.
        """
        with self._lock:
            dt = 0.0 if self._last_snapshot_t is None else max(0.0, now - self._last_snapshot_t)
            self._last_snapshot_t = now
            fall = self._fall * dt
            self._mic_shown = max(self._mic_db, self._mic_shown - fall, FLOOR_DB)
            self._mic_peak_shown = max(self._mic_peak_db, self._mic_peak_shown - fall, FLOOR_DB)
            self._spk_shown = max(self._spk_db, self._spk_shown - fall, FLOOR_DB)
            self._mic_db = self._mic_peak_db = self._spk_db = FLOOR_DB
            turns_due = self._turns_version != self._turns_seen
            self._turns_seen = self._turns_version
            lines = tuple(self._transcript.lines.values())
            snap_args: dict[str, Any] = dict(
                connection=self._connection,
                endpoint=self._endpoint,
                status=self._status_line(),
                device_trouble=tuple(sorted(self._device_trouble)),
                error=self._error,
                mic_db=self._mic_shown,
                mic_peak_db=self._mic_peak_shown,
                speaker_db=self._spk_shown,
                vad_onset_db=self._vad_onset_db,
                user_speaking=self._user_speaking,
                assistant_speaking=self._assistant_speaking,
                muted=self._muted,
                echo=self._echo if self._echo is not None and now - self._echo["t"] < ECHO_SHOWN_S else None,
                counters=dict(self._counters),
                fields=dict(self._changes.fields),
                fields_version=self._changes.fields.version,
                server_session=dict(self._server_session),
                transcript=lines,
                transcript_version=self._transcript.version,
                log=tuple(self._log),
                log_version=self._log_version,
                turns_version=self._turns_version,
                type_counts=dict(self._type_counts),
                tool_wishes=dict(self._tool_wishes),
            )
        # Read the turns outside our lock: the tracker has its own.
        if turns_due and self._turns_source is not None:
            try:
                self._turns_cache = tuple(self._turns_source())
            except Exception as exc:  # a broken tracker must not break the panel
                snap_args["error"] = f"Could not read the turn metrics: {exc}"
        snap_args["turns"] = self._turns_cache
        return PanelSnapshot(**snap_args)

    def _status_line(self) -> str:
        """The status, and when connected with a device down, that it is down (the dot turns amber)."""
        if self._connection != "connected" or not self._device_trouble:
            return self._status
        down = " and ".join(f"the {name}" for name in sorted(self._device_trouble))
        verb = "is" if len(self._device_trouble) == 1 else "are"
        return f"{self._status.rstrip('.')}, but {down} {verb} not working (see below)."

    # ------------------------------------------------------------------ handlers

    def _on_mic(self, r: EventRecord) -> None:
        if "mic" in self._device_trouble and not r.get("muted"):
            del self._device_trouble["mic"]  # it delivers audio again
        self._mic_db = max(self._mic_db, _db(r.get("rms_db")))
        self._mic_peak_db = max(self._mic_peak_db, _db(r.get("peak_db")))
        offset, samples, rate = r.get("offset"), r.get("samples"), r.get("rate")
        if isinstance(offset, int) and isinstance(samples, int) and isinstance(rate, int) and rate > 0:
            self._recent_mic.append((offset, samples, rate, _db(r.get("rms_db"))))
            captured = r.get("captured_t")
            if isinstance(captured, (int, float)):  # client-added: capture -> sent, mean over the block
                ms = (r.t - float(captured) - 0.5 * samples / rate) * 1000.0
                self._counters["mic_client_ms"] = _smooth(self._counters.get("mic_client_ms"), ms)

    def _on_audio_delta(self, r: EventRecord) -> None:
        rid = r.get("response_id")
        if isinstance(rid, str) and rid not in self._first_delta_t:
            self._first_delta_t[rid] = r.t
            if len(self._first_delta_t) > 32:
                del self._first_delta_t[next(iter(self._first_delta_t))]

    def _on_speaker(self, r: EventRecord) -> None:
        self._device_trouble.pop("speaker", None)  # it plays again
        self._spk_db = max(self._spk_db, _db(r.get("rms_db")))

    def _on_connection(self, r: EventRecord) -> None:
        state = str(r.get("state") or "unknown")
        self._connection = state
        self._endpoint = str(r.get("endpoint") or self._endpoint)
        detail = str(r.get("detail") or "")
        where = f" to {self._endpoint}" if self._endpoint else ""
        if r.get("emulator"):
            where = f" to the local emulator ({self._endpoint}; no Voice Live endpoint configured)"
        if state == "connecting":  # a new start: its devices are opened afresh
            self._device_trouble.clear()
        if state == "connected":
            self._status = f"Connected{where}."
            if not self._device_trouble:
                self._error = ""
        elif state == "connecting":
            self._status = f"Connecting{where}…"
        elif state == "reconnecting":
            attempt = r.get("attempt")
            self._status = f"Connection lost; reconnecting (attempt {attempt})…"
            if detail:
                self._error = detail
        elif state == "closed":
            self._status = "Disconnected."
            self._user_speaking = self._assistant_speaking = False
        elif state == "failed":
            self._status = "Connection failed."
            self._error = detail or "The connection failed."
            self._user_speaking = self._assistant_speaking = False
        if state in ("closed", "failed"):  # the session ended: no answer will come for what is still sent
            self._changes.session_ended()

    def _on_session_updated(self, r: EventRecord) -> None:
        # What the server now holds (shown as the controls' values); which change it answers
        # is the protocol core's business: the command.result record settles the controls.
        session = r.get("session")
        if isinstance(session, Mapping):
            self._server_session = dict(session)

    def _on_command(self, r: EventRecord) -> None:
        error = self._changes.answered(r.data)
        if error is not None:
            self._error = error

    def _on_server_error(self, r: EventRecord) -> None:
        err = r.get("error")
        if isinstance(err, Mapping) and err.get("code") in _BENIGN_ERROR_CODES:
            return
        try:
            from voicelive_nb.session.errors import explain_error

            text = explain_error(err)
        except ImportError:  # pragma: no cover - protocol ships with the package
            text = str(err)
        self._error = text  # (a refused command is settled by its command.result record)

    def _on_local_error(self, r: EventRecord) -> None:
        self._error = str(r.get("message") or "An error occurred on the client side.")
        where = r.get("where")
        if where in ("mic", "speaker"):
            self._device_trouble[str(where)] = self._error

    def _on_echo(self, r: EventRecord) -> None:
        self._echo = {"t": r.t, "erl_db": r.get("erl_db"), "erle_db": r.get("erle_db"), "enabled": r.get("enabled")}

    def _on_counters(self, r: EventRecord) -> None:
        for key, value in r.data.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self._counters[key] = value

    def _on_speech_started(self, r: EventRecord) -> None:
        self._user_speaking = True
        self._vad_onset_db = self._onset_level(r.get("audio_start_ms")) or self._vad_onset_db

    def _on_speech_stopped(self, r: EventRecord) -> None:
        self._user_speaking = False

    def _on_response_done(self, r: EventRecord) -> None:
        response = r.get("response")
        if isinstance(response, Mapping) and response.get("status") == "failed":
            details = response.get("status_details")
            self._error = f"The response failed: {details}" if details else "The response failed."
        self._turns_version += 1  # (a cancelled response's lines: the transcript's)

    def _on_playback_started(self, r: EventRecord) -> None:
        self._assistant_speaking = True
        latency = r.get("output_latency_s")
        if isinstance(latency, (int, float)):
            self._counters["output_latency_ms"] = round(float(latency) * 1000.0, 1)
            first = self._first_delta_t.get(str(r.get("response_id")))
            if first is not None:  # client-added: first delta received -> its first sample heard
                self._counters["speaker_client_ms"] = round((r.t + float(latency) - first) * 1000.0, 1)

    def _on_playback_stopped(self, r: EventRecord) -> None:
        self._assistant_speaking = False
        self._turns_version += 1

    def _on_playback_flushed(self, r: EventRecord) -> None:
        self._assistant_speaking = False  # (the line it cut: the transcript's)
        stale = r.get("stale_ms")
        if isinstance(stale, (int, float)):
            self._counters["last_barge_in_stale_ms"] = round(float(stale), 1)
        self._turns_version += 1

    def _on_command_result(self, r: EventRecord) -> None:
        if r.get("command") in ("mute", "unmute"):
            self._muted = r.get("command") == "mute" and bool(r.get("ok", True))
        else:
            self._on_command(r)

    # ------------------------------------------------------------------ helpers

    def _onset_level(self, audio_start_ms: Any) -> float | None:
        """The loudest mic block in the 150 ms after the speech onset the server reported.

        ``audio_start_ms`` is moved back by the prefix padding, so the onset proper is
        ``audio_start_ms + prefix_padding_ms`` on the sent-audio timeline.
        """
        if not isinstance(audio_start_ms, (int, float)) or not self._recent_mic:
            return None
        td = self._server_session.get("turn_detection")
        pad = td.get("prefix_padding_ms", 300) if isinstance(td, Mapping) else 300
        onset_s = (float(audio_start_ms) + float(pad or 0)) / 1000.0
        levels = [
            db
            for offset, samples, rate, db in self._recent_mic
            if offset / rate < onset_s + 0.15 and (offset + samples) / rate > onset_s
        ]
        return max(levels) if levels else None


def _smooth(old: float | None, new: float, weight: float = 0.1) -> float:
    """Exponential moving average (rounded for display); the first value is taken as is."""
    return round(new if old is None else old + weight * (new - old), 1)


def _db(value: Any) -> float:
    if isinstance(value, (int, float)) and math.isfinite(value):
        return max(FLOOR_DB, min(0.0, float(value)))
    return FLOOR_DB


_HANDLERS: dict[str, Callable[[PanelState, EventRecord], None]] = {
    Local.MIC_AUDIO: PanelState._on_mic,
    Local.SPEAKER_AUDIO: PanelState._on_speaker,
    Local.CONNECTION: PanelState._on_connection,
    Local.COMMAND: PanelState._on_command_result,
    Local.ERROR: PanelState._on_local_error,
    Local.COUNTERS: PanelState._on_counters,
    Local.ECHO: PanelState._on_echo,
    Local.PLAYBACK_STARTED: PanelState._on_playback_started,
    Local.PLAYBACK_STOPPED: PanelState._on_playback_stopped,
    Local.PLAYBACK_FLUSHED: PanelState._on_playback_flushed,
    "session.created": PanelState._on_session_updated,
    "session.updated": PanelState._on_session_updated,
    "error": PanelState._on_server_error,
    "input_audio_buffer.speech_started": PanelState._on_speech_started,
    "input_audio_buffer.speech_stopped": PanelState._on_speech_stopped,
    "response.audio.delta": PanelState._on_audio_delta,
    "response.done": PanelState._on_response_done,
}
