"""Bad input at the session's own boundary: a ValueError in the caller's thread, the session unharmed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voicelive_nb.audio.wav import CaptureSpeaker, WavMic
from voicelive_nb.config import SessionConfig
from voicelive_nb.connection import ConnectionSettings
from voicelive_nb.session import VoiceSession

from .conftest import silence

VAD_NAMES = ["threshold", "prefix_padding_ms", "silence_duration_ms", "create_response", "type", "bogus"]
junk = st.one_of(st.none(), st.booleans(), st.integers(-(10**9), 10**9), st.floats(allow_nan=True), st.text(max_size=8))


@pytest.mark.parametrize(
    ("endpoint", "words"),
    [
        ("ftp://example.com", "https://"),
        ("https://", "no host"),
        ("http:///path-only", "no host"),
        ("example.com", "https://"),
        ("https://x.example.com:99999", "port"),
        ("https://x.example.com/?api-version=1", "query"),
        ("https://exa mple.com", "white space"),
    ],
)
def test_bad_endpoints_from_the_environment_are_refused_plainly(endpoint: str, words: str) -> None:
    with pytest.raises(ValueError, match="endpoint") as info:
        ConnectionSettings.resolve(env={"AZURE_VOICELIVE_ENDPOINT": endpoint, "AZURE_VOICELIVE_API_KEY": "k"})
    assert words in str(info.value)


def test_an_endpoint_without_a_key_says_where_to_put_it() -> None:
    env = {"AZURE_VOICELIVE_ENDPOINT": "https://x.services.ai.azure.com", "AZURE_VOICELIVE_AUTH": "key"}
    with pytest.raises(ValueError, match="AZURE_VOICELIVE_API_KEY"):
        ConnectionSettings.resolve(env=env, dotenv=None)
    with pytest.raises(ValueError, match="auth="):
        ConnectionSettings.resolve(env={**env, "AZURE_VOICELIVE_AUTH": "password"}, dotenv=None)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mic": True},
        {"speaker": False},
        {"mic": object()},
        {"speaker": 3.5},
        {"mic": "/no/such/file.wav"},
        {"config": {"voice": "alloy"}},
        {"connection": "http://127.0.0.1:1"},
        {"max_failures": 0},
    ],
)
def test_bad_session_arguments_raise_at_once(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as info:
        VoiceSession(**kwargs)
    name = next(iter(kwargs))
    assert name in str(info.value) or name.replace("_", " ") in str(info.value), str(info.value)


@pytest.fixture(scope="module")
def running(emulator: Any) -> Any:
    session = VoiceSession(
        SessionConfig(),
        connection=ConnectionSettings(endpoint=emulator.endpoint, api_key="k"),
        mic=WavMic(silence(), loop=True),
        speaker=CaptureSpeaker(max_s=5),
    )
    session.start()
    session.wait_for("session.updated", timeout=30, since=0)
    yield session
    session.stop()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(VAD_NAMES), junk, min_size=1, max_size=3))
def test_live_vad_changes_are_checked_before_sending(running: VoiceSession, changes: dict[str, Any]) -> None:
    try:
        future = running.update_vad(timeout=10, **changes)
    except ValueError as exc:
        assert "turn_detection" in str(exc) or "update_vad" in str(exc) or "eou" in str(exc), str(exc)
    else:  # valid: the server answers either way, and the caller is told
        result = future.result(timeout=20)
        assert result.ok or result.detail
    assert running.state == "connected"


def test_commands_with_bad_values_are_refused_in_the_callers_thread(running: VoiceSession, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="send_text"):
        running.send_text("   ")
    with pytest.raises(ValueError, match="send_text"):
        running.send_text(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="SessionConfig"):
        running.update({"voice": "alloy"})  # type: ignore[arg-type]
    assert running.update_vad(threshold=0.55).result(timeout=20).ok
    assert running.state == "connected"
