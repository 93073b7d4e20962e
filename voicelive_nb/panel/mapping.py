"""The pure mapping between the panel's controls and a session config (no widgets, no session).

A control is named by the setting it sets (``silence_duration_ms``, ``voice`` ...).  Its
value is what the widget holds (a number, a name, ``""`` for "off").  Three directions:

* :func:`config_from_values`: a config with some controls' values applied (validated:
  ValueError names the bad one) -- what a change sends;
* :func:`values_from_config` / :func:`values_from_session`: the controls' values for a
  config, or for what the server acknowledged -- what the controls show;
* :func:`defaulted_fields`: the controls a config leaves to the service's default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from voicelive_nb.config import EndOfUtterance, SessionConfig, Voice

__all__ = [
    "LIVE_FIELDS",
    "SERVICE_DEFAULTS",
    "VAD_FIELDS",
    "config_from_values",
    "defaulted_fields",
    "echo_mode",
    "values_from_config",
    "values_from_session",
]

VAD_FIELDS = (
    "type",
    "threshold",
    "prefix_padding_ms",
    "silence_duration_ms",
    "speech_duration_ms",
    "end_of_utterance_detection",
    "create_response",
    "interrupt_response",
)
"""Turn-detection controls, by the ``VadSettings`` field each sets."""

LIVE_FIELDS = (*VAD_FIELDS, "noise_reduction", "echo_cancellation", "voice", "instructions")
"""Controls whose changes are sent to a running session (debounced ``session.update``)."""

_SEMANTIC_ONLY = ("speech_duration_ms",)

SERVICE_DEFAULTS: dict[str, int] = {"speech_duration_ms": 80}
"""What the service uses for a setting the config leaves unset (None); its control shows this
value marked "(service default)" until it is set."""


def defaulted_fields(config: SessionConfig) -> list[str]:
    """The controls of :data:`SERVICE_DEFAULTS` that ``config`` leaves unset."""
    vad = config.turn_detection
    return [name for name in SERVICE_DEFAULTS if vad is None or getattr(vad, name, None) is None]


def values_from_config(config: SessionConfig) -> dict[str, Any]:
    """Widget values for the live controls, from a config."""
    vad = config.turn_detection
    eou = vad.end_of_utterance_detection if vad else None
    values: dict[str, Any] = {
        "noise_reduction": config.noise_reduction or "",
        "echo_cancellation": config.echo_cancellation,
        "voice": config.voice.name,
        "instructions": config.instructions,
    }
    if vad is not None:
        values.update(
            type=vad.type,
            threshold=vad.threshold,
            prefix_padding_ms=vad.prefix_padding_ms,
            silence_duration_ms=vad.silence_duration_ms,
            create_response=vad.create_response,
            interrupt_response=vad.interrupt_response,
            end_of_utterance_detection=eou.threshold_level if eou else "",
        )
        if vad.speech_duration_ms is not None:
            values["speech_duration_ms"] = vad.speech_duration_ms
    return values


def echo_mode(server: bool, local: bool) -> str:
    """The ``echo_cancellation`` mode of a server half and a local half."""
    return ("both" if local else "server") if server else ("local" if local else "off")


def values_from_session(session: Mapping[str, Any], local_echo: bool = False) -> dict[str, Any]:
    """Widget values for what the server acknowledged (a ``session.updated`` session dict).

    The server knows only its half of ``echo_cancellation``; ``local_echo`` is the session's
    own half (whether its local canceller is on).
    """
    try:
        config = SessionConfig.from_dict(session)
    except (ValueError, TypeError, KeyError):
        return {}
    values = values_from_config(config)
    values["echo_cancellation"] = echo_mode(config.server_echo_cancellation, local_echo)
    return values


def config_from_values(base: SessionConfig, changes: Mapping[str, Any]) -> SessionConfig:
    """``base`` with the changed control values applied (ValueError names a bad one)."""
    vad: dict[str, Any] = {}
    top: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "end_of_utterance_detection":
            vad[name] = EndOfUtterance(threshold_level=value) if value else None
        elif name in VAD_FIELDS:
            vad[name] = value
        elif name == "noise_reduction":
            top[name] = value or None
        elif name == "voice":
            top[name] = Voice.from_value(str(value).strip())
        else:
            top[name] = value
    kind = vad.get("type", base.turn_detection.type if base.turn_detection else "server_vad")
    if kind == "server_vad":
        for name in _SEMANTIC_ONLY:
            vad.pop(name, None)
    cfg = base.with_vad(**vad) if vad else base
    return cfg.replace(**top) if top else cfg
