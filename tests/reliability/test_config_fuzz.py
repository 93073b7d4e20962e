"""Bad input at the configuration boundary: only ValueError, always naming the problem."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from voicelive_nb.config import SessionConfig
from voicelive_nb.connection import ConnectionSettings

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(allow_nan=True), st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
session_keys = st.sampled_from(
    [
        "model",
        "modalities",
        "instructions",
        "voice",
        "input_audio_sampling_rate",
        "input_audio_format",
        "output_audio_format",
        "turn_detection",
        "input_audio_noise_reduction",
        "input_audio_echo_cancellation",
        "input_audio_transcription",
        "temperature",
        "max_response_output_tokens",
        "bogus",
    ]
)
vad_keys = st.sampled_from(
    [
        "type",
        "threshold",
        "prefix_padding_ms",
        "silence_duration_ms",
        "speech_duration_ms",
        "remove_filler_words",
        "languages",
        "end_of_utterance_detection",
        "create_response",
        "interrupt_response",
        "auto_truncate",
    ]
)
vad_values = st.one_of(
    json_values,
    st.sampled_from(["server_vad", "azure_semantic_vad", 0.5, 300, 0.0, 1.0, 10**9, True]),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(session_keys, json_values, max_size=6))
def test_any_session_dict_gives_a_config_or_a_clear_value_error(data: dict[str, Any]) -> None:
    try:
        config = SessionConfig.from_dict(data)
    except ValueError as exc:
        assert str(exc), "a ValueError must say what is wrong"
    else:  # a valid config survives the round trip through the wire format
        assert SessionConfig.from_dict(config.to_dict()) == config


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(vad_keys, vad_values, max_size=6))
def test_any_vad_change_gives_a_config_or_a_value_error_naming_turn_detection(changes: dict[str, Any]) -> None:
    try:
        SessionConfig().with_vad(**changes)
    except ValueError as exc:
        assert "turn_detection" in str(exc) or "end_of_utterance" in str(exc) or "eou" in str(exc)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=40), st.from_regex(r"(https?|wss?|ftp)://[^\s]{0,30}", fullmatch=True)))
def test_any_endpoint_string_is_accepted_or_refused_plainly(endpoint: str) -> None:
    try:
        s = ConnectionSettings(endpoint=endpoint, api_key="k")
    except ValueError as exc:
        assert "endpoint" in str(exc)
    else:
        assert s.endpoint is None or s.endpoint.split("://")[0] in ("http", "https", "ws", "wss")
