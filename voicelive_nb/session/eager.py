"""Run a coroutine eagerly: right away, inline, until it first has to wait.

Sending a mic block on the SDK's aiohttp socket is a coroutine, but it almost never waits:
``send_str`` writes the frame to the transport and only awaits when the socket pushes back
(more than its write limit is buffered).  Run inline from the loop callback that noticed the
block, it costs no task and no extra loop round -- what Python 3.12's eager tasks do, for 3.11.

Example::

    task = start_eagerly(ws.send_str(text))   # the frame is written when this returns
    if task is not None:                      # the socket pushed back: it carries on in a task
        task.add_done_callback(on_sent)
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

__all__ = ["start_eagerly"]

T = TypeVar("T")


def start_eagerly(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T] | None:
    """Run ``coro`` now, up to its first suspension, on the running loop's thread.

    Returns None if it finished without waiting (an exception it raised propagates from
    here), else a task that carries it on from where it stopped, exactly as if it had been
    a task from the start: it resumes when what it waits for is done, and cancelling the task
    raises ``CancelledError`` at that await inside ``coro``.
    """
    try:
        waiting_on = coro.send(None)
    except StopIteration:  # finished (its result is not needed here)
        return None
    return asyncio.get_running_loop().create_task(_carry_on(coro, waiting_on))


async def _carry_on(coro: Coroutine[Any, Any, T], waiting_on: Any) -> T:
    result: T = await _Started(coro, waiting_on)  # what ``coro`` returns
    return result


class _Started:
    """An awaitable for a coroutine that already ran up to a suspension (it yielded ``waiting_on``).

    Awaited by a task, it hands the task what the coroutine waits on (a future, or None for a
    bare yield), then passes whatever the task sends or throws back into the coroutine -- the
    protocol a task speaks with any coroutine, picked up in the middle.
    """

    __slots__ = ("_coro", "_waiting_on")

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting_on: Any) -> None:
        self._coro = coro
        self._waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, waiting_on = self._coro, self._waiting_on
        while True:
            try:
                sent = yield waiting_on
            except GeneratorExit:  # the task was destroyed unfinished: close the coroutine too
                coro.close()
                raise
            except BaseException as exc:  # thrown in by the task (cancel): into the coroutine
                try:
                    waiting_on = coro.throw(exc)
                except StopIteration as done:
                    return done.value
                continue
            try:
                waiting_on = coro.send(sent)
            except StopIteration as done:
                return done.value
