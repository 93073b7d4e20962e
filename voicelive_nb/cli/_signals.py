"""Stopping a foreground command on SIGINT (Ctrl+C) and SIGTERM, whatever signal state it inherited."""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any

__all__ = ["StopSignals"]


class StopSignals:
    """While entered, SIGINT and SIGTERM set :attr:`requested` (and ``also``, if given).

    Python installs its KeyboardInterrupt handler only when SIGINT starts out at its default;
    a background job of a non-interactive shell (``voicelive-nb talk &`` in a script) starts
    with SIGINT ignored, and a parent may leave signals blocked.  So both signals get an
    explicit handler and are unblocked; the previous handlers come back on exit.

    Args:
        also: Another event to set on the first signal (e.g. the one the command waits on).
        force_after: The signal count that leaves at once (``os._exit``) instead of waiting
            for the clean stop; 2 = a second Ctrl+C.
        notice: Printed to stderr on each signal before the forced one (e.g. "closing the
            recording ..."), so a user pressing Ctrl+C again knows what it waits for.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, also: threading.Event | None = None, *, force_after: int = 2, notice: str = "") -> None:
        self.requested = threading.Event()
        self.count = 0
        self._also = also
        self._force_after = force_after
        self._notice = notice
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        if hasattr(signal, "pthread_sigmask"):  # not on Windows
            signal.pthread_sigmask(signal.SIG_UNBLOCK, self.SIGNALS)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)

    def _handle(self, signum: int, _frame: object) -> None:
        self.count += 1
        if self.count >= self._force_after:  # the user insists: don't wait for the clean stop
            os._exit(128 + signum)
        if self._notice:
            left = self._force_after - self.count
            print(f"{self._notice} (signal {left} more time(s) to leave at once)", file=sys.stderr, flush=True)
        self.requested.set()
        if self._also is not None:
            self._also.set()
