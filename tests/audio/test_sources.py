"""The audio protocols: what the built-ins declare, and a bare-minimum source and sink in a pump."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from voicelive_nb.audio.player import Player
from voicelive_nb.audio.sources import (
    AudioSink,
    AudioSource,
    Described,
    DropsOnFlush,
    FiniteSource,
    InputStats,
    OutputStats,
    StartsOnQueue,
    WakeSource,
    description,
)
from voicelive_nb.audio.wav import CaptureSpeaker, WavMic
from voicelive_nb.events import EventRecord
from voicelive_nb.session.pump import AudioPump


def test_the_built_ins_declare_their_capabilities() -> None:
    mic = WavMic(np.zeros(2400, dtype=np.int16), realtime=False)
    speaker = CaptureSpeaker()
    assert isinstance(mic, AudioSource) and isinstance(speaker, AudioSink)
    for cap in (Described, InputStats, FiniteSource):
        assert isinstance(mic, cap), cap
    assert not isinstance(mic, WakeSource)  # a file has no pipe: it notifies
    for cap in (Described, OutputStats):
        assert isinstance(speaker, cap), cap
    assert not isinstance(speaker, StartsOnQueue | DropsOnFlush)  # nothing to drop in memory


class BareMic:
    """Only what an AudioSource must have."""

    rate = 24000
    blocksize = 480

    def __init__(self) -> None:
        self.blocks = [np.full(480, 100, dtype=np.int16) for _ in range(5)]

    def start(self, notify: Any = None) -> None:
        self.notify = notify

    def read(self) -> tuple[np.ndarray, float] | None:
        return (self.blocks.pop(0), 0.0) if self.blocks else None

    def stop(self) -> None:
        pass


class BareSpeaker:
    """Only what an AudioSink must have."""

    rate = 24000
    blocksize = 480

    def start(self, player: Player) -> None:
        pass

    def stop(self) -> None:
        pass


def test_a_bare_source_and_sink_run_in_a_pump_with_neutral_values() -> None:
    mic, speaker = BareMic(), BareSpeaker()
    assert isinstance(mic, AudioSource) and isinstance(speaker, AudioSink)
    assert not isinstance(mic, Described | InputStats | FiniteSource | WakeSource)
    assert description(mic) == "BareMic"
    records: list[EventRecord] = []
    pump = AudioPump(source=mic, sink=speaker, player=Player(), publish=records.append)

    async def main() -> None:
        task = asyncio.create_task(pump.run())
        pump.start_mic()
        assert mic.notify is not None  # no wake pipe: the pump asked to be notified
        deadline = asyncio.get_running_loop().time() + 10.0
        while pump.dropped_blocks < 5:  # no connection: each block is skipped and counted
            assert asyncio.get_running_loop().time() < deadline, "the pump never drained the bare mic"
            await asyncio.sleep(0.005)
        pump.publish_counters()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
    assert pump.counters["input_overflows"] == 0 and pump.counters["output_underflows"] == 0
    assert pump._device_latency() == 0.0
    assert not [r for r in records if r.type == "local.error"]
