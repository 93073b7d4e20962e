"""start_eagerly: a coroutine run inline until it first waits, then carried on by a task."""

from __future__ import annotations

import asyncio

import pytest

from voicelive_nb.session.eager import start_eagerly


def test_a_coroutine_that_never_waits_runs_inline() -> None:
    done: list[str] = []

    async def work() -> None:
        done.append("ran")

    async def main() -> None:
        assert start_eagerly(work()) is None
        assert done == ["ran"]  # before any loop round

    asyncio.run(main())


def test_an_error_before_the_first_wait_is_raised_at_once() -> None:
    async def broken() -> None:
        raise ValueError("socket closed")

    async def main() -> None:
        with pytest.raises(ValueError, match="socket closed"):
            start_eagerly(broken())

    asyncio.run(main())


def test_a_coroutine_that_waits_is_carried_on_by_a_task() -> None:
    steps: list[object] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        gate: asyncio.Future[int] = loop.create_future()
        failing: asyncio.Future[int] = loop.create_future()

        async def work() -> str:
            steps.append("wrote")
            steps.append(await gate)  # a future's result comes through
            await asyncio.sleep(0)  # a bare yield too
            try:
                await failing
            except KeyError as exc:  # and a future's exception
                steps.append(repr(exc))
            return "sent"

        task = start_eagerly(work())
        assert task is not None and steps == ["wrote"]
        await asyncio.sleep(0.01)
        assert not task.done() and steps == ["wrote"]  # still waiting on the gate
        gate.set_result(7)
        loop.call_later(0.01, failing.set_exception, KeyError("late"))
        assert await asyncio.wait_for(task, 5) == "sent"
        assert steps == ["wrote", 7, "KeyError('late')"]

    asyncio.run(main())


def test_cancelling_the_task_cancels_the_coroutine_where_it_waits() -> None:
    seen: list[str] = []

    async def main() -> None:
        async def work() -> None:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                seen.append("cancelled inside")
                raise
            finally:
                seen.append("cleaned up")

        task = start_eagerly(work())
        assert task is not None
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()

    asyncio.run(main())
    assert seen == ["cancelled inside", "cleaned up"]
