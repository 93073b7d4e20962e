"""The records a session keeps for look-backs, and the wait for one: :class:`RecordHistory`.

:meth:`~voicelive_nb.session.VoiceSession.wait_for` blocks the caller's thread on this history
(fed on the bus thread), so a record that came a moment before the call is still found with
``since=``.  The failure it raises, :class:`SessionFailedError`, is the one the history saw:
the ``failed`` record itself, not the engine's state (which is set a moment earlier).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from voicelive_nb.events import EventRecord, Local

__all__ = ["RecordHistory", "SessionFailedError"]


class SessionFailedError(ConnectionError):
    """The session gave up (unreachable endpoint, refused key, no speaker ...); the message says why."""


class RecordHistory:
    """The latest ``maxlen`` records of a session (a bus observer), and waiting for one.

    Args:
        maxlen: Records kept.
        state: The session's state, for the message of a timeout.
        failure: The session's failure in plain words (used when a ``failed`` record has no detail).
    """

    def __init__(self, maxlen: int, *, state: Callable[[], str], failure: Callable[[], str | None]) -> None:
        self._state = state
        self._failure = failure
        self._cond = threading.Condition()
        self._history: deque[tuple[int, EventRecord]] = deque(maxlen=maxlen)
        self._seq = 0
        self._failed: str | None = None  # the cause in the latest ``failed`` record this session saw

    def observe(self, record: EventRecord) -> None:
        """Keep ``record`` (the bus thread calls this) and wake the waiters."""
        with self._cond:
            self._seq += 1
            self._history.append((self._seq, record))
            if record.type == Local.CONNECTION and record.get("state") == "failed":
                self._failed = record.get("detail") or self._failure() or "the session failed"
            self._cond.notify_all()

    def clear_failure(self) -> None:
        """A new start: the failure of an earlier run no longer counts."""
        with self._cond:
            self._failed = None

    def wait_for(
        self,
        type: str,
        timeout: float = 30.0,
        predicate: Callable[[EventRecord], bool] | None = None,
        *,
        since: float | None = None,
    ) -> EventRecord:
        """Block the caller until a record of ``type`` (matching ``predicate``) is kept.

        See :meth:`VoiceSession.wait_for <voicelive_nb.session.VoiceSession.wait_for>`.
        """
        now = time.monotonic()
        deadline = now + timeout
        after = now if since is None else since

        def match(record: EventRecord) -> bool:
            return record.t >= after and record.type == type and (predicate is None or predicate(record))

        with self._cond:
            seen = 0
            while True:
                fresh = []
                for seq, record in reversed(self._history):  # only what arrived since the last look
                    if seq <= seen:
                        break
                    fresh.append(record)
                for record in reversed(fresh):
                    if match(record):
                        return record
                seen = self._seq
                # the failure as the history saw it, not the engine's state: the engine sets its
                # state a moment before its ``failed`` record arrives here, and a caller waiting
                # for that very record must get it, not an error, every time
                if self._failed is not None:
                    raise SessionFailedError(self._failed)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no {type!r} record within {timeout:g} s (state: {self._state()})")
                self._cond.wait(remaining)

    def records(self, type: str | None = None) -> list[EventRecord]:
        """Records still in the history (optionally of one type), oldest first."""
        with self._cond:
            return [r for _, r in self._history if type is None or r.type == type]
