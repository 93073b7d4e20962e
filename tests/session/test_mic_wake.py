"""How the session loop hears about mic blocks: a watched pipe, or polling where it cannot watch."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np
import pytest

from voicelive_nb.audio.player import Player
from voicelive_nb.audio.wav import CaptureSpeaker, WavMic
from voicelive_nb.events import EventRecord
from voicelive_nb.session.pump import AudioPump


class PipeMic(WavMic):
    """A WAV mic that also offers ``wake_fileno`` (as DeviceMic does): a byte per block."""

    def __init__(self) -> None:
        super().__init__(np.zeros(24000, dtype=np.int16), realtime=False, tail_silence_s=0.0)
        self.rfd, self.wfd = os.pipe()
        os.set_blocking(self.rfd, False)
        self.started_with: Any = "not started"

    def start(self, notify: Any = None) -> None:
        self.started_with = notify
        super().start(notify)

    def wake_fileno(self) -> int:
        return self.rfd

    def close_pipe(self) -> None:
        os.close(self.rfd)
        os.close(self.wfd)


Body = Callable[[AudioPump, PipeMic], Coroutine[Any, Any, None]]


def run_pump(body: Body, loop: asyncio.AbstractEventLoop | None = None, watch_s: float = 0.1) -> list[EventRecord]:
    """Run ``body(pump, mic)`` with a PipeMic pump whose task runs (as the session engine
    runs it) on ``loop``; the task is cancelled and the mic closed after.  Returns the records."""
    mic = PipeMic()
    records: list[EventRecord] = []
    pump = AudioPump(source=mic, sink=CaptureSpeaker(), player=Player(), publish=records.append)
    pump.watch_s = watch_s

    async def main() -> None:
        task = asyncio.create_task(pump.run())
        try:
            await body(pump, mic)
        finally:
            pump.unwatch_mic()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            assert task.cancelled()

    loop = loop or asyncio.new_event_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
        mic.stop()
        mic.close_pipe()
    return records


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Let the loop run until ``condition()``; fail naming ``what`` after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out after {timeout} s waiting for {what}"
        await asyncio.sleep(0.005)


async def loop_turns(n: int = 20) -> None:
    """Let the loop go round ``n`` times (each turn polls the watched pipes without waiting)."""
    for _ in range(n):
        await asyncio.sleep(0)


def test_a_watched_pipe_wakes_the_pump() -> None:
    async def body(pump: AudioPump, mic: PipeMic) -> None:
        await wait_until(lambda: pump._pumped_t > 0, "the timer's first round")  # the mic has not started
        pump.start_mic()
        assert mic.started_with is None, "a mic with wake_fileno is started without notify"
        assert pump._mic_fd == mic.rfd and pump._mic_wakes
        await loop_turns()
        assert pump.dropped_blocks == 0  # the mic's blocks wait: nothing has woken the pump
        os.write(mic.wfd, b"\x01\x01\x01")
        await wait_until(lambda: pump.dropped_blocks > 0, "a round woken by the pipe")
        assert pump.dropped_blocks == 50  # one round drained the mic (no connection: skipped, counted)
        with pytest.raises(BlockingIOError):
            os.read(mic.rfd, 10)  # the pump read the pipe dry
        pump.unwatch_mic()
        assert pump._mic_fd == -1 and not pump._mic_wakes  # the timer polls from now on

    # the watchdog stays out of the way: only the pipe runs rounds
    records = run_pump(body, watch_s=30.0)
    assert not [r for r in records if r.type == "local.error"]


def test_a_stalled_mic_still_gets_rounds_from_the_watchdog() -> None:
    async def body(pump: AudioPump, mic: PipeMic) -> None:
        pump.start_mic()
        first = pump._pumped_t
        # the pipe stays silent: the watchdog runs rounds (marks, counters, stall checks) ...
        await wait_until(lambda: pump._pumped_t > first, "a round from the watchdog")
        await wait_until(lambda: pump.dropped_blocks == 50, "the watchdog's rounds to drain the mic")

    run_pump(body)


class NoReaderLoop(asyncio.SelectorEventLoop):
    """An event loop that cannot watch file descriptors (like Windows' proactor loop)."""

    def add_reader(self, *args: Any) -> None:
        raise NotImplementedError


def test_a_loop_without_add_reader_polls_instead_of_failing_the_mic() -> None:
    async def body(pump: AudioPump, mic: PipeMic) -> None:
        pump.start_mic()
        assert pump.mic_started
        assert pump._mic_fd == -1
        assert not pump._mic_wakes  # nothing wakes the pump: its timer polls every poll_s
        await wait_until(lambda: pump.dropped_blocks == 50, "the polls to drain the mic")

    records = run_pump(body, NoReaderLoop())
    assert not [r for r in records if "error" in r.type], [r.data for r in records]
