"""VoiceSession on real sound devices: PortAudio streams on a private PulseAudio daemon.

Speech is played into the virtual mic with ``paplay``; what the session plays is recorded
from the virtual speaker's monitor with ``parec`` -- the same path a user's ears take.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.emulated import Responder
from voicelive_nb.connection import ConnectionSettings
from voicelive_nb.events import Local
from voicelive_nb.session import VoiceSession

from .conftest import clip

pytestmark = pytest.mark.pulse


def _loud_seconds(samples: np.ndarray, threshold: int = 300) -> float:
    return float((np.abs(samples.astype(np.int32)) > threshold).sum()) / 24000


def _streams(va: Any) -> tuple[int, int]:
    inputs = va.pactl("list", "short", "sink-inputs").strip().splitlines()
    outputs = va.pactl("list", "short", "source-outputs").strip().splitlines()
    return len(inputs), len(outputs)


def test_spoken_wav_into_virtual_mic_reply_heard_on_virtual_speaker(
    virtual_audio: Any, connection: ConnectionSettings, responder: Responder
) -> None:
    va = virtual_audio
    responder.reply = "Yes, I can hear you through the speaker."
    pcm, _ = clip(0.3, "Hello, can you hear me?", 0.5)
    session = VoiceSession(connection=connection, mic=va.input_device, speaker=va.output_device)
    with session, va.record_speaker() as heard:
        session.wait_for("session.updated", timeout=15, since=0)
        va.play_into_mic(pcm, wait=True)
        stopped = session.wait_for(Local.PLAYBACK_STOPPED, timeout=30, since=0)
        # (stopped.t is when the last sample is heard): the capture must have got that far
        assert heard.wait_until(stopped.t + 0.05), "the virtual speaker's capture fell behind"
        samples = heard.stop()
    started = session.wait_for("input_audio_buffer.speech_started", timeout=0.1, since=0)
    assert started.data["audio_start_ms"] >= 0
    assert _loud_seconds(samples) > 0.5 * stopped.data["played_ms"] / 1000
    started = session.wait_for(Local.PLAYBACK_STARTED, timeout=0.1, since=0)
    # How far ahead of the listener the device was writing: right after the adaptive
    # speaker's edge restart it holds almost nothing, so 0 is a valid reading.
    assert 0.0 <= started.data["device_latency_s"] < 0.5
    first_delta = session.wait_for("response.audio.delta", timeout=0.1, since=0)
    assert started.t > first_delta.t  # heard after it arrived (times are when heard)
    assert session.counters["input_overflows"] == 0
    (turn,) = session.tracker.turns  # type: ignore[union-attr]
    print(
        f"\ndevices: response {turn.response_latency_ms:.0f} ms, playout {turn.playout_ms:.0f} ms, "
        f"voice-to-voice {turn.voice_to_voice_ms:.0f} ms, "
        f"output latency {started.data['device_latency_s'] * 1000:.0f} ms"
    )


def test_barge_in_on_devices_stops_the_speaker(
    virtual_audio: Any, connection: ConnectionSettings, responder: Responder
) -> None:
    va = virtual_audio
    responder.reply = "Here is a long answer that goes on and on for quite a while. " * 5
    first, _ = clip(0.3, "Tell me everything.", 0.5)
    second, _ = clip("Stop please.", 0.8)
    session = VoiceSession(connection=connection, mic=va.input_device, speaker=va.output_device)
    with session, va.record_speaker() as heard:
        session.wait_for("session.updated", timeout=15, since=0)
        va.play_into_mic(first, wait=True)
        playing = session.wait_for(Local.PLAYBACK_STARTED, timeout=30, since=0)
        # barge in once 1.5 s of the answer has been played
        session.wait_for(
            Local.SPEAKER_AUDIO,
            timeout=30,
            since=playing.t,
            predicate=lambda r: (
                r.get("item_id") == playing.get("item_id") and r.get("offset", 0) >= 1.5 * r.get("rate")
            ),
        )
        player = va.play_into_mic(second, wait=False)
        flushed = session.wait_for(
            Local.PLAYBACK_FLUSHED, timeout=15, since=playing.t, predicate=lambda r: r.get("reason") == "speech_started"
        )
        truncate = session.wait_for("conversation.item.truncate", timeout=5, since=playing.t)
        assert heard.wait_until(flushed.t + 0.5), "the virtual speaker's capture fell behind"  # the silence after
        samples = heard.stop()
        player.wait(10)
    speaker = session.speaker
    block_ms = speaker.blocksize * 1000 / speaker.rate
    latency_ms = speaker.output_latency_s * 1000
    assert truncate.data["audio_end_ms"] == int(flushed.data["played_ms"])
    assert 1000 < flushed.data["played_ms"] < 6000
    assert flushed.data["dropped_ms"] > 1000
    # stale audio after the flush (heard-time clock): at most the block in flight plus the
    # device buffer; device timestamps jitter by a few ms on a loaded 2-core machine
    assert flushed.data["stale_ms"] <= block_ms + latency_ms + 25
    late = [
        r
        for r in session.records(Local.SPEAKER_AUDIO)
        if r.get("item_id") == flushed.data["item_id"] and r.t > flushed.t + flushed.data["stale_ms"] / 1000 + 0.005
    ]
    assert late == []
    # what the speaker monitor heard of the reply is about what was played, not the whole reply
    assert _loud_seconds(samples) < flushed.data["played_ms"] / 1000 + 1.0
    print(
        f"\ndevices barge-in: stale {flushed.data['stale_ms']:.1f} ms (block {block_ms:.0f} ms, "
        f"device buffer {latency_ms:.0f} ms, {type(speaker).__name__})"
    )


def test_device_start_stop_cycles_leave_no_streams(virtual_audio: Any, connection: ConnectionSettings) -> None:
    va = virtual_audio
    before = _streams(va)
    for _ in range(5):
        session = VoiceSession(connection=connection, mic=va.input_device, speaker=va.output_device)
        session.start()
        session.wait_for("session.updated", timeout=15, since=0)
        session.wait_for(Local.MIC_AUDIO, timeout=5, since=0)
        during = _streams(va)
        assert during[0] >= before[0] + 1 and during[1] >= before[1] + 1, (before, during)
        session.stop()
        after = _streams(va)
        assert after[0] <= before[0] and after[1] <= before[1], (before, after)
