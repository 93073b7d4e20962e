"""Timestamped event records and a thread-safe fan-out to observers.

Every thing that happens in a session -- each server event, each client event we send,
and local marks such as mic audio blocks, playback start/stop and barge-in flushes --
becomes one immutable :class:`EventRecord`.  Records are stamped on one monotonic
clock (:func:`time.monotonic`), so latencies can be computed by subtracting them,
and carry the wall clock too, for humans.

Observers subscribe to an :class:`EventBus`.  Publishing never blocks the publisher:
records go into a bounded queue that a dedicated dispatcher thread drains, so a slow
observer (a plot, a widget) can never stall the audio or the socket.  When the queue
is full the *newest* record is dropped and counted (``EventBus.dropped``).

Record kinds and types (the contract between the session, metrics, recorder, panel):

``kind="server"``
    ``type`` is the server event type (``"input_audio_buffer.speech_started"`` ...);
    ``data`` is the event's JSON dict.  For ``response.audio.delta`` the base64
    ``delta`` is removed from ``data`` (``data["delta_bytes"]`` holds its decoded
    length) and the decoded PCM16 bytes are in :attr:`EventRecord.audio`.
``kind="client"``
    ``type`` is the client event type we sent (``session.update``,
    ``conversation.item.truncate``, ``response.cancel`` ...), ``data`` its JSON dict.
    ``input_audio_buffer.append`` is *not* recorded per block: see ``mic.audio``.
``kind="local"`` -- see :class:`Local` for the type names and their ``data`` fields.

Secrets never enter a record: the session strips credentials before publishing.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

log = logging.getLogger(__name__)

Kind = Literal["server", "client", "local"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class Local:
    """Type names of local (client-side) marks and the ``data`` fields each carries."""

    MIC_AUDIO = "mic.audio"
    """One block of mic audio appended to the input buffer.  ``audio``: PCM16 mono at
    ``data["rate"]``; ``data``: ``samples``, ``rate``, ``rms_db``, ``peak_db``,
    ``offset`` (samples sent before this block, the input-audio timeline),
    ``connection_offset`` (the offset where the current connection's audio began: the
    server's 0 ms), ``captured_t`` (monotonic capture time of the first sample), ``muted``."""

    SPEAKER_AUDIO = "speaker.audio"
    """Audio handed to the output device.  ``t`` = when its first sample is heard
    (the sink's DAC time; see :mod:`voicelive_nb.session.pump`); ``audio``: PCM16 mono;
    ``data``: ``samples``, ``rate``, ``rms_db``, ``peak_db``, ``response_id``,
    ``item_id``, ``offset`` (position in the item's audio; silence is never published)."""

    PLAYBACK_STARTED = "playback.started"
    """First sample of a response handed to the device; ``t`` = when it is heard.
    ``data``: ``response_id``, ``item_id``, ``output_latency_s`` (delay still to add to
    ``t`` to get the heard time: 0.0 from the session, whose ``t`` already includes it),
    ``device_latency_s`` (the stream's reported output latency, for display)."""

    PLAYBACK_STOPPED = "playback.stopped"
    """The last queued sample of a response was played.  ``data``: ``response_id``,
    ``item_id``, ``played_ms``."""

    PLAYBACK_FLUSHED = "playback.flushed"
    """Barge-in or cancel dropped queued audio.  ``data``: ``response_id``, ``item_id``,
    ``played_ms`` (audio of the item actually played), ``dropped_ms`` (queued audio
    discarded), ``stale_ms`` (audio still heard after the flush was requested: the
    rest of the block in flight plus the device buffer), ``reason`` (``"speech_started"`` | ``"cancel"``)."""

    CONNECTION = "connection.state"
    """``data``: ``state`` (``connecting`` | ``connected`` | ``reconnecting`` |
    ``closed`` | ``failed``), ``endpoint`` (no secrets), ``attempt``, ``detail``,
    ``emulator`` (True when the endpoint is the session's own embedded emulator: nothing configured)."""

    SESSION_INFO = "session.info"
    """Once per start: ``data``: ``config`` (the session config dict, secrets removed),
    ``mic``, ``speaker`` (device descriptions), ``input_rate``, ``output_rate``,
    ``versions``."""

    COUNTERS = "audio.counters"
    """Periodic (about 1 Hz): ``input_overflows``, ``output_underflows``,
    ``dropped_blocks``, ``queue_depth_ms``, ``bus_dropped``."""

    ECHO = "audio.echo"
    """About twice a second while the speaker plays (and for its echo tail), from a session
    whose sound-device mic and speaker are a pair (:mod:`voicelive_nb.session.echo`):
    ``erl_db`` (echo return loss: speaker level over mic level, what the room removed; low
    means a loud echo), ``erle_db`` (echo return loss enhancement: what the local canceller
    removed; None while it is off), ``frames`` (10 ms frames measured), ``enabled`` (the local
    canceller is on).  While the user talks over the assistant both read low."""

    COMMAND = "command.result"
    """Outcome of a command such as ``update_vad``: ``command``, ``id`` (the command's id, as on
    the Future it returned), ``ok``, ``detail``; published once per command, when the server's
    answer to exactly that command arrived (or it failed)."""

    ERROR = "local.error"
    """A problem on the client side, in plain words: ``message``, ``where``."""

    TOOL_CALL = "tool.call"
    """The model called a function; ``t`` = when its arguments were complete (the server's
    ``response.function_call_arguments.done`` received).  ``data``: ``call_id``, ``name``,
    ``arguments`` (JSON text), ``response_id``, ``item_id``, ``kind`` (``"function"``)."""

    TOOL_RESULT = "tool.result"
    """A function call was answered; ``t`` = when its ``function_call_output`` was sent.
    ``data``: ``call_id``, ``name``, ``response_id``, ``item_id``, ``status`` (``ok`` |
    ``error`` | ``invalid`` | ``timeout`` | ``unknown`` | ``disabled``), ``ok``, ``output``
    (the text sent, cut at 4000 characters), ``error``, ``duration_ms`` (the function's own
    run), ``overhead_ms`` (arguments received -> output sent, less the function's run: the
    client's cost), ``args_done_t``, ``started_t``, ``finished_t`` (monotonic), ``sent``,
    ``source`` (``function``: run here; ``recording``: a replay answered it from the recorded
    call, whose status, output and error it repeats) and, for ``recording``, ``origin``
    (``call_id`` of the recorded call, ``matched``: ``arguments`` | ``order`` | ``repeat``)."""

    TOOL_APPROVAL = "tool.approval"
    """An MCP approval request was answered: ``approval_request_id``, ``server_label``,
    ``name``, ``arguments``, ``approve``, ``by`` (``"user"`` | ``"auto"`` | ``"callback"``)."""


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One immutable, timestamped thing that happened in a session.

    Attributes:
        t: :func:`time.monotonic` seconds when it happened (received, sent, played).
        wall: :func:`time.time` seconds, for display and for files.
        kind: ``"server"``, ``"client"`` or ``"local"``.
        type: The event type, e.g. ``"response.done"`` or ``Local.MIC_AUDIO``.
        data: The event's fields (read-only mapping; JSON-compatible values).
        audio: PCM16 little-endian mono bytes for audio-carrying records, else None.
    """

    t: float
    wall: float
    kind: Kind
    type: str
    data: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    audio: bytes | None = None

    @classmethod
    def now(
        cls,
        kind: Kind,
        type: str,
        data: Mapping[str, Any] | None = None,
        audio: bytes | None = None,
        t: float | None = None,
    ) -> EventRecord:
        """Make a record stamped with the current clocks (or monotonic time ``t``)."""
        mono = time.monotonic()
        when = mono if t is None else t
        wall = time.time() - (mono - when)
        frozen = _EMPTY if not data else MappingProxyType(dict(data))
        return cls(when, wall, kind, type, frozen, audio)

    def get(self, key: str, default: Any = None) -> Any:
        """Shortcut for ``record.data.get(key, default)``."""
        return self.data.get(key, default)


Observer = Callable[[EventRecord], None]


class EventBus:
    """Fan records out to observers on a dedicated dispatcher thread.

    ``publish`` is safe from any thread (but not from an audio callback: it may
    allocate) and never blocks.  Observers are called in subscription order on
    the dispatcher thread; an observer that raises is logged and kept.

    Args:
        maxsize: Records held before new ones are dropped (and counted).
        name: Thread name, for debugging.
    """

    def __init__(self, maxsize: int = 10_000, name: str = "voicelive-events") -> None:
        self._queue: queue.Queue[EventRecord | None] = queue.Queue(maxsize)
        self._observers: list[Observer] = []
        self._lock = threading.Lock()
        self._name = name
        self._thread: threading.Thread | None = None
        self.dropped = 0
        """Records dropped because the queue was full."""
        self.errors = 0
        """Exceptions raised by observers (each is logged)."""

    def subscribe(self, observer: Observer) -> Callable[[], None]:
        """Call ``observer(record)`` for every record published from now on.

        Returns a function that unsubscribes it.
        """
        with self._lock:
            self._observers = [*self._observers, observer]

        def unsubscribe() -> None:
            with self._lock:
                self._observers = [o for o in self._observers if o is not observer]

        return unsubscribe

    def publish(self, record: EventRecord) -> None:
        """Queue ``record`` for the observers; drop it (and count) if the queue is full."""
        self._ensure_thread()
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1

    @property
    def depth(self) -> int:
        """Records waiting to be dispatched."""
        return self._queue.qsize()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every record published so far was dispatched. True if it was."""
        if self._thread is None:
            return True
        done = threading.Event()
        marker = EventRecord.now("local", "_bus.flush", {"_event": done})
        try:
            self._queue.put(marker, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Dispatch what is queued, then stop the dispatcher thread."""
        thread = self._thread
        if thread is None:
            return
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout)
        thread.join(timeout)
        self._thread = None

    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            record = self._queue.get()
            if record is None:
                return
            if record.type == "_bus.flush":
                record.data["_event"].set()
                continue
            for observer in self._observers:
                try:
                    observer(record)
                except Exception:  # an observer must never kill the dispatcher
                    self.errors += 1
                    log.exception("event observer %r failed on %s", observer, record.type)
