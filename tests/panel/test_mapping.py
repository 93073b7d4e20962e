"""The controls <-> config mapping, alone (no widgets, no session)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from voicelive_nb.config import SessionConfig
from voicelive_nb.panel.mapping import (
    LIVE_FIELDS,
    config_from_values,
    defaulted_fields,
    values_from_config,
    values_from_session,
)


def test_values_round_trip_through_a_config() -> None:
    config = SessionConfig(voice="alloy").with_vad(type="azure_semantic_vad", silence_duration_ms=650, threshold=0.4)
    values = values_from_config(config)
    assert set(values) <= set(LIVE_FIELDS)
    assert values["silence_duration_ms"] == 650 and values["voice"] == "alloy"
    assert config_from_values(SessionConfig(), values) == config
    assert values_from_session(config.to_dict()) == values  # what the server echoes back shows the same


def test_the_echo_mode_joins_the_servers_half_and_the_sessions() -> None:
    """The wire carries only server_echo_cancellation: the control shows it with the local half."""
    for mode in ("server", "local", "both", "off"):
        config = SessionConfig(echo_cancellation=mode)
        assert values_from_config(config)["echo_cancellation"] == mode
        shown = values_from_session(config.to_dict(), local_echo=config.local_echo_cancellation)
        assert shown["echo_cancellation"] == mode
        assert config_from_values(SessionConfig(), {"echo_cancellation": mode}).echo_cancellation == mode


def test_a_change_is_validated_and_server_vad_drops_semantic_only_settings() -> None:
    base = SessionConfig().with_vad(type="azure_semantic_vad", speech_duration_ms=120)
    changed = config_from_values(base, {"type": "server_vad", "speech_duration_ms": 200})
    assert changed.turn_detection is not None and changed.turn_detection.type == "server_vad"
    assert changed.turn_detection.speech_duration_ms is None
    with pytest.raises(ValueError, match="threshold"):
        config_from_values(base, {"threshold": 2.0})
    assert defaulted_fields(SessionConfig()) == ["speech_duration_ms"]
    assert values_from_session({"turn_detection": "not a dict"}) == {}  # a strange answer shows nothing


def test_the_mapping_imports_no_widgets() -> None:
    code = "import sys, voicelive_nb.panel.mapping; print('ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"
