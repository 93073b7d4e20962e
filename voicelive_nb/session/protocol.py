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
from dataclasses import dataclass, field
from typing import Any

from voicelive_nb.session.tool_protocol import ApproveMcp, RunTool, ToolCalls
from voicelive_nb.session.wire import b64decode

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
    "output_rate",
]


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class SendEvent:
    """Send this client event (a JSON-ready dict) to the server."""

    event: dict[str, Any]

    @property
    def type(self) -> str:
        """The client event's type."""
        return str(self.event.get("type", ""))


@dataclass(frozen=True, slots=True)
class FlushPlayback:
    """Drop queued assistant audio now; report the result to :meth:`SessionProtocol.playback_flushed`."""

    reason: str  # "speech_started" | "cancel"


@dataclass(frozen=True, slots=True)
class PlayAudio:
    """Queue decoded PCM16 (mono, little-endian) of an assistant item for playback."""

    pcm: bytes
    response_id: str
    item_id: str


@dataclass(frozen=True, slots=True)
class FinishAudio:
    """All audio of an assistant item was received (``response.audio.done``)."""

    response_id: str
    item_id: str


@dataclass(frozen=True, slots=True)
class StartAudio:
    """The session is configured: mic audio may be appended from now on."""


@dataclass(frozen=True, slots=True)
class ReportError:
    """Tell the user about a problem, in plain words."""

    message: str
    code: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CommandDone:
    """A command that awaited the server's answer got it (or failed)."""

    command_id: str
    ok: bool
    detail: Any = None


Action = (
    SendEvent | FlushPlayback | PlayAudio | FinishAudio | StartAudio | ReportError | CommandDone | RunTool | ApproveMcp
)


# --------------------------------------------------------------------------- plain words

_PLAIN: dict[str, str] = {
    "conversation_already_has_active_response": (
        "The assistant is still answering; wait for response.done or cancel the response first."
    ),
    "response_cancel_not_active": "There was no response to cancel (it had already finished).",
    "input_audio_buffer_commit_empty": (
        "Nothing to commit: less than 100 ms of audio was buffered. Speak longer or append more audio."
    ),
    "unknown_parameter": "The service does not know the setting {param}. Remove it or check its spelling.",
    "invalid_type": "The setting {param} has the wrong type. Check the value you gave it.",
    "invalid_value": "The setting {param} has an invalid value. Check its allowed range.",
    "missing_required_parameter": "The setting {param} is required but missing.",
    "invalid_api_key": "The API key was rejected. Check AZURE_VOICELIVE_API_KEY.",
    "rate_limit_exceeded": "The service is rate limiting this resource. Wait a moment and try again.",
    "server_error": "The service had an internal error. Try again; if it persists, check the service status.",
    "item_truncate_invalid_audio_end_ms": "Truncation point was past the end of the assistant's audio.",
}

_BENIGN_CANCEL_TEXT = "no active response"


def explain_error(error: Mapping[str, Any] | Any) -> str:
    """Turn a server ``error`` payload (the event's ``error`` dict) into a plain sentence.

    Unknown codes fall back to the server's own message; nothing here raises.
    """
    if not isinstance(error, Mapping):
        return f"The service reported an error: {error!r}"
    code = error.get("code")
    param = error.get("param") or "named in the error"
    message = str(error.get("message") or "").strip()
    template = _PLAIN.get(str(code)) if code else None
    if template:
        text = template.format(param=param)
        return f"{text} (server said: {message})" if message and message not in text else text
    if message:
        return f"The service reported an error: {message}"
    return f"The service reported an error ({code or error.get('type') or 'unknown'})."


def explain_exception(exc: BaseException) -> str:
    """Plain words for a failure to connect or a dropped connection: one line, the cause first."""
    text = str(exc) or type(exc).__name__
    low = text.lower()
    credential_error = _chain_find(exc, _CREDENTIAL_ERRORS)
    if credential_error is not None:
        text = str(credential_error) or type(credential_error).__name__
        # azure-identity's message lists every credential it tried, one per line: keep the first
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        return (
            f"Could not get a sign-in token ({first}) Set AZURE_VOICELIVE_API_KEY for key auth, or run "
            "`az login` and use auth='azure-cli'."
        )
    if "401" in low or "unauthorized" in low or "403" in low or "forbidden" in low:
        return (
            "The service refused the credentials (HTTP 401/403). Check the API key or run `az login`, "
            f"and that the endpoint belongs to your resource. ({text})"
        )
    if "404" in low:
        return f"Nothing answers at that endpoint path (HTTP 404). Check AZURE_VOICELIVE_ENDPOINT. ({text})"
    cause = _chain_find(exc, _UNREACHABLE)
    if cause is not None:
        host, port = _address(exc)
        if type(cause).__name__ == "gaierror":
            return f"Cannot resolve the host name {host or '?'} (DNS: {cause.args[-1]}). Check the endpoint's spelling."
        where = f" at {host}:{port}" if host else ""
        if type(cause).__name__ == "ConnectionRefusedError":
            return f"Nothing accepts connections{where} (connection refused). Check the endpoint's host and port."
        return f"The server's certificate is not trusted{where} ({cause}). Check the endpoint URL."
    if "cannot connect" in low or "connection refused" in low or "name or service not known" in low:
        return f"Cannot reach the endpoint. Check the URL and the network. ({text})"
    if "timeout" in low or "timed out" in low:
        return f"The connection timed out. ({text})"
    return f"Connection problem: {text}"


_CREDENTIAL_ERRORS = ("CredentialUnavailableError", "ClientAuthenticationError")


def _is_credential_error(exc: BaseException) -> bool:
    """True for azure-identity's "no token" errors (matched by class name: no import needed)."""
    return any(cls.__name__ in _CREDENTIAL_ERRORS for cls in type(exc).__mro__)


# Causes a retry cannot fix when the very first connect fails (matched by class name, no imports)
_UNREACHABLE = ("gaierror", "ConnectionRefusedError", "SSLCertVerificationError")


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and its causes/contexts, outermost first (cycles cut)."""
    out: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and all(e is not o for o in out):
        out.append(e)
        e = e.__cause__ or e.__context__
    return out


def _chain_find(exc: BaseException, names: tuple[str, ...]) -> BaseException | None:
    return next((e for e in _chain(exc) if any(c.__name__ in names for c in type(e).__mro__)), None)


def _address(exc: BaseException) -> tuple[str, Any]:
    """``(host, port)`` from aiohttp's connector error in the chain, else ``("", None)``."""
    for e in _chain(exc):
        host = getattr(e, "host", None)
        if isinstance(host, str) and host:
            return host, getattr(e, "port", None)
    return "", None


def is_unreachable(exc: BaseException) -> bool:
    """True when the address itself is wrong: unknown host (DNS), connection refused, untrusted certificate.

    Retrying helps a connection that worked before (a restart, a blip); for a first connect
    it only delays the message, so the session gives up at once.
    """
    return _chain_find(exc, _UNREACHABLE) is not None or any(getattr(e, "status", None) == 404 for e in _chain(exc))


def is_fatal_exception(exc: BaseException) -> bool:
    """True when retrying the connection cannot help: refused or unavailable credentials."""
    return any(getattr(e, "status", None) in (401, 403) or _is_credential_error(e) for e in _chain(exc))


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
