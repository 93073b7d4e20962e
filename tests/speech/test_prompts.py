"""The prompt mic (spoken demo prompts)."""

from __future__ import annotations

import time

import numpy as np
import pytest


def test_prompt_mic_delivers_clip_then_silence_then_finishes() -> None:
    from voicelive_nb.speech.prompts import PromptMic

    mic = PromptMic(tail_s=0.1)
    mic.say(np.full(960, 1000, dtype=np.int16))
    blocks = [mic._next_block() for _ in range(3)]
    assert [int(b.max()) for b in blocks] == [1000, 1000, 0]
    mic.close()
    for _ in range(5):
        mic._next_block()
    assert mic.finished
    with pytest.raises(RuntimeError, match="after close"):
        mic.say(np.zeros(10, dtype=np.int16))


def test_prompt_mic_stays_finished_while_running() -> None:
    """Once finished, it stops producing blocks: `finished` does not flicker back to False."""
    from voicelive_nb.speech.prompts import PromptMic

    mic = PromptMic(tail_s=0.1)
    mic.start()
    try:
        mic.say(np.full(2400, 1000, dtype=np.int16))
        mic.close()
        deadline = time.monotonic() + 10
        while not mic.finished:
            mic.read()
            assert time.monotonic() < deadline, "PromptMic never finished"
            time.sleep(0.005)
        until = time.monotonic() + 0.3  # 15 block periods: the pacing thread would have added blocks
        while time.monotonic() < until:
            assert mic.finished and mic.read() is None
            time.sleep(0.01)
    finally:
        mic.stop()
