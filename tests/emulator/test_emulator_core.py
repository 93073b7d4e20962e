"""The sans-I/O core without sockets, threads or sleeps; every event it emits parses with the SDK."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest
from azure.ai.voicelive import models as m
from azure.ai.voicelive.models import ServerEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.emulator.client import CLIENT_EVENT_TYPES
from tests.emulator.conftest import Speech
from voicelive_nb.emulator.audio_formats import alaw_decode, alaw_encode, encode_output, ulaw_decode, ulaw_encode
from voicelive_nb.emulator.core import Conversation, Generate, Output, Transcribe
from voicelive_nb.emulator.settings import EmulatorSettings
from voicelive_nb.emulator.turns import TurnDetector, VadParams
from voicelive_nb.emulator.vad import EnergyModel, acquire_model
from voicelive_nb.emulator.wire import Ids

EXPECTED_CLASS = {
    "session.created": m.ServerEventSessionCreated,
    "session.updated": m.ServerEventSessionUpdated,
    "error": m.ServerEventError,
    "input_audio_buffer.speech_started": m.ServerEventInputAudioBufferSpeechStarted,
    "input_audio_buffer.speech_stopped": m.ServerEventInputAudioBufferSpeechStopped,
    "input_audio_buffer.committed": m.ServerEventInputAudioBufferCommitted,
    "input_audio_buffer.cleared": m.ServerEventInputAudioBufferCleared,
    "conversation.item.created": m.ServerEventConversationItemCreated,
    "conversation.item.truncated": m.ServerEventConversationItemTruncated,
    "conversation.item.deleted": m.ServerEventConversationItemDeleted,
    "conversation.item.retrieved": m.ServerEventConversationItemRetrieved,
    "conversation.item.input_audio_transcription.completed": (
        m.ServerEventConversationItemInputAudioTranscriptionCompleted
    ),
    "conversation.item.input_audio_transcription.failed": m.ServerEventConversationItemInputAudioTranscriptionFailed,
    "response.created": m.ServerEventResponseCreated,
    "response.output_item.added": m.ServerEventResponseOutputItemAdded,
    "response.output_item.done": m.ServerEventResponseOutputItemDone,
    "response.content_part.added": m.ServerEventResponseContentPartAdded,
    "response.content_part.done": m.ServerEventResponseContentPartDone,
    "response.audio_transcript.delta": m.ServerEventResponseAudioTranscriptDelta,
    "response.audio_transcript.done": m.ServerEventResponseAudioTranscriptDone,
    "response.audio.delta": m.ServerEventResponseAudioDelta,
    "response.audio.done": m.ServerEventResponseAudioDone,
    "response.text.delta": m.ServerEventResponseTextDelta,
    "response.text.done": m.ServerEventResponseTextDone,
    "response.done": m.ServerEventResponseDone,
    "output_audio_buffer.cleared": m.ServerEventOutputAudioBufferCleared,
}


def b64(pcm: np.ndarray) -> str:
    return base64.b64encode(pcm.astype("<i2").tobytes()).decode()


class Driver:
    """Runs a Conversation like the server would, synchronously: effects are served at once."""

    def __init__(self, conv: Conversation, transcript: str | None = "hello there") -> None:
        self.conv = conv
        self.transcript = transcript
        self.events: list[dict[str, Any]] = []
        self.pending: list[Generate] = []
        self.handle(conv.open())

    def handle(self, outputs: list[Output]) -> list[dict[str, Any]]:
        new: list[dict[str, Any]] = []
        for out in outputs:
            if isinstance(out, dict):
                new.append(out)
            elif isinstance(out, Transcribe):
                new += self.handle(
                    self.conv.transcription_result(out.item_id, self.transcript, None if self.transcript else "no asr")
                )
            elif isinstance(out, Generate):
                self.pending.append(out)
        self.events += new
        return new

    def send(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        return self.handle(self.conv.receive(event))

    def stream(self, pcm: np.ndarray, chunk: int = 480) -> list[dict[str, Any]]:
        new: list[dict[str, Any]] = []
        for i in range(0, len(pcm), chunk):
            new += self.send({"type": "input_audio_buffer.append", "audio": b64(pcm[i : i + chunk])})
        return new

    def generate(self, text: str = "You said: hello there", steps: int | None = None) -> list[dict[str, Any]]:
        job = self.pending.pop(0)
        audio = encode_output(np.full(24000, 1000, np.int16), 24000, job.output_format) if job.audio else b""
        self.conv.set_response_content(job.response_id, text, audio)
        new: list[dict[str, Any]] = []
        n = 0
        while (steps is None or n < steps) and (events := self.conv.response_step(job.response_id)) is not None:
            new += self.handle(events)
            n += 1
        return new


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


@pytest.fixture
def conv() -> Conversation:
    return Conversation(EmulatorSettings(), acquire_model("auto"), ids=Ids(1))


def test_every_emitted_event_parses_with_the_sdk(conv: Conversation, turn_speech: Speech) -> None:
    pcm, _ = turn_speech
    d = Driver(conv)
    d.send({"type": "session.update", "session": {"input_audio_transcription": {"model": "whisper-1"}}})
    d.stream(pcm)
    d.generate(steps=3)
    first = d.pending and d.pending[0]
    d.stream(pcm[: len(pcm) // 2])  # barge-in: cancels the response
    assert types(d.events)[-1] == "response.done" and not first
    d.stream(pcm[len(pcm) // 2 :])
    d.generate()
    item = next(e["item"]["id"] for e in d.events if e["type"] == "response.output_item.done")
    d.send({"type": "conversation.item.truncate", "item_id": item, "content_index": 0, "audio_end_ms": 50})
    d.send({"type": "conversation.item.retrieve", "item_id": item})
    d.send({"type": "conversation.item.delete", "item_id": item})
    d.send({"type": "input_audio_buffer.clear"})
    d.send({"type": "output_audio_buffer.clear"})
    d.send({"type": "session.update", "session": {"modalities": ["text"], "turn_detection": None}})
    d.send(
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        }
    )
    d.send({"type": "response.create"})
    d.generate()
    d.send({"type": "response.create"})
    d.send({"type": "response.create"})  # error: active
    d.pending.clear()
    d.send({"type": "response.cancel"})
    d.transcript = None
    d.send({"type": "session.update", "session": {"turn_detection": {"type": "server_vad"}}})
    d.stream(pcm)  # transcription failed
    seen = set()
    for ev in d.events:
        typed = ServerEvent._deserialize(ev, [])
        assert type(typed) is EXPECTED_CLASS[ev["type"]], ev["type"]
        assert typed.event_id == ev["event_id"]
        seen.add(ev["type"])
        if ev["type"] == "response.audio.delta":
            assert isinstance(typed.delta, bytes) and typed.delta == base64.b64decode(ev["delta"])
        if ev["type"] == "response.done":
            assert typed.response.status in ("completed", "cancelled", "failed")
            assert typed.response.usage.input_token_details.audio_tokens >= 0
            assert all(o.role == "assistant" for o in typed.response.output)  # none if cancelled before a word
        if ev["type"] == "session.created":
            assert typed.session.turn_detection.type == "server_vad"
            assert typed.session.voice["name"] == "en-US-Ava:DragonHDLatestNeural"  # a union: left as a dict
        if ev["type"] == "error":
            assert typed.error.code and typed.error.message
        if ev["type"] == "input_audio_buffer.speech_started":
            assert typed.audio_start_ms >= 0 and typed.item_id.startswith("item_")
    assert seen == set(EXPECTED_CLASS) - {"response.audio.delta"} | {"response.audio.delta"}
    cancelled = [e for e in d.events if e["type"] == "response.done" and e["response"]["status"] == "cancelled"]
    assert [c["response"]["status_details"]["reason"] for c in cancelled] == ["turn_detected", "client_cancelled"]


def test_turn_detector_on_the_audio_timeline() -> None:
    det = TurnDetector(VadParams(threshold=0.5, prefix_padding_ms=300, silence_duration_ms=500, min_speech_ms=200))
    probs = [0.0] * 10 + [0.9] * 20 + [0.1] * 30
    events = [(i, ev) for i, p in enumerate(probs) if (ev := det.feed(p, i * 32.0, 32.0)) is not None]
    (_, started), (_, stopped) = events
    assert started.kind == "started" and started.onset_ms == 320 and started.audio_ms == 20
    assert started.at_ms == 320 + 224  # confirmed once 200 ms of speech frames were seen (7 frames)
    assert stopped.kind == "stopped" and stopped.audio_ms == 960
    assert stopped.at_ms == 960 + 512  # 500 ms of silence, rounded up to whole frames


def test_short_blip_and_bridged_gap() -> None:
    det = TurnDetector(VadParams(min_speech_ms=200, silence_duration_ms=300))
    probs = [0.9, 0.9] + [0.0] * 12 + [0.9, 0.9, 0.0, 0.9, 0.9, 0.9, 0.9, 0.9] + [0.0] * 20
    events = [ev for i, p in enumerate(probs) if (ev := det.feed(p, i * 32.0, 32.0)) is not None]
    assert [e.kind for e in events] == ["started", "stopped"]
    assert events[0].onset_ms == 14 * 32  # the blip was abandoned; the stop-consonant gap was bridged


def test_silence_duration_change_mid_turn_takes_effect_at_once(conv: Conversation, turn_speech: Speech) -> None:
    pcm, [(_s, end_s)] = turn_speech
    speech_end = int(end_s * 24000)
    conv.session["turn_detection"]["create_response"] = False
    d = Driver(conv)
    d.stream(pcm[: speech_end + 24000 * 3 // 10])  # speech + 300 ms of silence
    assert "input_audio_buffer.speech_stopped" not in types(d.events)
    d.send({"type": "session.update", "session": {"turn_detection": {"silence_duration_ms": 1000}}})
    d.stream(np.zeros(24000 * 6 // 10, np.int16))  # now 900 ms of silence: not yet
    assert "input_audio_buffer.speech_stopped" not in types(d.events)
    d.stream(np.zeros(24000 * 2 // 10, np.int16))
    kind, end_ms, at_ms = conv.vad_log[-1]
    assert kind == "stopped" and 1000 <= at_ms - end_ms <= 1000 + 32
    # and shortening it while already past the new value stops at the next frame
    d.stream(pcm[: speech_end + 24000 * 3 // 10])
    assert conv.vad_log[-1][0] == "started"
    d.send({"type": "session.update", "session": {"turn_detection": {"silence_duration_ms": 200}}})
    n = len(conv.vad_log)
    d.stream(np.zeros(24000 * 4 // 100, np.int16))
    assert conv.vad_log[n:] and conv.vad_log[n][0] == "stopped"


def test_manual_commit_rules_and_session_errors(conv: Conversation) -> None:
    d = Driver(conv)
    d.send({"type": "session.update", "session": {"turn_detection": None}})
    err = d.send({"type": "input_audio_buffer.commit", "event_id": "c1"})[0]
    assert err["error"]["code"] == "input_audio_buffer_commit_empty" and err["error"]["event_id"] == "c1"
    d.stream(np.zeros(2400 - 48, np.int16))  # 98 ms
    assert d.send({"type": "input_audio_buffer.commit"})[0]["type"] == "error"
    d.stream(np.zeros(48, np.int16))
    assert types(d.send({"type": "input_audio_buffer.commit"})) == [
        "input_audio_buffer.committed",
        "conversation.item.created",
    ]
    before = dict(conv.session)
    err = d.send({"type": "session.update", "session": {"turn_detection": {"type": "server_vad", "threshold": 1}}})[0]
    assert err["error"]["param"] == "session.turn_detection.threshold"
    assert conv.session == before
    assert d.send({"type": "session.update"})[0]["error"]["code"] == "missing_required_parameter"


def test_filler_words_removed_with_semantic_vad(conv: Conversation, turn_speech: Speech) -> None:
    pcm, _ = turn_speech
    d = Driver(conv, transcript="Umm, hello, uh, there")
    d.send(
        {
            "type": "session.update",
            "session": {
                "input_audio_transcription": {"model": "azure-speech"},
                "turn_detection": {"type": "azure_semantic_vad", "remove_filler_words": True, "create_response": False},
            },
        }
    )
    d.stream(pcm)
    done = [e for e in d.events if e["type"].endswith("transcription.completed")]
    assert done[0]["transcript"] == "hello, there"


def test_g711_roundtrip_and_energy_model() -> None:
    x = (np.sin(np.arange(8000) * 2 * np.pi * 440 / 8000) * 12000).astype(np.int16)
    for enc, dec in ((ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)):
        y = dec(enc(x)).astype(np.float64)
        snr = 10 * np.log10(np.mean(x.astype(np.float64) ** 2) / np.mean((y - x) ** 2))
        assert snr > 30
    e = EnergyModel()
    assert e.prob(np.zeros(512, np.float32)) == 0.0
    assert e.prob(np.full(512, 0.1, np.float32)) == 1.0


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
CLIENT_TYPES = [*CLIENT_EVENT_TYPES, "bogus"]
FIELDS = [
    "session",
    "audio",
    "response",
    "item",
    "item_id",
    "audio_end_ms",
    "content_index",
    "response_id",
    "event_id",
    "previous_item_id",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=st.lists(
        st.builds(
            lambda t, f: {"type": t, **f},
            st.sampled_from(CLIENT_TYPES),
            st.dictionaries(st.sampled_from(FIELDS), JSON | st.sampled_from(["AAAA", "AA==", "@@"]), max_size=3),
        ),
        max_size=8,
    )
)
def test_core_never_raises_on_client_input(events: list[dict[str, Any]]) -> None:
    conv = Conversation(EmulatorSettings(), EnergyModel(), ids=Ids(2))
    d = Driver(conv)
    for ev in events:
        for out in d.send(ev):
            ServerEvent._deserialize(out, [])
        if d.pending:
            d.generate()
    assert json.loads(json.dumps(conv.session))  # the session stays JSON


@pytest.mark.parametrize("fmt", ["g711_ulaw", "g711_alaw"])
def test_g711_input_is_decoded_at_8khz(fmt: str) -> None:
    from tests.speech import speech_pcm

    pcm, [(start_s, end_s)] = speech_pcm([0.7, "hello there how are you", 1.0], rate=8000)
    codes = (ulaw_encode if fmt == "g711_ulaw" else alaw_encode)(pcm)
    conv = Conversation(EmulatorSettings(), acquire_model("auto"), ids=Ids(3))
    d = Driver(conv)
    d.send(
        {"type": "session.update", "session": {"input_audio_format": fmt, "turn_detection": {"create_response": False}}}
    )
    for i in range(0, len(codes), 160):  # 20 ms of G.711 = 160 bytes
        d.send({"type": "input_audio_buffer.append", "audio": base64.b64encode(codes[i : i + 160].tobytes()).decode()})
    started = next(e for e in d.events if e["type"] == "input_audio_buffer.speech_started")
    stopped = next(e for e in d.events if e["type"] == "input_audio_buffer.speech_stopped")
    assert abs(started["audio_start_ms"] - (start_s * 1000 - 400)) <= 32
    assert abs(stopped["audio_end_ms"] - end_s * 1000) <= 32
    assert abs(conv.audio_ms - len(codes) / 8) < 1


def test_audio_start_clamped_at_zero(conv: Conversation) -> None:
    from tests.speech import speech_pcm

    pcm, [(start_s, _)] = speech_pcm([0.1, "hello there how are you", 1.0])
    assert start_s < 0.4  # speech begins before the 400 ms of prefix padding would
    d = Driver(conv)
    d.stream(pcm)
    started = next(e for e in d.events if e["type"] == "input_audio_buffer.speech_started")
    assert started["audio_start_ms"] == 0
