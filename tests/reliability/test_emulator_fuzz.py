"""Random client events against the emulator: it never dies and answers garbage with error events.

The conversation core is sans-I/O, so hypothesis drives it directly with thousands of
events (well-formed types with hostile fields, non-JSON, non-objects, oversized frames);
its effects (transcribe, generate) are carried out the way the server does, with canned
results.  A smaller run goes over a real loopback socket through the aiohttp server.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.emulator.client import CLIENT_EVENT_TYPES
from voicelive_nb.emulator.core import Conversation, Generate, Transcribe
from voicelive_nb.emulator.settings import EmulatorSettings
from voicelive_nb.emulator.vad import EnergyModel
from voicelive_nb.emulator.wire import Ids

CLIENT_TYPES = CLIENT_EVENT_TYPES
FIELDS = [
    "session",
    "audio",
    "item",
    "item_id",
    "content_index",
    "audio_end_ms",
    "response",
    "response_id",
    "event_id",
    "previous_item_id",
    "turn_detection",
    "threshold",
    "voice",
    "input_audio_format",
    "output_audio_format",
    "input_audio_sampling_rate",
    "modalities",
    "content",
    "role",
    "text",
    "type",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=16),
    st.sampled_from(["pcm16", "g711_ulaw", "server_vad", "message", "user", "input_text", "AAAA", "////", "alloy"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=5)), inner)
    ),
    max_leaves=12,
)
pcm_b64 = st.binary(min_size=0, max_size=2400).map(lambda b: base64.b64encode(b).decode())
client_events = st.fixed_dictionaries(
    {"type": st.one_of(st.sampled_from(CLIENT_TYPES), st.text(max_size=20), values)},
    optional={**{name: values for name in FIELDS if name != "type"}, "audio": st.one_of(pcm_b64, values)},
)
raw_messages = st.one_of(
    client_events.map(lambda e: json.dumps(e, default=str)),
    st.text(max_size=40),
    st.binary(max_size=40),
    values.map(lambda v: json.dumps(v, default=str)),
)


@pytest.fixture(scope="module")
def fuzz_emulator() -> Iterator[Any]:
    from voicelive_nb.emulator import Emulator

    with Emulator(settings=EmulatorSettings(max_message_bytes=256 * 1024, vad="energy"), asr=False) as emu:
        yield emu


def new_conversation() -> Conversation:
    settings = EmulatorSettings(max_message_bytes=64 * 1024)
    return Conversation(settings, EnergyModel(), ids=Ids(seed=1))


def carry_out(conv: Conversation, outputs: list[Any], depth: int = 0) -> list[dict[str, Any]]:
    """Do the effects the way the server would (canned ASR/TTS results); return the events."""
    events: list[dict[str, Any]] = []
    for out in outputs:
        if isinstance(out, dict):
            assert isinstance(out.get("type"), str) and out["type"], out
            json.dumps(out)  # every server event must be serialisable
            events.append(out)
        elif isinstance(out, Transcribe):
            if depth < 3:
                events += carry_out(conv, conv.transcription_result(out.item_id, "hello there"), depth + 1)
        elif isinstance(out, Generate):
            conv.set_response_content(out.response_id, "hi", bytes(4800))
            for _ in range(200):
                step = conv.response_step(out.response_id)
                if step is None:
                    break
                events += carry_out(conv, step, depth + 1)
        else:
            raise AssertionError(f"unexpected output {out!r}")
    return events


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(client_events, raw_messages), min_size=1, max_size=15))
def test_random_client_events_never_kill_the_conversation(messages: list[Any]) -> None:
    conv = new_conversation()
    carry_out(conv, conv.open())
    for message in messages:
        if isinstance(message, dict):
            events = carry_out(conv, conv.receive(message))
        else:
            events = carry_out(conv, conv.receive_raw(message))
        for ev in events:
            if ev["type"] == "error":
                err = ev["error"]
                assert err["code"] and err["message"], ev
    # it still works: a valid update is accepted and a turn of audio is processed
    (updated,) = carry_out(conv, conv.receive({"type": "session.update", "session": {"voice": "alloy"}}))
    assert updated["type"] == "session.updated", updated
    silence = base64.b64encode(bytes(4800)).decode()
    carry_out(conv, conv.receive({"type": "input_audio_buffer.append", "audio": silence}))


def test_each_kind_of_garbage_gets_an_error_event() -> None:
    conv = new_conversation()
    cases: list[tuple[Any, str]] = [
        ("not json at all", "invalid_json"),
        (b"\xff\xfe\x00garbage", "invalid_json"),
        ("[1, 2, 3]", "invalid_json"),
        ('{"no_type": 1}', "unknown_event_type"),
        ('{"type": "bogus.event"}', "unknown_event_type"),
        ('{"type": "input_audio_buffer.append", "audio": "%%%"}', "invalid_value"),
        ('{"type": "input_audio_buffer.append", "audio": 5}', "invalid_type"),
        ('{"type": "input_audio_buffer.append", "audio": "AA=="}', "invalid_value"),  # one byte: half a sample
        ('{"type": "session.update"}', "missing_required_parameter"),
        ("x" * (64 * 1024 + 1), "message_too_large"),
    ]
    for raw, code in cases:
        (err,) = conv.receive_raw(raw)
        assert isinstance(err, dict) and err["type"] == "error", (raw, err)
        assert err["error"]["code"] == code, (raw[:40], err)
        assert err["error"]["message"]


def test_hostile_session_update_values_are_refused_and_leave_the_session_unchanged() -> None:
    conv = new_conversation()
    before = json.dumps(conv.session, sort_keys=True)
    for bad in [
        {"turn_detection": {"type": "server_vad", "threshold": 7}},
        {"turn_detection": {"type": "nope"}},
        {"input_audio_sampling_rate": 44100},
        {"voice": 12},
        {"temperature": "hot"},
        {"modalities": "audio"},
        {"output_audio_format": "mp3"},
        {"turn_detection": {"type": "server_vad", "silence_duration_ms": -1}},
        {"turn_detection": {"type": "server_vad", "threshold": float("nan")}},
    ]:
        outs = conv.receive({"type": "session.update", "session": bad, "event_id": "c1"})
        assert [o["type"] for o in outs if isinstance(o, dict)] == ["error"], (bad, outs)
        assert outs[0]["error"]["event_id"] == "c1"
        assert json.dumps(conv.session, sort_keys=True) == before, bad


def test_an_hour_of_appended_noise_keeps_memory_bounded() -> None:
    """Manual-commit mode buffers input; the buffer is capped (max_buffer_s), never unbounded."""
    conv = Conversation(EmulatorSettings(max_buffer_s=5.0), EnergyModel(), ids=Ids(seed=2))
    conv.receive({"type": "session.update", "session": {"turn_detection": None}})
    block = base64.b64encode(np.zeros(24000, dtype=np.int16).tobytes()).decode()
    for _ in range(120):  # two minutes of audio, in one-second appends
        conv.receive({"type": "input_audio_buffer.append", "audio": block})
    buffered = conv.input.buffered_ms / 1000
    assert buffered <= 6.0, f"{buffered:.1f} s buffered with max_buffer_s=5"


def test_a_long_conversation_keeps_a_bounded_history() -> None:
    """Each reply's audio is held by the emulator; 300 turns must not pile up 300 replies."""
    from voicelive_nb.emulator.core import MAX_ITEMS

    conv = new_conversation()
    conv.receive({"type": "session.update", "session": {"turn_detection": None}})
    for n in range(300):
        conv.receive(
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": f"q{n}"}]},
            }
        )
        events = carry_out(conv, conv.receive({"type": "response.create"}))
        assert events[-1]["type"] == "response.done", events[-1]
    assert len(conv.items) <= MAX_ITEMS + 2
    assert len(conv.runs) <= MAX_ITEMS
    # the newest reply can still be truncated; a forgotten one gives a clear error
    last = conv.items[-1]
    (ok,) = conv.receive(
        {"type": "conversation.item.truncate", "item_id": last.id, "content_index": 0, "audio_end_ms": 10}
    )
    assert ok["type"] == "conversation.item.truncated", ok


# --------------------------------------------------------------------------- over a real socket


async def _fuzz_connection(endpoint: str, messages: list[Any]) -> list[dict[str, Any]]:
    """Send ``messages`` on one WebSocket, then a valid update; return every event received."""
    import asyncio

    import aiohttp

    url = endpoint.replace("http", "ws") + "/voice-live/realtime?model=gpt-realtime"
    events: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as http, http.ws_connect(url, headers={"api-key": "x"}) as ws:
        for message in messages:
            if isinstance(message, bytes):
                await ws.send_bytes(message)
            else:
                await ws.send_str(message if isinstance(message, str) else json.dumps(message, default=str))
        await ws.send_str(json.dumps({"type": "session.update", "event_id": "final", "session": {"voice": "echo"}}))
        while True:
            msg = await asyncio.wait_for(ws.receive(), 30)
            assert msg.type == aiohttp.WSMsgType.TEXT, f"the emulator closed the socket: {msg}"
            event = json.loads(msg.data)
            assert isinstance(event.get("type"), str)
            events.append(event)
            if event["type"] == "session.updated" and "echo" in json.dumps(event["session"].get("voice")):
                return events


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(client_events, raw_messages), min_size=1, max_size=12))
def test_random_client_messages_over_a_socket_never_kill_the_emulator(fuzz_emulator: Any, messages: list[Any]) -> None:
    import asyncio

    events = asyncio.run(_fuzz_connection(fuzz_emulator.endpoint, messages))
    assert events[0]["type"] == "session.created"
    for ev in events:
        if ev["type"] == "error":
            assert ev["error"]["code"] and ev["error"]["message"], ev


def test_oversized_and_binary_frames_get_error_events_and_the_socket_stays(fuzz_emulator: Any) -> None:
    import asyncio

    huge = json.dumps({"type": "input_audio_buffer.append", "audio": "A" * (fuzz_emulator.settings.max_message_bytes)})
    events = asyncio.run(_fuzz_connection(fuzz_emulator.endpoint, [huge, b"\x00\x01binary", "{", "[]"]))
    codes = [ev["error"]["code"] for ev in events if ev["type"] == "error"]
    assert codes == ["message_too_large", "invalid_json", "invalid_json", "invalid_json"], codes
    # and it still serves new connections
    assert asyncio.run(_fuzz_connection(fuzz_emulator.endpoint, []))[0]["type"] == "session.created"
