"""The observers a session keeps on its bus: a turn tracker per run, and the recorder.

:class:`SessionObservers` subscribes a fresh :class:`~voicelive_nb.metrics.TurnTracker` at each
start and the :class:`~voicelive_nb.recording.Recorder` of ``record=`` (or of
:meth:`VoiceSession.record <voicelive_nb.session.VoiceSession.record>`, from that moment on),
with the API key kept out of its files; at the end of a run it flushes the bus, finalises
the recording and closes the bus.  The tracker and the recorder stay readable after the run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from voicelive_nb.connection import ConnectionSettings, Secret
from voicelive_nb.events import EventBus, EventRecord

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.config import SessionConfig
    from voicelive_nb.metrics import TurnTracker
    from voicelive_nb.recording.recorder import Recorder

__all__ = ["BUS_THREAD", "SessionObservers"]

BUS_THREAD = "voicelive-events"
"""The name of a session's event-bus thread (its observers run there)."""


class SessionObservers:
    """The tracker and the recorder on a session's ``bus``.

    Args:
        bus: The session's event bus (closed by :meth:`finish`).
        connection: The session's connection settings, if given: its API key is scrubbed
            from recordings.
    """

    def __init__(self, bus: EventBus, connection: ConnectionSettings | None) -> None:
        self._bus = bus
        self._connection = connection
        self.recorder: Recorder | None = None
        """The recorder of the current (or last) run."""
        self.tracker: TurnTracker | None = None
        """The turn tracker of the current (or last) run."""
        self._recorder_unsub: Callable[[], None] | None = None
        self._tracker_unsub: Callable[[], None] | None = None

    def attach(self, config: SessionConfig, record: Path | None) -> None:
        """A run starts: a new tracker, and a recorder into ``record`` unless one is running."""
        try:
            from voicelive_nb.metrics import TurnTracker
        except ImportError:  # pragma: no cover - metrics is part of the package
            self.tracker = None
        else:
            tracker = TurnTracker()
            self.tracker = tracker

            def feed(record: EventRecord) -> None:
                tracker.feed(record)

            unsub_tracker = self._bus.subscribe(feed)
        current = self.recorder
        if current is None or current.closed:  # (one started with record() before start() goes on)
            self.recorder = None
            if record is not None:
                self.start_recorder(record, config)

        def unsubscribe() -> None:
            if self.tracker is not None:
                unsub_tracker()

        self._tracker_unsub = unsubscribe

    def start_recorder(self, folder: str | Path, config: SessionConfig) -> Recorder:
        """The one way a recorder is made: the session's records, the API key kept out."""
        from voicelive_nb.recording.recorder import Recorder

        key = self._connection.api_key if self._connection is not None else None
        secrets = [key.reveal()] if isinstance(key, Secret) else []
        recorder = Recorder(folder, config=config.to_dict(), secrets=secrets)
        self.recorder = recorder
        self._recorder_unsub = self._bus.subscribe(recorder)
        return recorder

    def close_recorder(self) -> Recorder | None:
        """Unsubscribe and finalise the recorder (if any); returns it."""
        recorder, self.recorder = self.recorder, None
        unsub, self._recorder_unsub = self._recorder_unsub, None
        if unsub is not None:
            unsub()
        if recorder is not None:
            recorder.close()
        return recorder

    def record(self, folder: str | Path | None, config: SessionConfig) -> Recorder | None:
        """Start recording into ``folder`` now, or with None stop and finalise the recording
        (see :meth:`VoiceSession.record <voicelive_nb.session.VoiceSession.record>`)."""
        if folder is None:
            if threading.current_thread().name != BUS_THREAD:
                self._bus.flush(2.0)  # the records already published belong in the recording
            return self.close_recorder()
        current = self.recorder
        if current is not None and not current.closed:
            raise RuntimeError(f"already recording to {current.folder}; call record(None) first")
        return self.start_recorder(folder, config)

    def finish(self) -> None:
        """A run ended: deliver what is on the bus, unsubscribe the tracker, finalise the
        recording (still readable as :attr:`recorder`), close the bus."""
        if threading.current_thread().name != BUS_THREAD:
            self._bus.flush()
        if self._tracker_unsub is not None:
            self._tracker_unsub()
            self._tracker_unsub = None
        recorder = self.recorder
        self.close_recorder()
        self.recorder = recorder  # still readable after the run (``session.recorder``)
        if threading.current_thread().name != BUS_THREAD:
            self._bus.close()
