"""The emulated session object: defaults, validation and merging of ``session.update``.

Pure functions on plain dicts (JSON as it is on the wire).  :func:`merge_session`
returns a new session dict or raises :class:`SessionError` naming the offending field
(``param`` such as ``"session.turn_detection.threshold"``), so the caller can answer
with an ``error`` event and leave the session unchanged.

Merging rules: top-level fields replace the old value; ``turn_detection`` with the same
``type`` as the current one (or without ``type``) is merged field by field, so
``{"turn_detection": {"silence_duration_ms": 800}}`` changes just that knob; a new
``type`` starts from that type's defaults.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from voicelive_nb.emulator.audio_formats import OUTPUT_FORMATS
from voicelive_nb.schema import EOU_MODELS, INPUT_FORMATS, INPUT_RATES, VOICE_TYPES
from voicelive_nb.schema import TURN_DETECTION_TYPES as VAD_TYPES


class SessionError(ValueError):
    """A ``session.update`` (or ``response.create``) field is wrong."""

    def __init__(self, code: str, message: str, param: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param


MODALITIES = ("text", "audio", "avatar", "animation")


def vad_defaults(vad_type: str, prefix_padding_ms: int = 400) -> dict[str, Any]:
    """Default ``turn_detection`` object of a VAD type (as the service fills it in)."""
    base: dict[str, Any] = {
        "type": vad_type,
        "threshold": 0.5,
        "prefix_padding_ms": prefix_padding_ms,
        "silence_duration_ms": 500,
        "create_response": True,
        "interrupt_response": True,
        "auto_truncate": False,
    }
    if vad_type != "server_vad":
        base["prefix_padding_ms"] = 420
        base["speech_duration_ms"] = 80
        base["remove_filler_words"] = False
    if vad_type in ("azure_semantic_vad", "azure_semantic_vad_multilingual"):
        base["languages"] = ["en"]
    return base


def default_session(session_id: str, model: str, api_version: str = "") -> dict[str, Any]:
    """The session object announced in ``session.created``.

    ``prefix_padding_ms`` defaults to 400 ms from API version 2026-04-10 on, 300 before.
    """
    padding = 300 if api_version and api_version < "2026-04-10" else 400
    return {
        "id": session_id,
        "object": "realtime.session",
        "model": model,
        "modalities": ["text", "audio"],
        "instructions": "",
        "voice": {"type": "azure-standard", "name": "en-US-Ava:DragonHDLatestNeural"},
        "input_audio_format": "pcm16",
        "input_audio_sampling_rate": 24000,
        "output_audio_format": "pcm16",
        "input_audio_transcription": None,
        "input_audio_noise_reduction": None,
        "input_audio_echo_cancellation": None,
        "turn_detection": vad_defaults("server_vad", padding),
        "tools": [],
        "tool_choice": "auto",
        "temperature": 0.8,
        "max_response_output_tokens": "inf",
    }


# --- small type checkers ---------------------------------------------------------------------


def _bad(param: str, what: str, value: Any) -> SessionError:
    return SessionError("invalid_type", f"{param} must be {what}, got {value!r}", param)


def _range(param: str, value: Any, lo: float, hi: float, *, integer: bool = False, hi_open: bool = False) -> Any:
    kind = "an integer" if integer else "a number"
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type:
        raise _bad(param, kind, value)
    if not lo <= value <= hi or (hi_open and value >= hi):  # `not <=` also refuses NaN
        upper = f"{hi})" if hi_open else f"{hi}]"
        raise SessionError("invalid_value", f"{param} must be in [{lo}, {upper}, got {value!r}", param)
    return value


def _bool(param: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _bad(param, "true or false", value)
    return value


def _str(param: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _bad(param, "a string", value)
    return value


def _choice(param: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise SessionError("invalid_value", f"{param} must be one of {list(choices)}, got {value!r}", param)
    return str(value)


def _dict(param: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(param, "an object", value)
    return value


def _unknown(param: str, keys: set[str], allowed: set[str]) -> None:
    extra = sorted(keys - allowed)
    if extra:
        raise SessionError("unknown_parameter", f"Unknown parameter: '{param}.{extra[0]}'.", f"{param}.{extra[0]}")


# --- sections ----------------------------------------------------------------------------------

_VAD_COMMON = {
    "type",
    "threshold",
    "prefix_padding_ms",
    "silence_duration_ms",
    "end_of_utterance_detection",
    "auto_truncate",
    "create_response",
    "interrupt_response",
    "speech_duration_ms",
}
_SEMANTIC = {"remove_filler_words", "languages"}


def _turn_detection(current: Any, update: Any, padding: int) -> dict[str, Any] | None:
    p = "session.turn_detection"
    if update is None:
        return None
    upd = _dict(p, update)
    fallback = current.get("type") if isinstance(current, dict) else "server_vad"
    new_type = _choice(p + ".type", upd.get("type", fallback), VAD_TYPES)
    allowed = _VAD_COMMON | (_SEMANTIC if new_type != "server_vad" else set())
    _unknown(p, set(upd), allowed)
    if isinstance(current, dict) and current.get("type") == new_type:
        out = dict(current)
    else:
        out = vad_defaults(new_type, padding)
    for key, value in upd.items():
        q = f"{p}.{key}"
        if key == "type":
            continue
        if key == "threshold":
            _range(q, value, 0.01, 1.0, hi_open=True)
        elif key in ("prefix_padding_ms", "silence_duration_ms", "speech_duration_ms"):
            _range(q, value, 0, 10_000, integer=True)
        elif key in ("auto_truncate", "create_response", "interrupt_response", "remove_filler_words"):
            _bool(q, value)
        elif key == "languages":
            if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
                raise _bad(q, "a list of language codes", value)
        elif key == "end_of_utterance_detection" and value is not None:
            eou = _dict(q, value)
            _unknown(q, set(eou), {"model", "threshold_level", "timeout_ms", "threshold"})
            _choice(q + ".model", eou.get("model"), EOU_MODELS)
            if "threshold_level" in eou:
                _choice(q + ".threshold_level", eou["threshold_level"], ("low", "medium", "high", "default"))
            if "timeout_ms" in eou:
                _range(q + ".timeout_ms", eou["timeout_ms"], 0, 60_000, integer=True)
        out[key] = copy.deepcopy(value)
    return out


def _voice(value: Any) -> Any:
    p = "session.voice"
    if isinstance(value, str):
        return value
    v = _dict(p, value)
    _choice(p + ".type", v.get("type"), VOICE_TYPES)
    _str(p + ".name", v.get("name"))
    if v["type"] == "azure-custom":
        _str(p + ".endpoint_id", v.get("endpoint_id"))
    if v.get("temperature") is not None:
        _range(p + ".temperature", v["temperature"], 0.0, 1.0)
    if v.get("rate") is not None:
        rate = _str(p + ".rate", v["rate"])
        try:
            value = float(rate)
        except ValueError:
            raise _bad(p + ".rate", 'a speaking-rate string between "0.5" and "1.5"', rate) from None
        _range(p + ".rate", value, 0.5, 1.5)
    return copy.deepcopy(v)


def _modalities(param: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise _bad(param, 'a non-empty list such as ["text", "audio"]', value)
    for m in value:
        _choice(param, m, MODALITIES)
    return list(value)


def _noise(value: Any) -> Any:
    if value is None:
        return None
    v = _dict("session.input_audio_noise_reduction", value)
    _choice(
        "session.input_audio_noise_reduction.type",
        v.get("type"),
        ("azure_deep_noise_suppression", "near_field", "far_field"),
    )
    return dict(v)


def _echo(value: Any) -> Any:
    if value is None:
        return None
    v = _dict("session.input_audio_echo_cancellation", value)
    _choice("session.input_audio_echo_cancellation.type", v.get("type"), ("server_echo_cancellation",))
    return dict(v)


def _transcription(value: Any) -> Any:
    if value is None:
        return None
    v = _dict("session.input_audio_transcription", value)
    _unknown(
        "session.input_audio_transcription", set(v), {"model", "language", "custom_speech", "phrase_list", "prompt"}
    )
    _str("session.input_audio_transcription.model", v.get("model"))
    return copy.deepcopy(v)


def _max_tokens(param: str, value: Any) -> Any:
    if value == "inf":
        return value
    return _range(param, value, 1, 4096, integer=True)


def _list(param: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _bad(param, "a list", value)
    return copy.deepcopy(value)


def _any(_value: Any) -> Any:
    return copy.deepcopy(_value)


_FIELDS: dict[str, Callable[[Any], Any]] = {
    "model": lambda v: _str("session.model", v),
    "modalities": lambda v: _modalities("session.modalities", v),
    "instructions": lambda v: _str("session.instructions", v),
    "voice": _voice,
    "input_audio_sampling_rate": lambda v: _rate(v),
    "input_audio_format": lambda v: _choice("session.input_audio_format", v, INPUT_FORMATS),
    "output_audio_format": lambda v: _choice("session.output_audio_format", v, tuple(OUTPUT_FORMATS)),
    "input_audio_noise_reduction": _noise,
    "input_audio_echo_cancellation": _echo,
    "input_audio_transcription": _transcription,
    "temperature": lambda v: _range("session.temperature", v, 0.6, 1.2),
    "max_response_output_tokens": lambda v: _max_tokens("session.max_response_output_tokens", v),
    "tools": lambda v: _list("session.tools", v),
    "tool_choice": _any,
    "parallel_tool_calls": lambda v: _bool("session.parallel_tool_calls", v),
    "avatar": _any,
    "animation": _any,
    "output_audio_timestamp_types": _any,
    "reasoning_effort": _any,
    "interim_response": _any,
    "include": _any,
    "metadata": lambda v: _dict("session.metadata", v),
    "agent": _any,
}


def _rate(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in INPUT_RATES:
        raise SessionError(
            "invalid_value",
            f"session.input_audio_sampling_rate must be one of {list(INPUT_RATES)}, got {value!r}",
            "session.input_audio_sampling_rate",
        )
    return value


def merge_session(current: dict[str, Any], update: Any, default_padding: int = 400) -> dict[str, Any]:
    """Validate ``update`` (the ``session`` of a ``session.update``) and merge it into ``current``.

    Returns a new dict; raises :class:`SessionError` (``current`` untouched) on the first bad field.
    """
    upd = _dict("session", update)
    _unknown("session", set(upd), {*_FIELDS, "turn_detection", "id", "object"})
    out = copy.deepcopy(current)
    for key, value in upd.items():
        if key in ("id", "object"):
            continue
        if key == "turn_detection":
            out[key] = _turn_detection(current.get("turn_detection"), value, default_padding)
        else:
            out[key] = _FIELDS[key](value)
    return out


def validate_response_params(params: Any) -> dict[str, Any]:
    """Check the ``response`` object of ``response.create``; returns it (or ``{}``)."""
    if params is None:
        return {}
    p = _dict("response", params)
    allowed = {
        "commit",
        "cancel_previous",
        "append_input_items",
        "input_items",
        "modalities",
        "instructions",
        "voice",
        "output_audio_format",
        "tools",
        "tool_choice",
        "temperature",
        "max_output_tokens",
        "pre_generated_assistant_message",
        "reasoning_effort",
        "metadata",
        "interim_response",
        "invoke_input",
        "conversation",
    }
    _unknown("response", set(p), allowed)
    if "modalities" in p:
        _modalities("response.modalities", p["modalities"])
    if "output_audio_format" in p:
        _choice("response.output_audio_format", p["output_audio_format"], tuple(OUTPUT_FORMATS))
    if "instructions" in p:
        _str("response.instructions", p["instructions"])
    if "voice" in p:
        _voice(p["voice"])
    if "max_output_tokens" in p:
        _max_tokens("response.max_output_tokens", p["max_output_tokens"])
    return p
