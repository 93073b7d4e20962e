"""One assistant response as a sans-I/O state machine that yields its server events.

Life of a :class:`ResponseRun`: :meth:`start_events` (``response.created``,
``output_item.added``, ``conversation.item.created``, ``content_part.added``), then the
I/O shell supplies the reply with :meth:`set_content` and pulls one step at a time with
:meth:`next_events` (a transcript delta slightly ahead of an audio delta, or a text
delta), pacing the steps itself.  The last step carries the ``…done`` sequence.  A
cancel or failure at any point yields the pending ``…done`` events with the item
``incomplete`` and ``response.done`` ``cancelled``/``failed``.  Events carry no
``event_id``: the caller stamps them.
"""

from __future__ import annotations

import base64
import math
from typing import Any

from voicelive_nb.emulator.audio_formats import OUTPUT_FORMATS
from voicelive_nb.emulator.wire import assistant_item, usage

Event = dict[str, Any]


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
        return {"response_id": self.id, "item_id": self.item_id, "output_index": 0, "content_index": 0}

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
        """Events announcing the response and its empty assistant item."""
        item = assistant_item(self.item_id, "in_progress", None)
        return [
            {"type": "response.created", "response": self.response_object()},
            {"type": "response.output_item.added", "response_id": self.id, "output_index": 0, "item": item},
            {"type": "conversation.item.created", "previous_item_id": self.previous_item_id, "item": item},
            {"type": "response.content_part.added", **self._ids(), "part": self._part()},
        ]

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
        if self.audio_mode:
            return self._next_audio()
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
        ids = self._ids()
        part = self._part()
        said = part.get("transcript", part.get("text", ""))
        events: list[Event] = []
        if self.audio_mode:
            events.append({"type": "response.audio.done", **ids})
            events.append({"type": "response.audio_transcript.done", **ids, "transcript": said})
        else:
            events.append({"type": "response.text.done", **ids, "text": said})
        events.append({"type": "response.content_part.done", **ids, "part": part})
        item = assistant_item(self.item_id, "completed" if status == "completed" else "incomplete", part)
        events.append({"type": "response.output_item.done", "response_id": self.id, "output_index": 0, "item": item})
        self.status = status
        resp = self.response_object()
        resp["status_details"] = details
        resp["output"] = [item]
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
