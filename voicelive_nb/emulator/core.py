"""Sans-I/O Voice Live conversation: client events in, server events and effects out.

:class:`Conversation` knows nothing about sockets, threads or clocks.  Feed it client
events (:meth:`~Conversation.receive_raw` for a WebSocket text message, or
:meth:`~Conversation.receive` for a parsed dict); each call returns a list of outputs:

* ``dict`` -- a server event, ready to ``json.dumps`` and send, in order;
* :class:`Transcribe` -- run ASR on a committed user turn, then call
  :meth:`~Conversation.transcription_result`;
* :class:`Generate` -- produce the reply of a response (responder): either words, then
  audio (TTS), :meth:`~Conversation.set_response_content` and the paced steps of
  :meth:`~Conversation.response_step` until it returns None; or tool calls, handed to
  :meth:`~Conversation.set_response_calls` (function calls and approval requests end the
  response; MCP calls come back as :class:`CallMcp` effects whose results go to
  :meth:`~Conversation.mcp_call_result`, after which the response speaks);
* :class:`ListMcpTools` -- list an MCP server's tools, then call
  :meth:`~Conversation.mcp_tools_listed`.

Time, for turn detection, is the appended-audio timeline (bytes received), never the
wall clock.  The I/O shell (:mod:`voicelive_nb.emulator.server`) does pacing, threads
and fault injection.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

import numpy as np

from voicelive_nb.emulator.audio_formats import OUTPUT_FORMATS, decode_input
from voicelive_nb.emulator.echo import ServerEchoCanceller
from voicelive_nb.emulator.effects import Generate, Output, Transcribe
from voicelive_nb.emulator.input_audio import InputAudio
from voicelive_nb.emulator.items import ItemsMixin, _Item
from voicelive_nb.emulator.responses import ResponseRun
from voicelive_nb.emulator.session_config import SessionError, default_session, merge_session, validate_response_params
from voicelive_nb.emulator.settings import EmulatorSettings
from voicelive_nb.emulator.tool_book import ToolBook
from voicelive_nb.emulator.turns import VadEvent
from voicelive_nb.emulator.vad import SpeechModel
from voicelive_nb.emulator.wire import Ids, error_event, user_audio_item

MAX_ITEMS = 64
"""Conversation items kept; older ones (and their responses' audio) are forgotten, so a
long session's memory stays flat.  Truncating or retrieving a forgotten item is an error."""

FILLER_WORDS = ("ah", "umm", "um", "mm", "uh", "huh", "oh", "yeah", "hmm")
_FILLER_RE = re.compile(r"\b(" + "|".join(FILLER_WORDS) + r")\b[,.!?]*\s*", re.IGNORECASE)


class Conversation(ItemsMixin):
    """One emulated Voice Live session (see the module docstring).

    Args:
        settings: Emulator settings (chunk size, limits...).
        vad_model: Speech probability model for server VAD (None: the energy fallback).
        ids: Id generator (seed it for reproducible tests).
        model: Model name from the connection URL.
        api_version: ``api-version`` from the URL (changes the default prefix padding).
    """

    def __init__(
        self,
        settings: EmulatorSettings | None = None,
        vad_model: SpeechModel | None = None,
        *,
        ids: Ids | None = None,
        model: str | None = None,
        api_version: str | None = None,
    ) -> None:
        self.settings = settings or EmulatorSettings()
        self.ids = ids or Ids()
        version = api_version or self.settings.api_version
        self.session = default_session(self.ids.new("sess"), model or self.settings.model, version)
        self._default_padding = int(self.session["turn_detection"]["prefix_padding_ms"])
        self.conversation_id = self.ids.new("conv")
        self.items: list[_Item] = []
        self.active: ResponseRun | None = None
        self.runs: dict[str, ResponseRun] = {}
        self.input = InputAudio(vad_model)
        """The input buffer and its turn detection."""
        self._turn_item: str | None = None
        self._turn_start_ms = 0.0
        self._pending_commit: dict[str, bool] = {}
        self.echo: ServerEchoCanceller | None = None
        """The session's ``server_echo_cancellation`` while it asks for it (else None)."""
        self._configure_vad()
        self.last_client_type = ""
        """Type of the last client event received (for logging)."""
        self.book = ToolBook(self.ids)
        """Tool calls made, outputs given, MCP servers listed, approvals."""

    # --- helpers -----------------------------------------------------------------------------

    def _stamp(self, events: list[dict[str, Any]]) -> list[Output]:
        return [{"event_id": self.ids.new("event"), **e} for e in events]

    def _error(self, code: str, message: str, param: str | None = None, client_id: str | None = None) -> Output:
        return error_event(self.ids.new("event"), code, message, param=param, client_event_id=client_id)

    @property
    def input_rate(self) -> int:
        """Sample rate of the input audio (G.711 input is always 8 kHz)."""
        if str(self.session.get("input_audio_format", "pcm16")).startswith("g711"):
            return 8000
        return int(self.session.get("input_audio_sampling_rate", 24000))

    def _configure_vad(self) -> None:
        self.input.configure(self.session.get("turn_detection"), self.input_rate, self.settings.max_buffer_s)
        self._configure_echo()

    def _configure_echo(self) -> None:
        """Start or stop the echo canceller as the session asks (a new one when the rates change)."""
        if self.session.get("input_audio_echo_cancellation") is None:
            self.echo = None
            return
        far_rate = OUTPUT_FORMATS.get(str(self.session.get("output_audio_format", "pcm16")), (24000, 2))[0]
        echo = self.echo
        if echo is None or echo.rate != self.input_rate or echo.far_rate != far_rate:
            self.echo = ServerEchoCanceller(self.input_rate, far_rate)

    @property
    def audio_ms(self) -> float:
        """Appended-audio timeline: milliseconds of input audio received so far."""
        return self.input.audio_ms

    @property
    def vad_log(self) -> list[tuple[str, float, float]]:
        """``(kind, audio_ms, at_ms)`` of each VAD decision, for tests and benches."""
        return self.input.vad_log

    # --- entry points ------------------------------------------------------------------------

    def open(self) -> list[Output]:
        """The events a new connection starts with (``session.created``)."""
        return self._stamp([{"type": "session.created", "session": self.session}])

    def receive_raw(self, data: str | bytes) -> list[Output]:
        """Handle one WebSocket message (JSON text)."""
        self.last_client_type = "(invalid message)"
        if len(data) > self.settings.max_message_bytes:
            return [
                self._error(
                    "message_too_large",
                    f"Message of {len(data)} bytes exceeds the {self.settings.max_message_bytes}-byte "
                    "limit; send audio in smaller chunks (20-100 ms).",
                )
            ]
        try:
            event = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            return [self._error("invalid_json", f"The message is not valid JSON: {exc}")]
        if not isinstance(event, dict):
            return [self._error("invalid_json", "A client event must be a JSON object with a 'type'.")]
        return self.receive(event)

    def receive(self, event: dict[str, Any]) -> list[Output]:
        """Handle one client event dict."""
        etype = event.get("type")
        self.last_client_type = str(etype)
        cid = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        handler = _HANDLERS.get(etype) if isinstance(etype, str) else None
        if handler is None:
            return [self._error("unknown_event_type", f"Unknown client event type {etype!r}.", "type", cid)]
        out: list[Output] = handler(self, event, cid)
        return out

    # --- session -----------------------------------------------------------------------------

    def _session_update(self, event: dict[str, Any], cid: str | None) -> list[Output]:
        if "session" not in event:
            return [
                self._error("missing_required_parameter", "session.update needs a 'session' object.", "session", cid)
            ]
        try:
            new = merge_session(self.session, event["session"], self._default_padding)
        except SessionError as exc:
            return [self._error(exc.code, exc.message, exc.param, cid)]
        self.session = new
        self._configure_vad()
        return [*self._stamp([{"type": "session.updated", "session": self.session}]), *self._list_new_mcp_servers()]

    # --- input audio -------------------------------------------------------------------------

    def _append(self, event: dict[str, Any], cid: str | None) -> list[Output]:
        audio = event.get("audio")
        if not isinstance(audio, str):
            return [self._error("invalid_type", "input_audio_buffer.append needs 'audio': base64 text.", "audio", cid)]
        try:
            raw = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError):
            return [
                self._error("invalid_value", "input_audio_buffer.append 'audio' is not valid base64.", "audio", cid)
            ]
        fmt = str(self.session.get("input_audio_format", "pcm16"))
        if fmt == "pcm16" and len(raw) % 2:
            return [
                self._error(
                    "invalid_value",
                    f"PCM16 audio must have an even number of bytes, got {len(raw)}; send whole 16-bit samples.",
                    "audio",
                    cid,
                )
            ]
        return self.append_audio(decode_input(raw, fmt))

    def append_audio(self, pcm: np.ndarray) -> list[Output]:
        """Append int16 samples at :attr:`input_rate` (what ``input_audio_buffer.append`` does).

        With ``server_echo_cancellation`` the emulator's own voice is removed first
        (:mod:`voicelive_nb.emulator.echo`): the VAD and transcription hear the cleaned audio.
        """
        if self.echo is not None:
            pcm = self.echo.process(pcm)
        return self.handle_vad(self.input.push(pcm))

    def handle_vad(self, events: list[VadEvent]) -> list[Output]:
        """Announce, commit and answer the turns that one ``self.input.push(pcm)`` decided
        (what :meth:`append_audio` does after the push; offline turn detection pushes itself)."""
        out: list[Output] = []
        for ev in events:
            if ev.kind == "started":
                out += self._speech_started(ev.audio_ms)
            else:
                out += self._speech_stopped(ev.audio_ms, ev.at_ms)
        return out

    def _speech_started(self, audio_start_ms: float) -> list[Output]:
        self._turn_item = self.ids.new("item")
        self._turn_start_ms = audio_start_ms
        out = self._stamp(
            [
                {
                    "type": "input_audio_buffer.speech_started",
                    "audio_start_ms": round(audio_start_ms),
                    "item_id": self._turn_item,
                }
            ]
        )
        td = self.session.get("turn_detection") or {}
        if self.active is not None and td.get("interrupt_response", True):
            out += self._finish_active(self.active.cancel_events("turn_detected"))
        return out

    def _speech_stopped(self, audio_end_ms: float, at_ms: float) -> list[Output]:
        item_id = self._turn_item or self.ids.new("item")
        self._turn_item = None
        out = self._stamp(
            [{"type": "input_audio_buffer.speech_stopped", "audio_end_ms": round(audio_end_ms), "item_id": item_id}]
        )
        pcm = self.input.slice(self._turn_start_ms, min(at_ms, audio_end_ms + 200.0))
        self.input.drop_before(at_ms)
        out += self._commit(item_id, pcm, audio_end_ms - self._turn_start_ms)
        td = self.session.get("turn_detection") or {}
        if td.get("create_response", True) and self.active is None:
            out += self._create_response({}, None)
        return out

    def _commit(self, item_id: str, pcm: np.ndarray, audio_ms: float) -> list[Output]:
        previous = self.items[-1].id if self.items else None
        data = user_audio_item(item_id)
        self.items.append(_Item(item_id, "user", data, audio_ms=audio_ms))
        out = self._stamp(
            [
                {"type": "input_audio_buffer.committed", "previous_item_id": previous, "item_id": item_id},
                {"type": "conversation.item.created", "previous_item_id": previous, "item": data},
            ]
        )
        report = self.session.get("input_audio_transcription") is not None
        if report or self.settings.transcribe_for_responder:
            self._pending_commit[item_id] = report
            out.append(Transcribe(item_id, pcm, self.input_rate, report))
        return out

    def _commit_event(self, event: dict[str, Any], cid: str | None) -> list[Output]:
        start = self.input.start_ms
        if self.input.speaking:
            start = max(start, self._turn_start_ms)
        ms = self.audio_ms - start if self.input.buffered_ms > 0 else 0.0
        if ms < 100.0:
            return [
                self._error(
                    "input_audio_buffer_commit_empty",
                    "Error committing input audio buffer: buffer too small. Expected at least 100ms "
                    f"of audio, but buffer only has {max(0.0, ms):.2f}ms of audio.",
                    None,
                    cid,
                )
            ]
        item_id = self._turn_item or self.ids.new("item")
        self._turn_item = None
        pcm = self.input.slice(start, self.audio_ms)
        self.input.drop_before(self.audio_ms)
        self.input.reset_turn()
        return self._commit(item_id, pcm, ms)

    def _clear(self, event: dict[str, Any], cid: str | None) -> list[Output]:
        self.input.drop_before(self.audio_ms)
        self._turn_item = None
        self.input.reset_turn()
        return self._stamp([{"type": "input_audio_buffer.cleared"}])

    def transcription_result(self, item_id: str, text: str | None, error: str | None = None) -> list[Output]:
        """Report the ASR outcome of a :class:`Transcribe` effect (text, or None and an error)."""
        report = self._pending_commit.pop(item_id, False)
        item = self._find(item_id)
        td = self.session.get("turn_detection") or {}
        if text is not None and td.get("remove_filler_words"):
            text = _FILLER_RE.sub("", text).strip()
        if item is not None and text is not None:
            item.text = text
            item.data["content"][0]["transcript"] = text
        if not report:
            return []
        if text is not None:
            return self._stamp(
                [
                    {
                        "type": "conversation.item.input_audio_transcription.completed",
                        "item_id": item_id,
                        "content_index": 0,
                        "transcript": text,
                    }
                ]
            )
        return self._stamp(
            [
                {
                    "type": "conversation.item.input_audio_transcription.failed",
                    "item_id": item_id,
                    "content_index": 0,
                    "error": {
                        "type": "transcription_error",
                        "code": "transcription_failed",
                        "message": error or "transcription failed",
                        "param": None,
                    },
                }
            ]
        )

    def transcript_of(self, item_id: str, default: str | None = None) -> str | None:
        """The (filler-cleaned) transcript stored for an item, else ``default``."""
        item = self._find(item_id)
        return item.text if item is not None and item.text is not None else default

    # --- responses ---------------------------------------------------------------------------

    def _response_create(self, event: dict[str, Any], cid: str | None) -> list[Output]:
        if self.active is not None:
            return [
                self._error(
                    "conversation_already_has_active_response",
                    f"Conversation already has an active response in progress: {self.active.id}. "
                    "Wait until the response is finished before creating a new one.",
                    None,
                    cid,
                )
            ]
        try:
            params = validate_response_params(event.get("response"))
        except SessionError as exc:
            return [self._error(exc.code, exc.message, exc.param, cid)]
        return self._create_response(params, cid)

    def _create_response(self, params: dict[str, Any], cid: str | None) -> list[Output]:
        user = next((it for it in reversed(self.items) if it.role == "user"), None)
        run = ResponseRun(
            self.ids.new("resp"),
            self.ids.new("item"),
            self.items[-1].id if self.items else None,
            self.conversation_id,
            self.session,
            params,
            self.settings.audio_chunk_ms,
            input_audio_ms=user.audio_ms if user else 0.0,
            input_text=(user.text or "") if user else "",
            transcript_lead=self.settings.transcript_lead,
        )
        self._forget_old_items()
        self.active = run
        self.runs[run.id] = run
        since_user = self.items[self.items.index(user) + 1 :] if user is not None else list(self.items)
        tool_outputs = self.book.outputs_for(since_user)
        self.items.append(_Item(run.item_id, "assistant", {}, run=run))
        voice = run.voice
        rate_factor = 1.0
        if isinstance(voice, dict) and voice.get("rate") is not None:
            rate_factor = float(voice["rate"])
        known = None
        if user is not None and user.audio_ms == 0.0:
            known = user.text
        return [
            *self._stamp(run.start_events()),
            Generate(
                run.id,
                user.id if user else None,
                known,
                user.audio_ms if user else 0.0,
                run.audio_mode,
                run.output_format,
                rate_factor,
                dict(self.session),
                tool_outputs,
                self.book.mcp_tools(self.session),
                self.book.take_approvals(),
            ),
        ]

    def set_response_content(self, response_id: str, text: str, audio: bytes = b"") -> None:
        """Give response ``response_id`` its reply (audio already in the output format)."""
        run = self.runs.get(response_id)
        if run is not None and run.active:
            run.set_content(text, audio)

    def response_step(self, response_id: str) -> list[Output] | None:
        """The next paced step of a response; None once it is over (done or cancelled)."""
        run = self.runs.get(response_id)
        if run is None:
            return None
        events = run.next_events()
        if events is None:
            return None
        if self.echo is not None and run.last_chunk:
            rate = OUTPUT_FORMATS[run.output_format][0]
            self.echo.response_audio(run.item_id, decode_input(run.last_chunk, run.output_format), rate)
            run.last_chunk = b""
        return self._finish_active(events) if not run.active else self._stamp(events)

    def step_audio_ms(self, response_id: str) -> float:
        """Audio duration of one step of the response (what the shell paces)."""
        run = self.runs.get(response_id)
        return run.step_audio_ms if run is not None else 0.0

    def fail_response(self, response_id: str, code: str, message: str) -> list[Output]:
        """End the response with ``response.done`` status ``failed`` (fault injection, TTS errors)."""
        run = self.runs.get(response_id)
        if run is None:
            return []
        return self._finish_active(run.fail_events(code, message))

    def _forget_old_items(self) -> None:
        """Keep at most :data:`MAX_ITEMS` items (the reply audio of each is ~100 KB)."""
        excess = len(self.items) - MAX_ITEMS
        if excess <= 0:
            return
        for old in self.items[:excess]:
            if old.run is not None and old.run is not self.active:
                self.runs.pop(old.run.id, None)
        del self.items[:excess]
        self.book.forget({it.id for it in self.items})

    def _finish_active(self, events: list[dict[str, Any]]) -> list[Output]:
        if self.active is not None and not self.active.active:
            if self.echo is not None:
                self.echo.response_done(self.active.item_id)
            self.active = None
        return self._stamp(events)

    def _response_cancel(self, event: dict[str, Any], cid: str | None) -> list[Output]:
        rid = event.get("response_id")
        if self.active is None or (rid and rid != self.active.id):
            return [
                self._error("response_cancel_not_active", "Cancellation failed: no active response found.", None, cid)
            ]
        return self._finish_active(self.active.cancel_events("client_cancelled"))


_HANDLERS: dict[str, Any] = {
    "session.update": Conversation._session_update,
    "input_audio_buffer.append": Conversation._append,
    "input_audio_buffer.commit": Conversation._commit_event,
    "input_audio_buffer.clear": Conversation._clear,
    "response.create": Conversation._response_create,
    "response.cancel": Conversation._response_cancel,
    "conversation.item.create": Conversation._item_create,
    "conversation.item.truncate": Conversation._item_truncate,
    "conversation.item.delete": Conversation._item_delete,
    "conversation.item.retrieve": Conversation._item_retrieve,
    "output_audio_buffer.clear": Conversation._output_clear,
}
