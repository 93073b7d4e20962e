"""Per-turn latency tracking, sans-I/O: event records in, :class:`~voicelive_nb.metrics.turn.Turn` records out.

:class:`TurnTracker` is fed :class:`~voicelive_nb.events.EventRecord` objects, live (as a
bus observer) or loaded back from a recording, and keeps one :class:`Turn` per user turn
with every timestamp of the latency chain defined in ``DESIGN.md`` ("Latency, defined
once").  All times are :func:`time.monotonic` seconds, except ``speech_start`` and
``speech_end``, which are on the *audio clock*: seconds into the mic audio appended
since the session started (= seconds into ``mic.wav``).  The server reports them in ms
from the start of the current connection's audio; the ``mic.audio`` records'
``connection_offset`` converts.  The audio clock is mapped to the monotonic clock
through the ``mic.audio`` records too (sample ``offset`` of each block and the time
of its first sample, ``captured_t``, or ``t - samples / rate`` without it), so sample
``s`` of a block is placed at ``captured_t + (s - offset) / rate``.

Which turn owns what:

* ``input_audio_buffer.speech_started`` opens a turn (keyed by the server's ``item_id``);
  ``speech_stopped``, ``committed`` and the user transcription find it by ``item_id``.
* ``response.created`` is given to the most recent committed turn still waiting for a
  response; a response with no such turn (``send_text``, a manual ``response.create``)
  gets a turn of its own with no speech fields (``source="text"``).
* A barge-in (``playback.flushed`` with reason ``speech_started``, or a response that
  ends ``cancelled``) marks the turn whose *response* was cut: ``interrupted=True`` and
  ``barge_in_stale_ms`` = time from the interrupting ``speech_started`` to the last stale
  sample played.
* Tools: a turn whose response calls functions (``tool.call``/``tool.result`` records) or
  MCP tools (``mcp_call`` items, ``response.mcp_call.*``), or asks for an MCP approval,
  keeps the response that follows (the answer with the outputs): its ``response_id`` then
  names that answer, and ``first_delta_rx`` & co. are the answer's, so
  ``response_latency_ms`` runs from the end of speech to the answer's first audio, tools
  included.  ``tool_ms`` = first call's arguments complete -> last output sent (MCP:
  ``mcp_call.in_progress`` -> ``completed``/``failed``); ``tool_to_audio_ms`` = last output
  -> the first audio delta after it.

Feeding is cheap (a dict dispatch on the type and a few attribute stores; ``mic.audio``
records append to a bounded index), so the tracker can run on the event bus live.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from voicelive_nb.events import EventRecord, Local
from voicelive_nb.metrics.clock import AudioClock, MicClock
from voicelive_nb.metrics.turn import Turn, summarize

__all__ = ["TurnTracker"]


class TurnTracker:
    """Sans-I/O turn and latency tracker.  ``feed(record)`` for each record, in order.

    Args:
        default_output_latency_s: Used when ``playback.started`` does not report the
            device's output latency.
        keep: Turns kept in :attr:`turns` (the oldest are dropped beyond this; the
            summary uses the kept ones).
        clock: The audio-to-monotonic clock (default: a :class:`MicClock` fed by the
            ``mic.audio`` records).
    """

    def __init__(
        self, *, default_output_latency_s: float = 0.0, keep: int = 100_000, clock: AudioClock | None = None
    ) -> None:
        self._turns: list[Turn] = []
        self._by_item: dict[str, Turn] = {}
        self._by_response: dict[str, Turn] = {}
        self._awaiting: Turn | None = None  # committed, no response yet
        self._tool_turn: Turn | None = None  # its tool outputs went back: the next response answers it
        self._mcp_items: dict[str, Turn] = {}
        self._current_speech: Turn | None = None  # speech_started seen, not yet stopped
        self._last_speech_started_rx: float | None = None
        self._count = 0
        self._keep = keep
        self._default_latency = default_output_latency_s
        self.clock: AudioClock = clock if clock is not None else MicClock()
        """Audio-clock to monotonic mapping built from the ``mic.audio`` records."""
        self.records = 0
        """Records fed so far."""
        self.malformed = 0
        """Records ignored because a field had the wrong type (damaged files, odd servers)."""
        self._handlers = {
            Local.MIC_AUDIO: self._mic,
            "input_audio_buffer.speech_started": self._speech_started,
            "input_audio_buffer.speech_stopped": self._speech_stopped,
            "input_audio_buffer.committed": self._committed,
            "conversation.item.input_audio_transcription.completed": self._user_transcript,
            "response.created": self._response_created,
            "response.audio.delta": self._audio_delta,
            "response.audio_transcript.delta": self._transcript_delta,
            "response.audio_transcript.done": self._transcript_done,
            "response.audio.done": self._audio_done,
            "response.done": self._response_done,
            Local.PLAYBACK_STARTED: self._playback_started,
            Local.PLAYBACK_STOPPED: self._playback_stopped,
            Local.PLAYBACK_FLUSHED: self._playback_flushed,
            Local.TOOL_CALL: self._tool_call,
            Local.TOOL_RESULT: self._tool_result,
            "response.output_item.added": self._output_item,
            "response.mcp_call.in_progress": self._mcp_started,
            "response.mcp_call.completed": self._mcp_done,
            "response.mcp_call.failed": self._mcp_done,
        }

    # -- feeding ---------------------------------------------------------------

    def feed(self, record: EventRecord) -> Turn | None:
        """Take one record; return the turn it changed, if any."""
        return self.feed_fields(record.t, record.type, record.data)

    __call__ = feed  # so a tracker can be subscribed to a bus directly

    def feed_fields(self, t: float, type: str, data: Mapping[str, Any]) -> Turn | None:
        """Same as :meth:`feed` for a record already split into its fields (fast path for files)."""
        self.records += 1
        handler = self._handlers.get(type)
        if handler is None:
            return None
        try:
            return handler(t, data)
        except (TypeError, ValueError, AttributeError, KeyError):  # a field of the wrong type
            self.malformed += 1
            return None

    def feed_all(self, records: Iterable[EventRecord]) -> TurnTracker:
        """Feed every record of ``records``; returns ``self`` for chaining."""
        for record in records:
            self.feed_fields(record.t, record.type, record.data)
        return self

    # -- results ---------------------------------------------------------------

    @property
    def turns(self) -> list[Turn]:
        """Copies of the turns so far (safe to keep while the tracker runs on)."""
        return [copy.copy(turn) for turn in self._turns]

    @property
    def turn_count(self) -> int:
        """Turns seen so far (including any dropped beyond ``keep``)."""
        return self._count

    def summary(self) -> dict[str, Any]:
        """Running summary: turn counts and p50/p90/max/count of each latency (ms)."""
        return summarize(self._turns)

    # -- handlers --------------------------------------------------------------

    def _new_turn(self, source: str) -> Turn:
        self._count += 1
        turn = Turn(index=self._count, source=source)
        self._turns.append(turn)
        if len(self._turns) > self._keep:
            del self._turns[0]
        if len(self._by_item) > 256:  # only recent items ever get late events
            for key in list(self._by_item)[:128]:
                del self._by_item[key]
        if len(self._by_response) > 256:
            for key in list(self._by_response)[:128]:
                del self._by_response[key]
        return turn

    def _mic(self, t: float, data: Mapping[str, Any]) -> None:
        clock = self.clock
        if isinstance(clock, MicClock):
            clock.connection_offset = int(data.get("connection_offset") or 0)
        captured = data.get("captured_t")
        clock.add(
            int(data.get("offset", 0)),
            int(data.get("samples", 0)),
            int(data.get("rate", 0)),
            t,
            float(captured) if captured is not None else None,
        )
        return None

    def _speech_started(self, t: float, data: Mapping[str, Any]) -> Turn:
        self._last_speech_started_rx = t
        item = data.get("item_id")
        turn = self._by_item.get(item) if item else None
        if turn is None:
            turn = self._new_turn("speech")
            turn.item_id = item
            if item:
                self._by_item[item] = turn
        turn.speech_started_rx = t
        start_ms = data.get("audio_start_ms")
        if start_ms is not None:
            sample = self.clock.sample_of(start_ms)
            turn.speech_start = sample / (self.clock.rate or 24_000)
            turn.speech_start_t = self.clock.to_monotonic(sample)
        self._current_speech = turn
        return turn

    def _speech_stopped(self, t: float, data: Mapping[str, Any]) -> Turn | None:
        turn = self._find_item(data.get("item_id")) or self._current_speech
        if turn is None:
            return None
        turn.speech_stopped_rx = t
        end_ms = data.get("audio_end_ms")
        if end_ms is not None:
            sample = self.clock.sample_of(end_ms)
            turn.speech_end = sample / (self.clock.rate or 24_000)
            turn.speech_end_t = self.clock.to_monotonic(sample)
        if self._current_speech is turn:
            self._current_speech = None
        return turn

    def _committed(self, t: float, data: Mapping[str, Any]) -> Turn:
        item = data.get("item_id")
        turn = self._find_item(item)
        if turn is None:  # manual commit (turn_detection None) or a missed speech_started
            turn = self._new_turn("commit")
            turn.item_id = item
            if item:
                self._by_item[item] = turn
        turn.committed_rx = t
        self._awaiting = turn
        self._tool_turn = None  # the user spoke again: the next response is this turn's
        return turn

    def _user_transcript(self, t: float, data: Mapping[str, Any]) -> Turn | None:
        turn = self._find_item(data.get("item_id"))
        if turn is not None:
            turn.user_transcript = data.get("transcript")
        return turn

    def _response_created(self, t: float, data: Mapping[str, Any]) -> Turn:
        response = data.get("response") or {}
        rid = response.get("id") if isinstance(response, Mapping) else None
        turn = self._awaiting
        self._awaiting = None
        if turn is None and self._tool_turn is not None:  # the answer that uses tool outputs
            turn, self._tool_turn = self._tool_turn, None
            turn.response_id = None
        if turn is None or turn.response_id is not None:
            turn = self._new_turn("text")
        turn.response_id = rid
        turn.response_created_rx = t
        turn.status = "in_progress"
        if rid:
            self._by_response[rid] = turn
        return turn

    def _audio_delta(self, t: float, data: Mapping[str, Any]) -> Turn | None:
        turn = self._find_response(data.get("response_id"))
        if turn is None:
            return None
        if turn.tool_done_rx is not None and turn.tool_audio_rx is None and t >= turn.tool_done_rx:
            turn.tool_audio_rx = t
        if turn.first_delta_rx is None:
            turn.first_delta_rx = t
            return turn
        return None

    def _transcript_delta(self, t: float, data: Mapping[str, Any]) -> None:
        turn = self._find_response(data.get("response_id"))
        if turn is not None and turn.assistant_transcript is None:
            turn._transcript_parts.append(str(data.get("delta") or ""))
        return None

    def _transcript_done(self, t: float, data: Mapping[str, Any]) -> Turn | None:
        turn = self._find_response(data.get("response_id"))
        if turn is not None:
            turn.assistant_transcript = data.get("transcript")
            turn._transcript_parts.clear()
        return turn

    def _audio_done(self, t: float, data: Mapping[str, Any]) -> Turn | None:
        turn = self._find_response(data.get("response_id"))
        if turn is not None:
            turn.audio_done_rx = t
        return turn

    def _response_done(self, t: float, data: Mapping[str, Any]) -> Turn | None:
        response = data.get("response") or {}
        if not isinstance(response, Mapping):
            return None
        turn = self._find_response(response.get("id"))
        if turn is None:
            return None
        turn.response_done_rx = t
        turn.status = response.get("status")
        output = response.get("output") or []
        if any(isinstance(o, Mapping) and o.get("type") == "mcp_approval_request" for o in output):
            self._tool_turn = turn  # the approval's answer starts the response that goes on
        if turn.status == "cancelled":
            turn.interrupted = True
        if turn.assistant_transcript is None and turn._transcript_parts:
            turn.assistant_transcript = "".join(turn._transcript_parts)
            turn._transcript_parts.clear()
        return turn

    def _playback_started(self, t: float, data: Mapping[str, Any]) -> Turn | None:
        turn = self._find_response(data.get("response_id"))
        if turn is not None and turn.first_played is None:
            turn.first_played = t
            latency = data.get("output_latency_s")
            turn.output_latency_s = float(latency) if latency is not None else self._default_latency
        return turn

    def _playback_stopped(self, t: float, data: Mapping[str, Any]) -> Turn | None:
        turn = self._find_response(data.get("response_id"))
        if turn is not None:
            turn.last_played = t
            if data.get("played_ms") is not None:
                turn.played_ms = float(data["played_ms"])
        return turn

    def _playback_flushed(self, t: float, data: Mapping[str, Any]) -> Turn | None:
        turn = self._find_response(data.get("response_id"))
        if turn is None:
            return None
        turn.interrupted = True
        if data.get("played_ms") is not None:
            turn.played_ms = float(data["played_ms"])
        stale_ms = float(data.get("stale_ms") or 0.0)
        turn.last_played = t + stale_ms / 1000.0
        if data.get("reason", "speech_started") == "speech_started":
            started = self._last_speech_started_rx
            if started is not None and started <= t:
                turn.barge_in_rx = started
                turn.barge_in_stale_ms = (t - started) * 1000.0 + stale_ms
        return turn

    def _tool_call(self, t: float, data: Mapping[str, Any]) -> Turn | None:
        turn = self._find_response(data.get("response_id"))
        if turn is not None:
            turn.tool_calls.append(str(data.get("name")))
            if turn.tool_start_rx is None:
                turn.tool_start_rx = t
        return turn

    def _tool_result(self, t: float, data: Mapping[str, Any]) -> Turn | None:
        turn = self._find_response(data.get("response_id"))
        if turn is not None:
            turn.tool_done_rx = t if turn.tool_done_rx is None else max(t, turn.tool_done_rx)
            turn.tool_errors += not data.get("ok", False)
            turn.tool_audio_rx = None
            self._tool_turn = turn
        return turn

    def _output_item(self, t: float, data: Mapping[str, Any]) -> Turn | None:
        item = data.get("item")
        if not isinstance(item, Mapping) or item.get("type") != "mcp_call":
            return None
        turn = self._find_response(data.get("response_id"))
        if turn is not None and item.get("id"):
            self._mcp_items[str(item["id"])] = turn
            turn.tool_calls.append(str(item.get("name")))
        return turn

    def _mcp_started(self, t: float, data: Mapping[str, Any]) -> Turn | None:
        turn = self._mcp_items.get(str(data.get("item_id")))
        if turn is not None and turn.tool_start_rx is None:
            turn.tool_start_rx = t
        return turn

    def _mcp_done(self, t: float, data: Mapping[str, Any]) -> Turn | None:
        turn = self._mcp_items.pop(str(data.get("item_id")), None)
        if turn is not None:
            turn.tool_done_rx = t
            turn.tool_audio_rx = None
        return turn

    def _find_item(self, item: Any) -> Turn | None:
        return self._by_item.get(item) if item else None

    def _find_response(self, rid: Any) -> Turn | None:
        return self._by_response.get(rid) if rid else None
