"""Real SDK over a real loopback socket: VAD timing, full responses, barge-in, manual commit."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tests.emulator.client import pcm_of, session
from tests.emulator.conftest import Speech
from tests.speech import speech_bounds
from voicelive_nb.emulator import Emulator, EmulatorSettings

FRAME_MS = 32.0
PADDING_MS = 400  # default prefix_padding_ms for api-version 2026-07-15

AUDIO_TURN_ORDER = [
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
    "input_audio_buffer.committed",
    "conversation.item.created",
    "response.created",
    "response.output_item.added",
    "conversation.item.created",
    "response.content_part.added",
]
DONE_ORDER = [
    "response.audio.done",
    "response.audio_transcript.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.done",
]


@pytest.mark.parametrize("chunk_ms", [20, 50])
def test_spoken_turn_boundaries_and_full_response(emu: Emulator, turn_speech: Speech, chunk_ms: int) -> None:
    pcm, [(start_s, end_s)] = turn_speech

    async def run() -> None:
        async with session(emu.endpoint) as c:
            await c.stream(pcm, chunk_ms=chunk_ms, speed=8)
            done = await c.wait_for("response.done")
            started = c.of("input_audio_buffer.speech_started")[0]
            stopped = c.of("input_audio_buffer.speech_stopped")[0]
            # speech_started: onset less prefix padding, within one VAD frame of the WAV's speech start
            assert abs(started.audio_start_ms - (start_s * 1000 - PADDING_MS)) <= FRAME_MS
            # speech_stopped: where speech ended (not + silence), within one VAD frame
            assert abs(stopped.audio_end_ms - end_s * 1000) <= FRAME_MS
            assert stopped.item_id == started.item_id
            # decided after silence_duration_ms of audio past the end, within one frame (audio timeline)
            [conv] = emu.conversations
            [(_, end_ms, at_ms)] = [v for v in conv.vad_log if v[0] == "stopped"]
            assert end_ms == pytest.approx(stopped.audio_end_ms, abs=0.5)
            assert 500 <= at_ms - end_ms <= 500 + FRAME_MS
            # and the client got it once it had sent that much audio (generous: the client runs ahead)
            arrived = next(r.sent_ms for r in c.received if r.event.type == "input_audio_buffer.speech_stopped")
            assert 500 <= arrived - stopped.audio_end_ms <= 500 + FRAME_MS + 1500

            types = [t for t in c.types() if t not in ("response.audio.delta", "response.audio_transcript.delta")]
            assert types[1 : 1 + len(AUDIO_TURN_ORDER)] == AUDIO_TURN_ORDER
            assert types[-len(DONE_ORDER) :] == DONE_ORDER
            assert done.event.response.status == "completed"
            assert done.event.response.usage.total_tokens > 0
            committed = c.of("input_audio_buffer.committed")[0]
            assert committed.item_id == started.item_id
            assert all(e.event_id.startswith("event_") for e in (r.event for r in c.received))
            assert done.event.response.id.startswith("resp_") and committed.item_id.startswith("item_")

            # the reply: transcript deltas add up, audio is speech of sensible length
            transcript = "".join(d.delta for d in c.of("response.audio_transcript.delta"))
            assert transcript == c.of("response.audio_transcript.done")[0].transcript
            assert transcript.startswith("I heard you speak for 1.")  # no ASR in this emulator
            audio = pcm_of(c.of("response.audio.delta"))
            seconds = len(audio) / 24000
            assert 1.0 < seconds < 6.0
            s, e = speech_bounds(audio, 24000)
            assert e - s > 0.8
            # deltas are chunk-sized (100 ms = 4800 bytes at 24 kHz), the transcript leads the audio
            sizes = [len(d.delta) for d in c.of("response.audio.delta")]
            assert max(sizes) == 4800
            first_tr = c.types().index("response.audio_transcript.delta")
            assert first_tr < c.types().index("response.audio.delta")

    asyncio.run(run())


def test_silence_duration_change_moves_speech_stopped(emu: Emulator, turn_speech: Speech) -> None:
    pcm, [(_start_s, end_s)] = turn_speech
    long_tail = np.concatenate([pcm, np.zeros(24000, np.int16)])

    async def turn(c: object, silence_ms: int) -> tuple[float, float, float]:
        from tests.emulator.client import Client

        assert isinstance(c, Client)
        ev = await c.update(
            turn_detection={"type": "server_vad", "silence_duration_ms": silence_ms, "create_response": False}
        )
        assert ev.type == "session.updated"
        assert ev.session.turn_detection.silence_duration_ms == silence_ms
        base_ms = c.sent_ms
        n = len(c.received)
        await c.stream(long_tail, chunk_ms=20, speed=8)
        r = await c.wait_for("input_audio_buffer.speech_stopped", after=n)
        conv = emu.conversations[0]
        server_at = [at for kind, _end, at in conv.vad_log if kind == "stopped"][-1]
        return r.event.audio_end_ms - base_ms, r.sent_ms - base_ms, server_at - base_ms

    async def run() -> None:
        async with session(emu.endpoint) as c:
            end1, rx1, at1 = await turn(c, 500)
            end2, rx2, at2 = await turn(c, 1200)
        # the speech ends in the same place, the decision comes later on the audio timeline
        assert abs(end1 - end2) <= FRAME_MS
        assert abs(end1 - end_s * 1000) <= FRAME_MS
        assert 500 <= at1 - end1 <= 500 + FRAME_MS
        assert 1200 <= at2 - end2 <= 1200 + FRAME_MS
        assert (rx2 - end2) - (rx1 - end1) >= 400  # as the client saw it, too (noisy: the client runs ahead)

    asyncio.run(run())


def test_barge_in_cancels_and_truncate(turn_speech: Speech, barge_speech: Speech) -> None:
    pcm, _ = turn_speech
    barge, _ = barge_speech
    long_reply = "This is a long answer that keeps talking for quite a while, " * 3
    settings = EmulatorSettings(realtime_factor=2.0, time_to_first_audio_ms=0)
    replies = [long_reply, "Okay."]

    async def run(emu: Emulator) -> None:
        async with session(emu.endpoint) as c:
            await c.stream(pcm, chunk_ms=20, speed=8)
            first = await c.wait_for("response.audio.delta")
            n = len(c.received)
            await c.stream(barge, chunk_ms=20, speed=4)
            started = await c.wait_for("input_audio_buffer.speech_started", after=n)
            done = await c.wait_for("response.done", after=n)
            assert started.t <= done.t
            resp = done.event.response
            assert resp.status == "cancelled"
            assert resp.status_details.type == "cancelled" and resp.status_details.reason == "turn_detected"
            assert resp.output[0].status == "incomplete"
            types = c.types()[n:]
            i = types.index("response.done")
            assert types[i - 4 : i] == DONE_ORDER[:-1]
            heard = resp.output[0].content[0].transcript
            assert 0 < len(heard) < len(long_reply)
            # the next turn (the interruption) gets its own response
            second = await c.wait_for("response.done", after=n + i + 1)
            assert second.event.response.status == "completed"

            # truncation: the client played half of what it got of the cancelled item
            item_id = first.event.item_id
            sent_ms = len(pcm_of([d for d in c.of("response.audio.delta") if d.item_id == item_id])) / 24
            played = int(sent_ms // 2)
            m = len(c.received)
            await c.conn.conversation.item.truncate(item_id=item_id, content_index=0, audio_end_ms=played)
            tr = await c.wait_for("conversation.item.truncated", after=m)
            assert tr.event.item_id == item_id and tr.event.audio_end_ms == played
            m = len(c.received)
            await c.conn.conversation.item.truncate(item_id=item_id, content_index=0, audio_end_ms=int(sent_ms) + 5000)
            err = await c.wait_for("error", after=m)
            assert err.event.error.param == "audio_end_ms"

    with Emulator(settings=settings, asr=False, responder=lambda _t, _s: replies.pop(0)) as emu:
        asyncio.run(run(emu))


def test_client_cancel_and_active_response_errors(turn_speech: Speech) -> None:
    settings = EmulatorSettings(realtime_factor=1.0, time_to_first_audio_ms=0)

    async def run(emu: Emulator) -> None:
        async with session(emu.endpoint) as c:
            await c.conn.response.cancel()
            err = await c.wait_for("error")
            assert err.event.error.code == "response_cancel_not_active"
            await c.conn.response.create()
            await c.wait_for("response.audio.delta")
            n = len(c.received)
            await c.conn.response.create()
            err = await c.wait_for("error", after=n)
            assert err.event.error.code == "conversation_already_has_active_response"
            await c.conn.response.cancel()
            done = await c.wait_for("response.done", after=n)
            assert done.event.response.status == "cancelled"
            assert done.event.response.status_details.reason == "client_cancelled"

    with Emulator(settings=settings, asr=False, responder=lambda _t, _s: "word " * 60) as emu:
        asyncio.run(run(emu))


def test_manual_commit_text_mode(emu: Emulator, turn_speech: Speech) -> None:
    pcm, _ = turn_speech

    async def run() -> None:
        async with session(emu.endpoint) as c:
            ev = await c.update(turn_detection=None, modalities=["text"])
            assert ev.type == "session.updated" and ev.session.turn_detection is None
            await c.stream(pcm[:1200], chunk_ms=20, speed=0)  # 50 ms: too little
            await c.conn.input_audio_buffer.commit()
            err = await c.wait_for("error")
            assert err.event.error.code == "input_audio_buffer_commit_empty"
            await c.stream(pcm, chunk_ms=50, speed=0)
            await asyncio.sleep(0.2)
            assert "input_audio_buffer.speech_started" not in c.types()  # no VAD
            assert "response.created" not in c.types()
            await c.conn.input_audio_buffer.commit()
            committed = await c.wait_for("input_audio_buffer.committed")
            created = await c.wait_for("conversation.item.created")
            assert created.event.item.id == committed.event.item_id
            n = len(c.received)
            await c.conn.response.create()
            done = await c.wait_for("response.done", after=n)
            types = c.types()[n:]
            assert "response.audio.delta" not in types
            text = "".join(e.delta for e in c.of("response.text.delta"))
            assert text == c.of("response.text.done")[0].text
            assert text.startswith("I heard you speak for")
            assert done.event.response.output[0].content[0].type == "text"
            assert done.event.response.modalities == ["text"]

    asyncio.run(run())


def test_transcription_and_echo_reply(turn_speech: Speech) -> None:
    pcm, _ = turn_speech
    settings = EmulatorSettings(realtime_factor=0, time_to_first_audio_ms=0, max_transcript_wait_ms=60_000)

    async def run(emu: Emulator) -> None:
        async with session(emu.endpoint) as c:
            await c.update(input_audio_transcription={"model": "whisper-1"})
            await c.stream(pcm, chunk_ms=40, speed=0)
            tr = await c.wait_for("conversation.item.input_audio_transcription.completed", timeout=30)
            words = tr.event.transcript.lower()
            assert "hello" in words and "how are you" in words
            assert tr.event.item_id == c.of("input_audio_buffer.committed")[0].item_id
            await c.wait_for("response.done", timeout=30)
            said = c.of("response.audio_transcript.done")[0].transcript
            assert said.startswith("You said:") and "hello" in said.lower()

    with Emulator(settings=settings) as emu:
        asyncio.run(run(emu))


def test_reply_does_not_wait_forever_for_the_transcript(turn_speech: Speech) -> None:
    pcm, _ = turn_speech
    settings = EmulatorSettings(realtime_factor=0, time_to_first_audio_ms=0, max_transcript_wait_ms=0)

    async def run(emu: Emulator) -> None:
        async with session(emu.endpoint) as c:
            await c.update(input_audio_transcription={"model": "whisper-1"})
            await c.stream(pcm, chunk_ms=40, speed=0)
            await c.wait_for("response.done", timeout=30)
            assert c.of("response.audio_transcript.done")[0].transcript.startswith("I heard you speak for")
            tr = await c.wait_for("conversation.item.input_audio_transcription.completed", timeout=60)
            assert "hello" in tr.event.transcript.lower()  # it still arrives, later

    with Emulator(settings=settings) as emu:
        asyncio.run(run(emu))


def test_transcription_failed_without_asr(emu: Emulator, turn_speech: Speech) -> None:
    pcm, _ = turn_speech

    async def run() -> None:
        async with session(emu.endpoint) as c:
            await c.update(input_audio_transcription={"model": "whisper-1"})
            await c.stream(pcm, chunk_ms=40, speed=0)
            failed = await c.wait_for("conversation.item.input_audio_transcription.failed")
            assert "disabled" in failed.event.error.message

    asyncio.run(run())


@pytest.mark.parametrize(
    ("fmt", "rate", "width"), [("pcm16_16000hz", 16000, 2), ("g711_ulaw", 8000, 1), ("g711_alaw", 8000, 1)]
)
def test_output_formats(emu: Emulator, fmt: str, rate: int, width: int) -> None:
    async def run() -> None:
        async with session(emu.endpoint) as c:
            await c.update(output_audio_format=fmt)
            await c.conn.response.create()
            done = await c.wait_for("response.done")
            assert done.event.response.output_audio_format == fmt
            nbytes = sum(len(d.delta) for d in c.of("response.audio.delta"))
            seconds = nbytes / width / rate
            assert 1.0 < seconds < 6.0
            assert max(len(d.delta) for d in c.of("response.audio.delta")) == rate * width // 10

    asyncio.run(run())


@pytest.mark.parametrize("rate", [8000, 16000])
def test_input_sampling_rates(emu: Emulator, rate: int) -> None:
    from tests.speech import speech_pcm

    pcm, [(start_s, end_s)] = speech_pcm([0.7, "hello there how are you", 1.2], rate=rate)

    async def run() -> None:
        async with session(emu.endpoint, rate=rate) as c:
            await c.update(input_audio_sampling_rate=rate, turn_detection={"create_response": False})
            await c.stream(pcm, chunk_ms=20, speed=0)
            stopped = await c.wait_for("input_audio_buffer.speech_stopped")
            started = c.of("input_audio_buffer.speech_started")[0]
            assert abs(started.audio_start_ms - (start_s * 1000 - PADDING_MS)) <= FRAME_MS
            assert abs(stopped.event.audio_end_ms - end_s * 1000) <= FRAME_MS

    asyncio.run(run())


def test_many_sessions_in_one_process(emu: Emulator, turn_speech: Speech) -> None:
    pcm, _ = turn_speech

    async def one() -> str:
        async with session(emu.endpoint) as c:
            await c.stream(pcm, chunk_ms=50, speed=0)
            done = await c.wait_for("response.done", timeout=60)
            return str(done.event.response.status.value)

    async def run() -> list[str]:
        return await asyncio.gather(*(one() for _ in range(8)))

    assert asyncio.run(run()) == ["completed"] * 8
    assert emu.total_connections >= 8


def test_text_item_then_response(emu: Emulator) -> None:
    async def run() -> None:
        async with session(emu.endpoint) as c:
            item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi there"}]}
            await c.conn.send({"type": "conversation.item.create", "item": item})
            created = await c.wait_for("conversation.item.created")
            assert created.event.item.role == "user"
            await c.conn.response.create()
            await c.wait_for("response.done")
            assert c.of("response.audio_transcript.done")[0].transcript == "You said: hi there"

    asyncio.run(run())


def test_quickstart_session_config_from_sdk_models(emu: Emulator) -> None:
    from azure.ai.voicelive.models import (
        AudioEchoCancellation,
        AudioNoiseReduction,
        AzureStandardVoice,
        InputAudioFormat,
        Modality,
        OutputAudioFormat,
        RequestSession,
        ServerVad,
    )

    config = RequestSession(
        modalities=[Modality.TEXT, Modality.AUDIO],
        instructions="You are a helpful assistant.",
        voice=AzureStandardVoice(name="en-US-Ava:DragonHDLatestNeural"),
        input_audio_format=InputAudioFormat.PCM16,
        output_audio_format=OutputAudioFormat.PCM16,
        turn_detection=ServerVad(threshold=0.5, prefix_padding_ms=300, silence_duration_ms=500),
        input_audio_echo_cancellation=AudioEchoCancellation(),
        input_audio_noise_reduction=AudioNoiseReduction(type="azure_deep_noise_suppression"),
    )

    async def run() -> None:
        async with session(emu.endpoint) as c:
            await c.conn.session.update(session=config)
            ev = await c.wait_for("session.updated")
            s = ev.event.session
            assert s.turn_detection.prefix_padding_ms == 300 and s.voice["type"] == "azure-standard"
            assert s.input_audio_echo_cancellation.type == "server_echo_cancellation"
            assert "error" not in c.types()

    asyncio.run(run())
