"""The panel's transcript, as plain data: what the user and the assistant said, and the tool calls.

:class:`Transcript` keeps one :class:`~voicelive_nb.panel.snapshot.TranscriptLine` per
conversation item (a user's speech, an assistant's answer, a function or MCP call, an MCP
approval), fed the records that make and change them: speech start and stop, the user's and
the assistant's transcripts, barge-ins and truncations, tool calls and their results.  It is
part of :class:`~voicelive_nb.panel.state.PanelState` and runs under its lock (no lock of its
own, no clock, no widgets).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from voicelive_nb.events import EventRecord, Local
from voicelive_nb.panel.snapshot import TranscriptLine

__all__ = ["Transcript"]


class Transcript:
    """The transcript lines by item id, oldest first, at most ``max_lines`` of them.

    :attr:`version` counts the changes (the panel redraws the transcript only when it moved).
    """

    def __init__(self, max_lines: int = 200) -> None:
        self.lines: dict[str, TranscriptLine] = {}
        """The lines by item (or call) id, oldest first."""
        self.version = 0
        """Changes so far."""
        self._max = max_lines
        self._speech_start_ms: dict[str, float] = {}

    def feed(self, r: EventRecord) -> None:
        """Take one record (the caller holds the state's lock); records of other types are ignored."""
        handler = _HANDLERS.get(r.type)
        if handler is not None:
            handler(self, r)

    # ------------------------------------------------------------------ speech

    def _on_speech_started(self, r: EventRecord) -> None:
        item_id = str(r.get("item_id") or f"user@{r.t:.3f}")
        start = r.get("audio_start_ms")
        if isinstance(start, (int, float)):
            self._speech_start_ms[item_id] = float(start)
        if item_id not in self.lines:
            self._put(TranscriptLine("user", "", item_id, r.t))

    def _on_speech_stopped(self, r: EventRecord) -> None:
        item_id = str(r.get("item_id") or "")
        start, end = self._speech_start_ms.pop(item_id, None), r.get("audio_end_ms")
        line = self.lines.get(item_id)
        if line is not None and start is not None and isinstance(end, (int, float)):
            self._put(replace(line, speech_ms=max(0.0, float(end) - start)))

    def _on_user_transcript(self, r: EventRecord) -> None:
        item_id = str(r.get("item_id") or "")
        old = self.lines.get(item_id)
        if r.type.endswith(".completed"):
            text, final = str(r.get("transcript") or "").strip(), True
        elif r.type.endswith(".failed"):
            text, final = "(transcription failed)", True
        else:  # .delta
            text = (old.text if old else "") + str(r.get("delta") or "")
            final = False
        if old is None:
            self._put(TranscriptLine("user", text, item_id, r.t, final))
        else:
            self._put(replace(old, text=text, final=final))

    # ------------------------------------------------------------------ the assistant

    def _assistant_line(self, r: EventRecord) -> TranscriptLine | None:
        item_id = r.get("item_id")
        if not item_id:
            return None
        line = self.lines.get(str(item_id))
        if line is None:
            line = TranscriptLine("assistant", "", str(item_id), r.t)
            self._put(line)
        return line

    def _on_output_item(self, r: EventRecord) -> None:
        item = r.get("item")
        if (
            isinstance(item, Mapping)
            and item.get("type", "message") == "message"
            and item.get("role", "assistant") == "assistant"
            and item.get("id")
            and str(item["id"]) not in self.lines
        ):
            self._put(TranscriptLine("assistant", "", str(item["id"]), r.t))

    def _on_assistant_delta(self, r: EventRecord) -> None:
        line = self._assistant_line(r)
        if line is not None and not line.final:
            self._put(replace(line, text=line.text + str(r.get("delta") or "")))

    def _on_assistant_done(self, r: EventRecord) -> None:
        line = self._assistant_line(r)
        if line is not None:
            text = r.get("transcript")
            self._put(replace(line, text=str(text) if text is not None else line.text, final=True))

    def _on_response_done(self, r: EventRecord) -> None:
        response = r.get("response")
        if isinstance(response, Mapping) and response.get("status") == "cancelled":
            for item in response.get("output") or ():
                line = self.lines.get(str(item.get("id"))) if isinstance(item, Mapping) else None
                if line is not None:
                    self._put(replace(line, interrupted=True, final=True))

    def _on_cut(self, r: EventRecord) -> None:
        """A truncation or a flush of playback: the item's line was interrupted."""
        line = self.lines.get(str(r.get("item_id") or ""))
        if line is not None:
            self._put(replace(line, interrupted=True))

    # ------------------------------------------------------------------ tools

    def _on_tool_call(self, r: EventRecord) -> None:
        call = f"{r.get('name')}({_short(r.get('arguments'))})"
        self._put(TranscriptLine("tool", call, str(r.get("call_id")), r.t))

    def _on_tool_result(self, r: EventRecord) -> None:
        key = str(r.get("call_id"))
        old = self.lines.get(key)
        call = old.text if old is not None else f"{r.get('name')}(…)"
        ms = r.get("duration_ms")
        took = f" · {float(ms):.0f} ms" if isinstance(ms, (int, float)) else ""
        if r.get("ok"):
            text = f"{call} → {_short(r.get('output'))}{took}"
        else:
            text = f"{call} ✗ {r.get('status')}: {_short(r.get('error'))}{took}"
        self._put(TranscriptLine("tool", text, key, old.t if old else r.t, True, error=not r.get("ok")))

    def _on_mcp_item(self, r: EventRecord) -> None:
        item = r.get("item")
        if not isinstance(item, Mapping) or not item.get("id"):
            return
        key, kind = str(item["id"]), item.get("type")
        call = f"{item.get('server_label')}/{item.get('name')}({_short(item.get('arguments'))})"
        if kind == "mcp_approval_request":
            self._put(TranscriptLine("tool", f"{call} — waiting for approval", key, r.t))
        elif kind == "mcp_call" and r.type == "response.output_item.done":
            error = item.get("error")
            old = self.lines.get(key)
            t0 = old.t if old else r.t
            took = f" · {(r.t - t0) * 1000:.0f} ms" if old else ""
            if error:
                msg = error.get("message") if isinstance(error, Mapping) else error
                text = f"{call} ✗ {_short(msg)}{took}"
            else:
                text = f"{call} → {_short(item.get('output'))}{took}"
            self._put(TranscriptLine("tool", text, key, t0, True, error=bool(error)))
        elif kind == "mcp_call":
            self._put(TranscriptLine("tool", call, key, r.t))

    def _on_tool_approval(self, r: EventRecord) -> None:
        key = str(r.get("approval_request_id"))
        old = self.lines.get(key)
        verdict = "approved" if r.get("approve") else "refused"
        call = f"{r.get('server_label')}/{r.get('name')}({_short(r.get('arguments'))})"
        self._put(TranscriptLine("tool", f"{call} — {verdict} ({r.get('by')})", key, old.t if old else r.t, True))

    # ------------------------------------------------------------------ helpers

    def _put(self, line: TranscriptLine) -> None:
        self.lines[line.item_id] = line
        while len(self.lines) > self._max:
            del self.lines[next(iter(self.lines))]
        self.version += 1


def _short(value: Any, limit: int = 160) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_HANDLERS: dict[str, Callable[[Transcript, EventRecord], None]] = {
    "input_audio_buffer.speech_started": Transcript._on_speech_started,
    "input_audio_buffer.speech_stopped": Transcript._on_speech_stopped,
    "conversation.item.input_audio_transcription.completed": Transcript._on_user_transcript,
    "conversation.item.input_audio_transcription.delta": Transcript._on_user_transcript,
    "conversation.item.input_audio_transcription.failed": Transcript._on_user_transcript,
    "response.output_item.added": Transcript._on_output_item,
    "response.audio_transcript.delta": Transcript._on_assistant_delta,
    "response.audio_transcript.done": Transcript._on_assistant_done,
    "response.done": Transcript._on_response_done,
    "conversation.item.truncated": Transcript._on_cut,
    Local.PLAYBACK_FLUSHED: Transcript._on_cut,
    Local.TOOL_CALL: Transcript._on_tool_call,
    Local.TOOL_RESULT: Transcript._on_tool_result,
    Local.TOOL_APPROVAL: Transcript._on_tool_approval,
    "response.output_item.done": Transcript._on_mcp_item,
    "conversation.item.created": Transcript._on_mcp_item,
}
