"""Malformed server events at the protocol boundary: never an exception, at worst a ReportError.

The session's protocol logic is sans-I/O, so every hostile event the network could deliver
is fed straight in: unknown types, missing and mistyped fields, corrupt base64, odd byte
counts, megabytes of audio, non-objects.
"""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voicelive_nb.session.protocol import (
    CommandDone,
    FinishAudio,
    FlushPlayback,
    PlayAudio,
    ReportError,
    SendEvent,
    SessionProtocol,
    StartAudio,
    explain_error,
    explain_exception,
)

ACTIONS = (SendEvent, FlushPlayback, PlayAudio, FinishAudio, StartAudio, ReportError, CommandDone)
KNOWN_TYPES = [
    "session.created",
    "session.updated",
    "response.created",
    "response.done",
    "response.audio.delta",
    "response.audio.done",
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
    "error",
    "conversation.item.created",
    "response.audio_transcript.delta",
]
FIELDS = ["type", "session", "response", "delta", "item_id", "response_id", "error", "event_id", "audio_start_ms"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.binary(max_size=20),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=6)), inner)
    ),
    max_leaves=10,
)
events = st.fixed_dictionaries(
    {"type": st.one_of(st.sampled_from(KNOWN_TYPES), st.text(max_size=30), values)},
    optional={name: values for name in FIELDS if name != "type"},
)


def _check(actions: Any) -> None:
    assert isinstance(actions, list)
    for action in actions:
        assert isinstance(action, ACTIONS), action
        if isinstance(action, ReportError):
            assert action.message.strip()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(events, values), min_size=1, max_size=10))
def test_any_sequence_of_server_messages_never_raises(messages: list[Any]) -> None:
    proto = SessionProtocol()
    for message in messages:
        _check(proto.receive(message))
    # the commands still work after any garbage
    _check(proto.update_session({"voice": "alloy"}, command_id="c1"))
    _check(proto.cancel_response())
    _check(proto.playback_flushed("item", 120.0, "resp"))
    _check(proto.connection_reset())


@settings(max_examples=100, deadline=None)
@given(st.one_of(values, st.dictionaries(st.sampled_from(["code", "message", "param", "event_id", "type"]), values)))
def test_any_error_payload_explains_itself_in_words(error: Any) -> None:
    text = explain_error(error)
    assert isinstance(text, str) and text.strip()


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_any_exception_text_is_explained(text: str) -> None:
    assert explain_exception(RuntimeError(text)).strip()
    assert explain_exception(OSError()).strip()


def test_corrupt_base64_audio_is_reported_and_not_played() -> None:
    proto = SessionProtocol()
    for bad in ("!!!not base64!!!", "Q", "ab$cd===", "AAAA\x00AAAA"):
        actions = proto.receive({"type": "response.audio.delta", "delta": bad, "item_id": "i", "response_id": "r"})
        assert not any(isinstance(a, PlayAudio) for a in actions)
        (report,) = actions
        assert isinstance(report, ReportError) and "base64" in report.message


def test_odd_byte_audio_is_trimmed_to_whole_samples() -> None:
    proto = SessionProtocol()
    delta = base64.b64encode(b"\x01\x02\x03").decode()
    (play,) = proto.receive({"type": "response.audio.delta", "delta": delta, "item_id": "i", "response_id": "r"})
    assert isinstance(play, PlayAudio) and play.pcm == b"\x01\x02"


def test_huge_audio_delta_is_handled_without_copy_explosion() -> None:
    proto = SessionProtocol()
    pcm = bytes(8 << 20)  # 8 MiB: twice the SDK's own message limit
    actions = proto.receive(
        {"type": "response.audio.delta", "delta": base64.b64encode(pcm).decode(), "item_id": "i", "response_id": "r"}
    )
    (play,) = actions
    assert isinstance(play, PlayAudio) and len(play.pcm) == len(pcm)
    assert proto.item_audio_ms("i") == len(pcm) / 2 / 24


def test_huge_unknown_event_and_huge_error_message_are_fine() -> None:
    proto = SessionProtocol()
    assert proto.receive({"type": "x" * 100_000, "blob": "y" * (4 << 20)}) == []
    (report,) = proto.receive({"type": "error", "error": {"message": "z" * (1 << 20), "code": "server_error"}})
    assert isinstance(report, ReportError) and "internal error" in report.message


def test_missing_fields_in_every_known_type_never_raise() -> None:
    proto = SessionProtocol()
    for etype in KNOWN_TYPES:
        _check(proto.receive({"type": etype}))
        _check(proto.receive({"type": etype, "session": None, "response": [], "error": 5, "delta": None}))
