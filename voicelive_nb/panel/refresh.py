"""The one place that pushes panel state into widgets: throttled, on the kernel's own loop.

Updating widgets from background threads has been fragile across ipykernel releases,
so nothing here runs on the session's or the event bus's threads.  :class:`Refresher`
runs ``refresh()`` as an asyncio task on the loop that is running when it starts (in
Jupyter: the kernel's), sleeps between calls, and offers two helpers: :meth:`set`
(assign a trait only when it changes: every assignment is a comm message) and
:meth:`off_loop` (do slow work, e.g. rasterise a chart, in a worker thread and deliver
the result back on the loop).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["Refresher"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class Refresher:
    """Call ``refresh()`` every ``period`` seconds (``idle_period`` while ``busy()`` is False).

    Args:
        refresh: Pushes one snapshot into the widgets.
        period: Seconds between refreshes while ``busy()`` (e.g. 0.05 = 20 Hz).
        idle_period: Seconds between refreshes otherwise.
        busy: True while there is something live to show (a connected session).
    """

    def __init__(
        self,
        refresh: Callable[[], Any],
        period: float,
        idle_period: float = 0.25,
        busy: Callable[[], bool] = lambda: True,
    ) -> None:
        self._refresh = refresh
        self.period = period
        self.idle_period = idle_period
        self._busy = busy
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.updates = 0
        """Trait assignments made through :meth:`set` (each is one comm message)."""

    def ensure_running(self) -> bool:
        """Start the task on the running loop; False when there is none (a plain script)."""
        if self._closed:
            return False
        if self._task is not None and not self._task.done():
            return True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        self._task = loop.create_task(self._run())
        return True

    def close(self) -> None:
        """Stop refreshing (idempotent)."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            self._task = None

    @property
    def running(self) -> bool:
        """True while the refresh task is alive."""
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        while not self._closed:
            try:
                self._refresh()
            except Exception:  # a display bug must not kill the loop silently
                log.exception("panel refresh failed")
                await asyncio.sleep(1.0)
                continue
            await asyncio.sleep(self.period if self._busy() else self.idle_period)

    def set(self, widget: Any, name: str, value: Any) -> None:
        """Assign ``widget.name = value`` only when it differs."""
        if getattr(widget, name) != value:
            setattr(widget, name, value)
            self.updates += 1

    def off_loop(self, work: Callable[[], T], deliver: Callable[[T], None]) -> asyncio.Future[T] | None:
        """Run ``work()`` in a worker thread, then ``deliver(result)`` on the loop.

        Without a running loop both run here and now (and None is returned).
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            deliver(work())
            return None
        job = loop.run_in_executor(None, work)

        def done(fut: asyncio.Future[T]) -> None:
            if fut.cancelled() or self._closed:
                return
            exc = fut.exception()
            if exc is not None:
                log.warning("panel background job failed: %r", exc)
                return
            deliver(fut.result())

        job.add_done_callback(done)
        return job
