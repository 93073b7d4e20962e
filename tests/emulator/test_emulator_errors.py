"""Bad input, session.update validation, API keys and fault injection over real sockets."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import aiohttp
import pytest
from azure.ai.voicelive.aio import ConnectionError as SdkConnectionError
from azure.ai.voicelive.aio import connect
from azure.core.credentials import AzureKeyCredential

from tests.emulator.client import session
from tests.emulator.conftest import Speech
from voicelive_nb.emulator import Emulator, EmulatorSettings


def ws_url(emu: Emulator) -> str:
    return emu.endpoint.replace("http://", "ws://") + "/voice-live/realtime?api-version=2026-07-15&model=x"


async def raw_exchange(
    emu: Emulator, messages: list[str | bytes], headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Send raw messages, then a valid session.update; return every event up to its session.updated."""
    out: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url(emu), headers=headers or {}) as ws:
        out.append(json.loads((await ws.receive()).data))
        for m in messages:
            await (ws.send_bytes(m) if isinstance(m, bytes) else ws.send_str(m))
        await ws.send_str(json.dumps({"type": "session.update", "session": {"instructions": "still here"}}))
        while True:
            msg = await asyncio.wait_for(ws.receive(), 10)
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            out.append(json.loads(msg.data))
            if out[-1]["type"] == "session.updated":
                return out


def wait_until_closed(emu: Emulator, timeout: float = 5.0) -> bool:
    """True once the emulator saw every client go (the close is processed asynchronously)."""
    deadline = time.monotonic() + timeout
    while emu.connections and time.monotonic() < deadline:
        time.sleep(0.02)
    return emu.connections == 0


def errors(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["error"] for e in events if e["type"] == "error"]


def test_bad_input_gets_error_events_and_connection_stays_up(emu: Emulator) -> None:
    big = json.dumps({"type": "input_audio_buffer.append", "audio": "A" * (5 * 1024 * 1024)})
    messages: list[str | bytes] = [
        "{not json",
        "[1, 2]",
        json.dumps({"type": "no.such.event", "event_id": "evt_1"}),
        json.dumps({"type": "input_audio_buffer.append", "audio": "@@not base64@@"}),
        json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(b"\x01\x02\x03").decode()}),
        json.dumps({"type": "input_audio_buffer.append", "audio": 12}),
        big,
        json.dumps(
            {"type": "conversation.item.truncate", "item_id": "item_nope", "content_index": 0, "audio_end_ms": 10}
        ),
    ]
    events = asyncio.run(raw_exchange(emu, messages))
    errs = errors(events)
    codes = [e["code"] for e in errs]
    assert codes == [
        "invalid_json",
        "invalid_json",
        "unknown_event_type",
        "invalid_value",
        "invalid_value",
        "invalid_type",
        "message_too_large",
        "item_not_found",
    ]
    assert errs[2]["event_id"] == "evt_1"
    assert "even number of bytes" in errs[4]["message"]
    assert events[-1]["session"]["instructions"] == "still here"
    assert all(e["event_id"].startswith("event_") for e in events)


@pytest.mark.parametrize(
    ("update", "code", "param"),
    [
        (
            {"turn_detection": {"type": "server_vad", "threshold": 1.0}},
            "invalid_value",
            "session.turn_detection.threshold",
        ),
        (
            {"turn_detection": {"type": "server_vad", "threshold": 0.001}},
            "invalid_value",
            "session.turn_detection.threshold",
        ),
        (
            {"turn_detection": {"type": "server_vad", "silence_duration_ms": "long"}},
            "invalid_type",
            "session.turn_detection.silence_duration_ms",
        ),
        ({"turn_detection": {"type": "server_vad", "bogus": 1}}, "unknown_parameter", "session.turn_detection.bogus"),
        ({"turn_detection": {"type": "magic_vad"}}, "invalid_value", "session.turn_detection.type"),
        ({"frobnicate": True}, "unknown_parameter", "session.frobnicate"),
        ({"input_audio_sampling_rate": 44100}, "invalid_value", "session.input_audio_sampling_rate"),
        ({"output_audio_format": "mp3"}, "invalid_value", "session.output_audio_format"),
        ({"modalities": "audio"}, "invalid_type", "session.modalities"),
        ({"temperature": 2.0}, "invalid_value", "session.temperature"),
        ({"voice": {"type": "azure-standard", "name": "x", "rate": "3"}}, "invalid_value", "session.voice.rate"),
    ],
)
def test_session_update_rejects_bad_fields(emu: Emulator, update: dict[str, Any], code: str, param: str) -> None:
    async def run() -> None:
        async with session(emu.endpoint) as c:
            before = c.of("session.created")[0].session.as_dict()
            await c.conn.send({"type": "session.update", "session": update})
            err = await c.wait_for("error")
            assert (err.event.error.code, err.event.error.param) == (code, param)
            assert param.split(".")[-1] in err.event.error.message
            ev = await c.update(instructions="x")  # the session was left unchanged by the bad update
            after = ev.session.as_dict()
            after.pop("instructions")
            before.pop("instructions")
            assert after == before

    asyncio.run(run())


def test_semantic_vad_accepted_and_merged(emu: Emulator) -> None:
    async def run() -> None:
        async with session(emu.endpoint) as c:
            ev = await c.update(
                turn_detection={
                    "type": "azure_semantic_vad",
                    "remove_filler_words": True,
                    "end_of_utterance_detection": {"model": "semantic_detection_v1", "threshold_level": "low"},
                }
            )
            td = ev.session.turn_detection
            assert td.type == "azure_semantic_vad" and td.prefix_padding_ms == 420 and td.remove_filler_words
            ev = await c.update(turn_detection={"silence_duration_ms": 300})  # same type: merged
            assert ev.session.turn_detection.silence_duration_ms == 300
            assert ev.session.turn_detection.remove_filler_words is True

    asyncio.run(run())


def test_api_key_required() -> None:
    async def run(emu: Emulator) -> None:
        with pytest.raises(SdkConnectionError, match="401"):
            async with connect(endpoint=emu.endpoint, credential=AzureKeyCredential("wrong"), model="m"):
                pass
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {"Authorization": "Bearer wrong"}):
                with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                    await http.ws_connect(ws_url(emu), headers=headers)
                assert info.value.status == 401
            async with http.ws_connect(ws_url(emu), headers={"Authorization": "Bearer s3cret"}) as ws:
                assert json.loads((await ws.receive()).data)["type"] == "session.created"
        async with session(emu.endpoint, key="s3cret") as c:
            assert c.of("session.created")

    with Emulator(api_key="s3cret", asr=False) as emu:
        asyncio.run(run(emu))
        assert wait_until_closed(emu)


def test_fault_refuse_and_fail_response(emu: Emulator) -> None:
    async def run() -> None:
        emu.faults.refuse_handshakes = 1
        with pytest.raises(SdkConnectionError, match="503"):
            async with connect(endpoint=emu.endpoint, credential=AzureKeyCredential("k"), model="m"):
                pass
        async with session(emu.endpoint) as c:
            emu.faults.fail_next_response = "injected failure"
            await c.conn.response.create()
            done = await c.wait_for("response.done")
            assert done.event.response.status == "failed"
            assert "injected failure" in str(done.event.response.status_details.error)
            await c.conn.response.create()  # one-shot: the next one works
            done = await c.wait_for("response.done", after=c.types().index("response.done") + 1)
            assert done.event.response.status == "completed"
        assert emu.faults.fired == ["refuse_handshake", "fail_next_response"]

    asyncio.run(run())


def test_fault_drop_mid_response(emu: Emulator) -> None:
    async def run() -> None:
        async with session(emu.endpoint) as c:
            emu.faults.drop_mid_response = True
            await c.conn.response.create()
            with pytest.raises(ConnectionError, match="closed"):
                await c.wait_for("response.done", timeout=10)
            assert "response.audio.delta" in c.types()

    asyncio.run(run())
    assert wait_until_closed(emu)


def test_fault_drop_after_events_delay_reorder_silent(emu: Emulator) -> None:
    async def run() -> None:
        async with session(emu.endpoint) as c:
            emu.faults.delay_ms = 300
            t0 = time.monotonic()
            await c.update(instructions="a")
            assert time.monotonic() - t0 >= 0.28
            emu.faults.delay_ms = 0
            emu.faults.reorder = True
            n = len(c.received)
            await c.conn.session.update(session={"instructions": "first"})
            await c.conn.response.cancel()  # -> error, queued after session.updated
            await c.wait_for("session.updated", after=n)
            assert c.types()[n : n + 2] == ["error", "session.updated"]
            emu.faults.reorder = False
            emu.faults.silent = True
            n = len(c.received)
            await c.conn.session.update(session={"instructions": "unheard"})
            await asyncio.sleep(0.4)
            assert len(c.received) == n
            emu.faults.silent = False
            emu.faults.drop_after_events = 2
            await c.conn.session.update(session={"instructions": "one"})
            await c.conn.session.update(session={"instructions": "two"})
            await c.conn.session.update(session={"instructions": "three"})
            with pytest.raises(ConnectionError):
                await c.wait_for("never.comes", timeout=10)
            assert [e.session.instructions for e in c.of("session.updated")][-2:] == ["one", "two"]

    asyncio.run(run())


def test_barge_in_ignored_without_interrupt_response(turn_speech: Speech, barge_speech: Speech) -> None:
    pcm, _ = turn_speech
    barge, _ = barge_speech
    settings = EmulatorSettings(realtime_factor=4.0, time_to_first_audio_ms=0)

    async def run(emu: Emulator) -> None:
        async with session(emu.endpoint) as c:
            await c.update(turn_detection={"interrupt_response": False})
            await c.stream(pcm, chunk_ms=20, speed=8)
            await c.wait_for("response.audio.delta")
            n = len(c.received)
            await c.stream(barge, chunk_ms=20, speed=8)
            await c.wait_for("input_audio_buffer.speech_started", after=n)
            done = await c.wait_for("response.done", after=n)
            assert done.event.response.status == "completed"

    with Emulator(settings=settings, asr=False, responder=lambda _t, _s: "word " * 12) as emu:
        asyncio.run(run(emu))
