"""Sans-I/O session logic: server events and playback facts in, actions out.

:class:`SessionProtocol` holds the client-side state of one Voice Live session
(what the server confirmed, which response is active, how much audio each
assistant item carried, which commands await an answer) and decides what to do
about each server event.  It never touches a socket, a sound device, a clock or
asyncio -- the session thread (:mod:`voicelive_nb.session`) feeds it and carries
out the actions it returns.  That makes every decision testable by feeding dicts.

The conversation, in actions:

* ``session.updated`` (the first on a connection) -> :class:`StartAudio`: mic
  audio may be sent from now on (appending before the session is configured would
  be processed with the wrong settings).
* ``response.audio.done`` -> :class:`FinishAudio` (the player may then report the
  item's end of playback).
* ``response.audio.delta`` -> :class:`PlayAudio` with the decoded PCM16 (unless
  the response was interrupted: late deltas of a flushed response are dropped and
  counted in :attr:`SessionProtocol.late_deltas_dropped`).
* ``input_audio_buffer.speech_started`` while the server interrupts responses
  (``interrupt_response``, the default) -> :class:`FlushPlayback`.  The session
  flushes its player and reports what was played through :meth:`SessionProtocol.
  playback_flushed`, which answers with a ``conversation.item.truncate``
  (:class:`SendEvent`) carrying ``audio_end_ms`` = the ms actually played -- only
  if some of the item was played and not all of it (a fully played item needs no
  truncation, and an unheard one is better left for the server to drop).
* ``error`` -> :class:`ReportError` in plain words (:func:`explain_error`); the
  benign "no active response" error that follows our own ``response.cancel`` is
  swallowed.  An error answering a pending ``session.update`` fails that command.
* Each ``session.updated`` answers the oldest ``session.update`` still unanswered (the server
  answers them in order and does not echo our ``event_id``): every update is tracked, the
  config sent on (re)connect too, so an answer is only ever taken for the command that
  sent it.  A command's answer -> :class:`CommandDone` for it (one per command: accepted,
  refused by an ``error``, or failed by a dropped connection); a ``session.updated`` that
  answers no update of ours (the server's own) settles nothing.
* ``response.function_call_arguments.done`` -> :class:`RunTool`.  The session runs the
  function at once (while the response is still finishing) and reports the output
  through :meth:`SessionProtocol.tool_output`, which sends the
  ``function_call_output`` (with the call's ``call_id``); once every call of a response
  has its output *and* the response is done, a ``response.create`` follows so the model
  answers with the outputs (several calls of one response -- parallel calls -- get one
  ``response.create``).  When the user takes the turn -- the response is cancelled by
  their speech, or they start speaking while the function runs and the server answers
  turns itself (``create_response``) -- the outputs are sent but no ``response.create``:
  the server's response to the user's turn has them in the conversation
  (:mod:`voicelive_nb.session.tool_protocol`).  A ``conversation_already_has_active_
  response`` error answering a ``response.create`` of ours is benign (the model is answering).
* ``conversation.item.created`` of an ``mcp_approval_request`` -> :class:`ApproveMcp`;
  the answer goes out with :meth:`SessionProtocol.mcp_approval`.

Commands (:meth:`~SessionProtocol.update_session`, :meth:`~SessionProtocol.
cancel_response`, :meth:`~SessionProtocol.send_text`) return actions too.  Client
events get ``event_id`` values so an ``error`` can be matched to its cause.

Tolerance: unknown event types, missing or mistyped fields and bad base64 never
raise; the worst outcome is a :class:`ReportError`.
"""

from __future__ import annotations

import binascii
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
from voicelive_nb.session.errors import explain_error, explain_exception, is_fatal_exception, is_unreachable
from voicelive_nb.session.tool_protocol import ToolCalls
from voicelive_nb.session.wire import b64decode

# The actions and the plain words are re-exported: callers know this module as the protocol's vocabulary.
__all__ = [
    "Action",
    "ApproveMcp",
    "CommandDone",
    "FinishAudio",
    "FlushPlayback",
    "PlayAudio",
    "ReportError",
    "RunTool",
    "SendEvent",
    "SessionProtocol",
    "StartAudio",
    "explain_error",
    "explain_exception",
    "is_fatal_exception",
    "is_unreachable",
    "output_rate",
]

_BENIGN_CANCEL_TEXT = "no active response"


def output_rate(session: Mapping[str, Any] | None) -> int:
    """Sample rate of the assistant's PCM16 audio for a session dict (24 kHz unless told)."""
    fmt = session.get("output_audio_format") if isinstance(session, Mapping) else None
    return {"pcm16_8000hz": 8000, "pcm16_16000hz": 16000}.get(str(fmt), 24000)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# --------------------------------------------------------------------------- the protocol


@dataclass(slots=True)
class _Item:
    """What we know about one assistant audio item."""

    response_id: str
    received_samples: int = 0
    audio_done: bool = False


class SessionProtocol:
    """Client-side state machine of one Voice Live session (no I/O).

    Feed it with :meth:`receive` (server event dicts), :meth:`playback_flushed`
    (what the player dropped) and the command methods; carry out the returned
    actions in order.  Call :meth:`connection_reset` when the socket is replaced.

    Args:
        event_prefix: Prefix of generated client ``event_id`` values.
    """

    def __init__(self, *, event_prefix: str = "vlnb") -> None:
        self._ids = itertools.count(1)
        self._prefix = event_prefix
        self.session: dict[str, Any] = {}
        """The session as the server last confirmed it (``session.updated``/``created``)."""
        self.audio_enabled = False
        """True once the session was configured on the current connection."""
        self.active_response_id: str | None = None
        """The response the server is generating, if any."""
        self.rate = 24000
        """Sample rate of the assistant audio (from the confirmed session)."""
        self.late_deltas_dropped = 0
        """Audio deltas that arrived for an already interrupted response and were not played."""
        self.benign_errors = 0
        """Errors swallowed as expected (e.g. cancelling a response that had just finished)."""
        self._items: dict[str, _Item] = {}
        self._interrupted: dict[str, None] = {}  # response ids, oldest first (a set that forgets in order)
        # every session.update not yet answered, in send order: event_id -> command_id (None:
        # the config sent on connect, which no caller awaits but whose answer is its own)
        self._pending_updates: dict[str, str | None] = {}
        self._pending_cancels = 0
        self.tools = ToolCalls(self.next_event_id)
        """The function calls in flight (see :mod:`voicelive_nb.session.tool_protocol`)."""

    # ------------------------------------------------------------------ properties

    @property
    def interrupt_response(self) -> bool:
        """Whether detected speech interrupts the assistant (server_vad ``interrupt_response``)."""
        td = self.session.get("turn_detection")
        if not isinstance(td, Mapping):
            return td is None and "turn_detection" not in self.session
        value = td.get("interrupt_response", True)
        return bool(value) if value is not None else True

    @property
    def server_responds(self) -> bool:
        """Whether the server starts a response at the end of each user turn (turn detection
        on, ``create_response`` not false)."""
        td = self.session.get("turn_detection")
        if not isinstance(td, Mapping):
            return td is None and "turn_detection" not in self.session
        value = td.get("create_response", True)
        return bool(value) if value is not None else True

    def item_audio_ms(self, item_id: str) -> float:
        """Milliseconds of audio received so far for an assistant item."""
        item = self._items.get(item_id)
        return 0.0 if item is None else item.received_samples * 1000.0 / self.rate

    def next_event_id(self) -> str:
        """A fresh client event id."""
        return f"{self._prefix}_{next(self._ids)}"

    # ------------------------------------------------------------------ server events

    def receive(self, event: Mapping[str, Any] | Any) -> list[Action]:
        """Process one server event dict; return the actions to carry out, in order."""
        if not isinstance(event, Mapping):
            return [ReportError(f"Ignored a server message that is not a JSON object: {event!r:.80}")]
        etype = event.get("type")
        handler = _HANDLERS.get(etype) if isinstance(etype, str) else None
        if handler is None:
            return []
        return handler(self, event)

    def _on_session(self, event: Mapping[str, Any]) -> list[Action]:
        session = event.get("session")
        if isinstance(session, Mapping):
            self.session = dict(session)
            self.rate = output_rate(self.session)
        actions: list[Action] = []
        if event.get("type") != "session.updated":
            return actions
        if self._pending_updates:  # the answer to the oldest update we sent
            command_id = self._pending_updates.pop(next(iter(self._pending_updates)))
            if command_id is not None:
                actions.append(CommandDone(command_id, True, dict(self.session)))
        if not self.audio_enabled:
            self.audio_enabled = True
            actions.append(StartAudio())
        return actions

    def _on_response_created(self, event: Mapping[str, Any]) -> list[Action]:
        response = event.get("response")
        rid = _str(response.get("id")) if isinstance(response, Mapping) else None
        self.active_response_id = rid or self.active_response_id or "?"
        self.tools.response_created()
        return []

    def _on_response_done(self, event: Mapping[str, Any]) -> list[Action]:
        response = event.get("response")
        rid = _str(response.get("id")) if isinstance(response, Mapping) else None
        if rid is None or rid == self.active_response_id:
            self.active_response_id = None
        self.forget_items()
        if rid is not None and isinstance(response, Mapping):
            return [
                SendEvent(e) for e in self.tools.response_done(rid, response.get("status"), self.active_response_id)
            ]
        return []

    # ------------------------------------------------------------------ tools

    def _on_call_arguments_done(self, event: Mapping[str, Any]) -> list[Action]:
        run = self.tools.arguments_done(event, self.active_response_id)
        if isinstance(run, str):
            return [ReportError(run)]
        return [run] if run is not None else []

    def tool_output(self, call_id: str, output: str) -> list[Action]:
        """A function's output is ready: send it (and ``response.create`` once the response's calls
        are all answered and the response is done).  Unknown calls (an earlier connection's) send nothing."""
        return [SendEvent(e) for e in self.tools.output(call_id, output, self.active_response_id)]

    def _on_item_created(self, event: Mapping[str, Any]) -> list[Action]:
        request = self.tools.approval_request(event)
        if isinstance(request, str):
            return [ReportError(request)]
        return [request] if request is not None else []

    def mcp_approval(self, approval_request_id: str, approve: bool) -> list[Action]:
        """Answer an MCP approval request."""
        return [SendEvent(self.tools.approval_response(approval_request_id, approve))]

    def _on_audio_delta(self, event: Mapping[str, Any]) -> list[Action]:
        delta = event.get("delta")
        rid = _str(event.get("response_id")) or self.active_response_id or "?"
        iid = _str(event.get("item_id")) or "?"
        if isinstance(delta, (bytes, bytearray)):
            pcm = bytes(delta)
        elif isinstance(delta, str):
            try:
                pcm = b64decode(delta)
            except (binascii.Error, ValueError):
                return [ReportError("Dropped an audio chunk from the server: its base64 is corrupt.")]
        else:
            return []
        if len(pcm) % 2:
            pcm = pcm[:-1]
        if rid in self._interrupted:
            self.late_deltas_dropped += 1
            return []
        item = self._items.get(iid)
        if item is None:
            item = self._items[iid] = _Item(rid)
        item.received_samples += len(pcm) // 2
        return [PlayAudio(pcm, rid, iid)] if pcm else []

    def _on_audio_done(self, event: Mapping[str, Any]) -> list[Action]:
        iid = _str(event.get("item_id"))
        if iid is None:
            return []
        item = self._items.setdefault(iid, _Item(_str(event.get("response_id")) or "?"))
        item.audio_done = True
        rid = _str(event.get("response_id")) or item.response_id
        return [] if rid in self._interrupted else [FinishAudio(rid, iid)]

    def _on_speech_started(self, event: Mapping[str, Any]) -> list[Action]:
        self.tools.user_spoke(self.server_responds)
        if not self.interrupt_response:
            return []
        if self.active_response_id is not None:
            # The server cancels it; audio still in flight for it must not play.
            self._interrupted[self.active_response_id] = None
        return [FlushPlayback("speech_started")]

    def _on_error(self, event: Mapping[str, Any]) -> list[Action]:
        error = event.get("error")
        err: Mapping[str, Any] = error if isinstance(error, Mapping) else {"message": str(error)}
        code = _str(err.get("code"))
        message = str(err.get("message") or "")
        benign = code == "response_cancel_not_active" or _BENIGN_CANCEL_TEXT in message.lower()
        if benign and self._pending_cancels > 0:
            self._pending_cancels -= 1
            self.benign_errors += 1
            return []
        event_id = _str(err.get("event_id"))
        if code == "conversation_already_has_active_response" and self.tools.benign_create_error(event_id):
            self.benign_errors += 1  # the model already answers the tool outputs
            return []
        actions: list[Action] = []
        command_id = self._pending_updates.pop(event_id, None) if event_id else None
        if event_id is None and self._pending_updates:
            param = str(err.get("param") or "")
            if param.startswith("session") or code in ("unknown_parameter", "invalid_type", "invalid_value"):
                command_id = self._pending_updates.pop(next(iter(self._pending_updates)))
        text = explain_error(err)
        if command_id is not None:
            actions.append(CommandDone(command_id, False, text))
        actions.append(ReportError(text, code, dict(err)))
        return actions

    # ------------------------------------------------------------------ playback facts

    def playback_flushed(self, item_id: str | None, played_ms: float, response_id: str | None = None) -> list[Action]:
        """The player dropped queued audio; ``played_ms`` of ``item_id`` had been played.

        Returns the ``conversation.item.truncate`` to send, if one is useful: some of
        the item was played, and not all of its audio (or it is still streaming).
        """
        if response_id and response_id != "?":
            self._interrupted[response_id] = None
        if not item_id or item_id == "?":
            return []
        item = self._items.get(item_id)
        if item is not None:
            self._interrupted[item.response_id] = None
        if played_ms <= 0:
            return []
        audio_end_ms = int(played_ms)
        if item is not None:
            total_ms = item.received_samples * 1000.0 / self.rate
            if item.audio_done and audio_end_ms >= int(total_ms):
                return []  # fully played: nothing to truncate
            audio_end_ms = min(audio_end_ms, int(total_ms))
        event = {
            "type": "conversation.item.truncate",
            "event_id": self.next_event_id(),
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": audio_end_ms,
        }
        return [SendEvent(event)]

    # ------------------------------------------------------------------ commands

    def update_session(self, session: Mapping[str, Any], command_id: str | None = None) -> list[Action]:
        """A ``session.update``; its answer becomes a :class:`CommandDone` for ``command_id``
        (None: nobody awaits it, as for the config sent on connect; its answer is still its own)."""
        event_id = self.next_event_id()
        self._pending_updates[event_id] = command_id
        return [SendEvent({"type": "session.update", "event_id": event_id, "session": dict(session)})]

    def cancel_response(self) -> list[Action]:
        """Stop the assistant: cancel the active response (if any) and flush playback."""
        actions: list[Action] = []
        if self.active_response_id is not None:
            self._interrupted[self.active_response_id] = None
            self._pending_cancels += 1
            actions.append(SendEvent({"type": "response.cancel", "event_id": self.next_event_id()}))
        actions.append(FlushPlayback("cancel"))
        return actions

    def send_text(self, text: str, *, respond: bool = True) -> list[Action]:
        """Add a user text message (and ask for a response)."""
        actions: list[Action] = [
            SendEvent(
                {
                    "type": "conversation.item.create",
                    "event_id": self.next_event_id(),
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": text}],
                    },
                }
            )
        ]
        if respond:
            actions.append(SendEvent({"type": "response.create", "event_id": self.next_event_id()}))
        return actions

    def forget_command(self, command_id: str) -> None:
        """Stop waiting for a command's answer (it timed out): no :class:`CommandDone` for it.

        Its update leaves the line: an answer that never comes (a server that dropped it)
        must not take the next command's answer.  (Should it come late after all, it would be
        taken for the next update's; a server that answers at all answers within the timeout.)
        """
        for event_id, cid in list(self._pending_updates.items()):
            if cid == command_id:
                del self._pending_updates[event_id]

    def connection_reset(self) -> list[Action]:
        """The socket was replaced: forget per-connection state; fail pending commands.

        Audio of a response cut off by the drop will never be completed: its items are
        finished (:class:`FinishAudio`), so what arrived plays out and ends normally.
        """
        actions: list[Action] = [
            CommandDone(cid, False, "The connection dropped before the server answered.")
            for cid in self._pending_updates.values()
            if cid is not None
        ]
        self._pending_updates.clear()
        self._pending_cancels = 0
        self.tools.reset()  # the new connection's conversation does not know these calls
        self.audio_enabled = False
        rid = self.active_response_id
        if rid is not None:
            for iid, item in self._items.items():
                if item.response_id == rid and not item.audio_done:
                    item.audio_done = True
                    actions.append(FinishAudio(rid, iid))
            self._interrupted[rid] = None
        self.active_response_id = None
        return actions

    def forget_items(self, keep: int = 64) -> None:
        """Bound memory in long sessions: keep only the newest ``keep`` items' and interrupted
        responses' facts (called at every ``response.done``)."""
        while len(self._items) > keep:
            self._items.pop(next(iter(self._items)))
        while len(self._interrupted) > keep:
            self._interrupted.pop(next(iter(self._interrupted)))


_HANDLERS = {
    "session.created": SessionProtocol._on_session,
    "session.updated": SessionProtocol._on_session,
    "response.created": SessionProtocol._on_response_created,
    "response.done": SessionProtocol._on_response_done,
    "response.audio.delta": SessionProtocol._on_audio_delta,
    "response.audio.done": SessionProtocol._on_audio_done,
    "input_audio_buffer.speech_started": SessionProtocol._on_speech_started,
    "error": SessionProtocol._on_error,
    "response.function_call_arguments.done": SessionProtocol._on_call_arguments_done,
    "conversation.item.created": SessionProtocol._on_item_created,
}
