"""One assistant response as a sans-I/O state machine that yields its server events.

Life of a :class:`ResponseRun`: :meth:`start_events` (``response.created``), then either

* the I/O shell supplies the spoken reply with :meth:`set_content` and pulls one step at a
  time with :meth:`next_events`, pacing the steps itself.  The first step announces the
  assistant message (``output_item.added``, ``conversation.item.created``,
  ``content_part.added``), then each carries a transcript delta slightly ahead of an audio
  delta (or a text delta); the last carries the ``…done`` sequence and ``response.done``;
* or the response makes tool calls: :meth:`function_call_events` (a ``function_call``
  output item, its ``response.function_call_arguments.delta``/``.done``, the item done),
  :meth:`approval_request_events` (an ``mcp_approval_request`` item), or
  :meth:`mcp_call_start_events` / :meth:`mcp_call_end_events` around an MCP call the
  shell runs -- after which a message may follow in the same response (MCP) or the
  response ends with :meth:`complete` (function calls, approval requests).

A cancel or failure at any point yields the pending ``…done`` events (the message item
``incomplete``) and ``response.done`` ``cancelled``/``failed``; ``response.done`` lists
every output item so far.  Events carry no ``event_id``: the caller stamps them.
"""

from __future__ import annotations

import base64
import math
from typing import Any

from voicelive_nb.emulator.audio_formats import OUTPUT_FORMATS
from voicelive_nb.emulator.wire import assistant_item, usage

Event = dict[str, Any]

ARGUMENT_CHUNK = 16
"""Characters of a tool call's arguments per ``…arguments.delta`` event."""


class ResponseRun:
    """State of one response; see the module docstring.

    Args:
        response_id, item_id: Ids of the response and of its assistant item.
        previous_item_id: The conversation item the assistant item follows.
        session: The session dict in force (modalities, formats, voice...).
        overrides: The ``response`` object of ``response.create`` (may override modalities,
            output_audio_format, voice, instructions, temperature, max_output_tokens).
        chunk_ms: Audio per ``response.audio.delta``.
        input_audio_ms, input_text: What the user said (for usage).
        transcript_lead: Steps the transcript runs ahead of the audio.
    """

    def __init__(
        self,
        response_id: str,
        item_id: str,
        previous_item_id: str | None,
        conversation_id: str,
        session: dict[str, Any],
        overrides: dict[str, Any],
        chunk_ms: float,
        input_audio_ms: float = 0.0,
        input_text: str = "",
        transcript_lead: int = 1,
    ) -> None:
        self.id = response_id
        self.item_id = item_id
        self.previous_item_id = previous_item_id
        self.conversation_id = conversation_id
        self.modalities: list[str] = list(overrides.get("modalities", session.get("modalities", ["text", "audio"])))
        self.audio_mode = "audio" in self.modalities
        self.output_format = str(overrides.get("output_audio_format", session.get("output_audio_format", "pcm16")))
        self.voice = overrides.get("voice", session.get("voice"))
        self.temperature = overrides.get("temperature", session.get("temperature", 0.8))
        self.max_output_tokens = overrides.get("max_output_tokens", session.get("max_response_output_tokens", "inf"))
        rate, width = OUTPUT_FORMATS[self.output_format]
        self.bytes_per_ms = rate * width / 1000.0
        self.chunk_bytes = max(width, round(chunk_ms * self.bytes_per_ms) // width * width)
        self.input_audio_ms = input_audio_ms
        self.input_text = input_text
        self.lead = transcript_lead
        self.status = "in_progress"
        self.text: str | None = None
        self.audio = b""
        self.sent_audio = 0
        self.sent_text = 0
        self._steps = 0
        self._text_steps: list[str] = []
        self.truncated_ms: float | None = None
        self.outputs: list[dict[str, Any]] = []
        """Output items finished so far (tool calls, approval requests), for ``response.done``."""
        self.message_index: int | None = None
        """``output_index`` of the assistant message once it was announced."""
        self._pending_items: dict[str, dict[str, Any]] = {}  # MCP calls running (item_id -> item)
        self.last_chunk = b""
        """The audio of the last delta handed out (the emulator's echo canceller takes it)."""

    # --- queries -----------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """True until the response's ``response.done`` was produced."""
        return self.status == "in_progress"

    @property
    def content_ready(self) -> bool:
        """True once :meth:`set_content` was called."""
        return self.text is not None

    @property
    def audio_ms_sent(self) -> float:
        """Milliseconds of audio handed out in deltas so far."""
        return self.sent_audio / self.bytes_per_ms

    @property
    def step_audio_ms(self) -> float:
        """Audio duration of one step (the pacing unit)."""
        return self.chunk_bytes / self.bytes_per_ms

    # --- events ------------------------------------------------------------------------------

    def _ids(self) -> dict[str, Any]:
        index = self.message_index if self.message_index is not None else len(self.outputs)
        return {"response_id": self.id, "item_id": self.item_id, "output_index": index, "content_index": 0}

    def _part(self) -> dict[str, Any]:
        said = (self.text or "")[: self.sent_text]
        return {"type": "audio", "transcript": said} if self.audio_mode else {"type": "text", "text": said}

    def response_object(self) -> dict[str, Any]:
        """The ``response`` object as it stands."""
        out: dict[str, Any] = {
            "id": self.id,
            "object": "realtime.response",
            "status": self.status,
            "status_details": None,
            "output": [],
            "usage": None,
            "conversation_id": self.conversation_id,
            "voice": self.voice,
            "modalities": self.modalities,
            "output_audio_format": self.output_format,
            "temperature": self.temperature,
            "max_output_tokens": self.max_output_tokens,
        }
        return out

    def start_events(self) -> list[Event]:
        """The event announcing the response (its output items follow as they are made)."""
        return [{"type": "response.created", "response": self.response_object()}]

    def _message_start(self) -> list[Event]:
        self.message_index = len(self.outputs)
        item = assistant_item(self.item_id, "in_progress", None)
        previous = self.outputs[-1]["id"] if self.outputs else self.previous_item_id
        return [
            {
                "type": "response.output_item.added",
                "response_id": self.id,
                "output_index": self.message_index,
                "item": item,
            },
            {"type": "conversation.item.created", "previous_item_id": previous, "item": item},
            {"type": "response.content_part.added", **self._ids(), "part": self._part()},
        ]

    # --- tool calls ----------------------------------------------------------------------------

    def _add_item(self, item: dict[str, Any], previous: str | None) -> list[Event]:
        index = len(self.outputs) + len(self._pending_items)
        return [
            {"type": "response.output_item.added", "response_id": self.id, "output_index": index, "item": item},
            {"type": "conversation.item.created", "previous_item_id": previous, "item": item},
        ]

    def _previous(self) -> str | None:
        if self._pending_items:
            return list(self._pending_items)[-1]
        return self.outputs[-1]["id"] if self.outputs else self.previous_item_id

    def function_call_events(self, item_id: str, call_id: str, name: str, arguments: str) -> list[Event]:
        """A ``function_call`` output item, its arguments streamed, then done (item completed)."""
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "name": name,
            "call_id": call_id,
            "arguments": "",
        }
        index = len(self.outputs)
        events = self._add_item(item, self._previous())
        ids = {"response_id": self.id, "item_id": item_id, "output_index": index, "call_id": call_id}
        for i in range(0, len(arguments), ARGUMENT_CHUNK):
            events.append(
                {"type": "response.function_call_arguments.delta", **ids, "delta": arguments[i : i + ARGUMENT_CHUNK]}
            )
        events.append({"type": "response.function_call_arguments.done", **ids, "name": name, "arguments": arguments})
        done = {**item, "status": "completed", "arguments": arguments}
        events.append(
            {"type": "response.output_item.done", "response_id": self.id, "output_index": index, "item": done}
        )
        self.outputs.append(done)
        return events

    def approval_request_events(self, item_id: str, server_label: str, name: str, arguments: str) -> list[Event]:
        """An ``mcp_approval_request`` output item (added and done at once)."""
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "mcp_approval_request",
            "server_label": server_label,
            "name": name,
            "arguments": arguments,
        }
        index = len(self.outputs)
        events = self._add_item(item, self._previous())
        events.append(
            {"type": "response.output_item.done", "response_id": self.id, "output_index": index, "item": item}
        )
        self.outputs.append(item)
        return events

    def mcp_call_start_events(
        self, item_id: str, server_label: str, name: str, arguments: str, approval_request_id: str | None
    ) -> list[Event]:
        """An ``mcp_call`` output item, its arguments streamed, then ``response.mcp_call.in_progress``."""
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "mcp_call",
            "server_label": server_label,
            "name": name,
            "arguments": arguments,
            "approval_request_id": approval_request_id,
            "output": None,
            "error": None,
        }
        index = len(self.outputs) + len(self._pending_items)
        events = self._add_item(item, self._previous())
        ids = {"item_id": item_id, "response_id": self.id, "output_index": index}
        for i in range(0, len(arguments), ARGUMENT_CHUNK):
            events.append(
                {"type": "response.mcp_call_arguments.delta", **ids, "delta": arguments[i : i + ARGUMENT_CHUNK]}
            )
        events.append({"type": "response.mcp_call_arguments.done", **ids, "arguments": arguments})
        events.append({"type": "response.mcp_call.in_progress", "item_id": item_id, "output_index": index})
        self._pending_items[item_id] = item
        return events

    def mcp_call_end_events(self, item_id: str, output: str | None, error: str | None) -> list[Event]:
        """The MCP call finished: ``response.mcp_call.completed`` (or ``.failed``), then the item done."""
        item = self._pending_items.pop(item_id, None)
        if item is None or not self.active:
            return []
        index = len(self.outputs)
        done = {**item, "output": output, "error": None if error is None else {"type": "mcp_error", "message": error}}
        kind = "response.mcp_call.completed" if error is None else "response.mcp_call.failed"
        self.outputs.append(done)
        return [
            {"type": kind, "item_id": item_id, "output_index": index},
            {"type": "response.output_item.done", "response_id": self.id, "output_index": index, "item": done},
        ]

    def complete(self) -> list[Event]:
        """End a response that made tool calls and says nothing (``response.done`` completed)."""
        if not self.active:
            return []
        return self._finish("completed")

    def set_content(self, text: str, audio: bytes = b"") -> None:
        """The reply: its text and (audio mode) its audio in the output format."""
        self.text = text
        self.audio = audio if self.audio_mode else b""
        if not self.audio_mode:
            words = text.split(" ")
            self._text_steps = [
                " ".join(words[i : i + 3]) + (" " if i + 3 < len(words) else "") for i in range(0, len(words), 3)
            ]

    def next_events(self) -> list[Event] | None:
        """The next step's events (the last step includes the done sequence); None when over."""
        if not self.active or self.text is None:
            return None
        if self.message_index is None:
            return self._message_start() + (self._next_audio() if self.audio_mode else self._next_text())
        if self.audio_mode:
            return self._next_audio()
        return self._next_text()

    def _next_text(self) -> list[Event]:
        if self._steps < len(self._text_steps):
            delta = self._text_steps[self._steps]
            self._steps += 1
            self.sent_text += len(delta)
            events: list[Event] = [{"type": "response.text.delta", **self._ids(), "delta": delta}]
            if self._steps == len(self._text_steps):
                events += self._finish("completed")
            return events
        return self._finish("completed")

    def _next_audio(self) -> list[Event]:
        text = self.text or ""
        n_steps = max(1, math.ceil(len(self.audio) / self.chunk_bytes))
        self._steps += 1
        events: list[Event] = []
        ahead = self._steps + self.lead
        target = len(text) if ahead >= n_steps else int(len(text) * ahead / n_steps)
        if target < len(text):
            space = text.find(" ", target)
            target = len(text) if space < 0 else space + 1
        if target > self.sent_text:
            delta = text[self.sent_text : target]
            self.sent_text = target
            events.append({"type": "response.audio_transcript.delta", **self._ids(), "delta": delta})
        chunk = self.audio[self.sent_audio : self.sent_audio + self.chunk_bytes]
        self.last_chunk = chunk
        if chunk:
            self.sent_audio += len(chunk)
            events.append(
                {"type": "response.audio.delta", **self._ids(), "delta": base64.b64encode(chunk).decode("ascii")}
            )
        if self.sent_audio >= len(self.audio):
            self.sent_text = len(text)
            events += self._finish("completed")
        return events

    def cancel_events(self, reason: str) -> list[Event]:
        """Stop now: pending done events, item ``incomplete``, response ``cancelled`` (reason)."""
        if not self.active:
            return []
        return self._finish("cancelled", {"type": "cancelled", "reason": reason})

    def fail_events(self, code: str, message: str) -> list[Event]:
        """Stop now with ``response.done`` status ``failed``."""
        if not self.active:
            return []
        error = {"type": "server_error", "code": code, "message": message}
        return self._finish("failed", {"type": "failed", "error": error})

    def _finish(self, status: str, details: dict[str, Any] | None = None) -> list[Event]:
        events: list[Event] = []
        for item_id in list(self._pending_items):  # MCP calls cut short
            events += self.mcp_call_end_events(item_id, None, f"the response was {status}")
        said = ""
        output = list(self.outputs)
        if self.message_index is not None:
            ids = self._ids()
            part = self._part()
            said = part.get("transcript", part.get("text", ""))
            if self.audio_mode:
                events.append({"type": "response.audio.done", **ids})
                events.append({"type": "response.audio_transcript.done", **ids, "transcript": said})
            else:
                events.append({"type": "response.text.done", **ids, "text": said})
            events.append({"type": "response.content_part.done", **ids, "part": part})
            item = assistant_item(self.item_id, "completed" if status == "completed" else "incomplete", part)
            events.append(
                {
                    "type": "response.output_item.done",
                    "response_id": self.id,
                    "output_index": self.message_index,
                    "item": item,
                }
            )
            output.append(item)
        self.status = status
        resp = self.response_object()
        resp["status_details"] = details
        resp["output"] = output
        resp["usage"] = usage(self.input_audio_ms, self.input_text, said, self.audio_ms_sent)
        events.append({"type": "response.done", "response": resp})
        self.audio = b""  # the heard length (sent_audio) is all truncation needs: free the rest
        return events

    def truncate(self, audio_end_ms: float) -> str:
        """Cut the heard audio at ``audio_end_ms``; returns the transcript kept (proportional).

        Raises ValueError when ``audio_end_ms`` is past the item's audio.
        """
        total = self.audio_ms_sent
        if audio_end_ms < 0 or audio_end_ms > total + 0.5:
            raise ValueError(f"audio_end_ms {audio_end_ms:g} is outside the item's audio (0..{total:.0f} ms)")
        self.truncated_ms = audio_end_ms
        text = (self.text or "")[: self.sent_text]
        return text[: int(len(text) * (audio_end_ms / total))] if total > 0 else ""
