"""Session settings as frozen, validated dataclasses.

:class:`SessionConfig` holds what a Voice Live session is configured with (model, voice,
instructions, audio formats, turn detection, noise reduction, echo cancellation,
transcription, temperature).  Every value is checked when the object is made, so a bad
value raises :class:`ValueError` naming the field, the value and what is allowed --
before anything is sent.  Configs convert to the SDK's ``RequestSession`` and to the
wire dict of ``session.update``, and back from such a dict or a JSON file.

Example::

    cfg = SessionConfig(voice="alloy").with_vad(silence_duration_ms=800)
    cfg.to_dict()["turn_detection"]["silence_duration_ms"]  # 800

Voice names are told apart by a documented rule (see :func:`voice_type_of`), not by the
reference quickstart's "contains a dash" guess.  The ``tools`` entries (a function's JSON
schema, the wire dicts, their checks) are :mod:`voicelive_nb.tool_config`'s.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from voicelive_nb.schema import (
    AZURE_NATIVE_VOICES,
    EOU_LEVELS,
    EOU_MODELS,
    INPUT_FORMATS,
    INPUT_RATES,
    MODALITIES,
    NOISE_REDUCTION_TYPES,
    OPENAI_VOICES,
    OUTPUT_FORMATS,
    OUTPUT_RATES,
    TURN_DETECTION_TYPES,
    VOICE_TYPES,
)
from voicelive_nb.tool_config import check_tools, tool_definition, tool_name

if TYPE_CHECKING:  # pragma: no cover
    from azure.ai.voicelive.models import RequestSession

DEFAULT_MODEL = "gpt-realtime"
DEFAULT_VOICE = "en-US-Ava:DragonHDLatestNeural"
DEFAULT_INSTRUCTIONS = "You are a helpful voice assistant. Answer briefly and naturally."

ECHO_CANCELLATION_MODES = ("server", "local", "both", "off")
"""Where the assistant's own voice is removed from the mic audio (``SessionConfig.echo_cancellation``):

* ``"server"`` -- the service does it (``input_audio_echo_cancellation``); any mic, any
  speaker, nothing to install; it must find each reply's echo in what it receives.
* ``"local"`` -- this client does it before sending (WebRTC AEC3 from the ``livekit``
  package, aligned by the sound card's clocks); needs a sound-device mic and speaker.
  The recorded mic track is the cleaned audio (what was sent).
* ``"both"`` -- local, then the service (belt and braces).
* ``"off"`` -- headphones, or a browser mic with its own echo cancellation.
"""


# An Azure neural voice name: a locale (en-US, zh-CN, sr-Latn-RS, ...), a dash, a name,
# optionally a ":Variant" (DragonHDLatestNeural) -- e.g. "en-US-Ava:DragonHDLatestNeural",
# "en-US-JennyNeural", "de-DE-Seraphina:DragonHDLatestNeural".
_AZURE_VOICE_NAME = re.compile(r"^[a-z]{2,3}(-[A-Z][a-z]{3})?-[A-Z]{2}-[A-Za-z0-9]+(:[A-Za-z0-9]+)?$")

T = TypeVar("T")


def _fail(field_name: str, value: Any, allowed: str) -> ValueError:
    return ValueError(f"{field_name}={value!r} is not valid: {allowed}")


def _check_range(name: str, value: Any, low: float, high: float, *, integer: bool, high_open: bool = False) -> None:
    kinds = (int,) if integer else (int, float)
    ok_type = isinstance(value, kinds) and not isinstance(value, bool)
    right = "<" if high_open else "<="
    what = "an integer" if integer else "a number"
    if not ok_type or not (low <= value and (value < high if high_open else value <= high)):
        raise _fail(name, value, f"expected {what} with {low} <= {name} {right} {high}")


def _check_choice(name: str, value: Any, choices: tuple[Any, ...] | frozenset[Any]) -> None:
    if value not in choices:
        raise _fail(name, value, f"expected one of {', '.join(map(repr, sorted(choices, key=str)))}")


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise _fail(name, value, "expected True or False")


def voice_type_of(name: str) -> str:
    """Tell which kind of voice a bare voice name is.

    The rule, in order:

    1. one of OpenAI's voice names (``alloy``, ``ash``, ``ballad``, ``coral``, ``echo``, ``sage``,
       ``shimmer``, ``verse``, ``marin``, ``cedar``) -> ``"openai"``;
    2. one of the Azure realtime-native names (``ava``, ``andrew``, ...; lower case) ->
       ``"azure-realtime-native"``;
    3. an Azure neural voice name, i.e. a locale, a dash and a name with an optional
       ``:Variant`` (``en-US-Ava:DragonHDLatestNeural``, ``en-US-JennyNeural``) ->
       ``"azure-standard"``;
    4. anything else is refused: pass ``Voice(name, type=...)`` to say what it is.
    """
    if name in OPENAI_VOICES:
        return "openai"
    if name in AZURE_NATIVE_VOICES:
        return "azure-realtime-native"
    if _AZURE_VOICE_NAME.match(name):
        return "azure-standard"
    raise ValueError(
        f"voice={name!r} is not valid: not an OpenAI voice ({', '.join(sorted(OPENAI_VOICES))}), "
        "not an Azure realtime-native voice, and not an Azure voice name like "
        "'en-US-Ava:DragonHDLatestNeural'. Fix the name, or say its kind: "
        f"Voice({name!r}, type=...) with type one of {', '.join(VOICE_TYPES)}"
    )


@dataclass(frozen=True)
class Voice:
    """The assistant's voice.

    Args:
        name: Voice name, e.g. ``"en-US-Ava:DragonHDLatestNeural"`` or ``"alloy"``.
        type: One of :data:`VOICE_TYPES`; None infers it with :func:`voice_type_of`.
        temperature: Azure voices only, 0.0-1.0.
        rate: Azure voices only, speaking rate as a string "0.5"-"1.5".
        endpoint_id: Custom voice deployment id (``azure-custom`` only, required there).
    """

    name: str
    type: str | None = None
    temperature: float | None = None
    rate: str | None = None
    endpoint_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise _fail("voice.name", self.name, "expected a non-empty voice name such as 'alloy'")
        for name in ("type", "rate", "endpoint_id"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise _fail(f"voice.{name}", value, "expected a string")
        if self.type is None:
            kind = "azure-custom" if self.endpoint_id else voice_type_of(self.name)
            object.__setattr__(self, "type", kind)
        _check_choice("voice.type", self.type, VOICE_TYPES)
        azure = self.type in ("azure-standard", "azure-custom", "azure-personal")
        if self.temperature is not None:
            if not azure:
                raise _fail("voice.temperature", self.temperature, "only Azure voices take a temperature")
            _check_range("voice.temperature", self.temperature, 0.0, 1.0, integer=False)
        if self.rate is not None:
            if not azure:
                raise _fail("voice.rate", self.rate, "only Azure voices take a rate")
            try:
                rate = float(self.rate)
            except (TypeError, ValueError):
                rate = -1.0
            if not 0.5 <= rate <= 1.5:
                raise _fail("voice.rate", self.rate, 'expected a string from "0.5" to "1.5"')
        if self.type == "azure-custom" and not self.endpoint_id:
            raise _fail("voice.endpoint_id", self.endpoint_id, "an azure-custom voice needs its endpoint_id")

    def to_dict(self) -> dict[str, Any]:
        """The ``voice`` value of a session: a dict, with only the fields that are set."""
        out: dict[str, Any] = {"type": self.type, "name": self.name}
        for key in ("temperature", "rate", "endpoint_id"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    @classmethod
    def from_value(cls, value: Voice | str | Mapping[str, Any]) -> Voice:
        """A Voice from a Voice, a bare name, or a session's ``voice`` dict."""
        if isinstance(value, Voice):
            return value
        if isinstance(value, str):
            return cls(value)
        if isinstance(value, Mapping):
            return _from_mapping(cls, value, "voice")
        raise _fail("voice", value, "expected a name, a Voice or a dict with type and name")


@dataclass(frozen=True)
class EndOfUtterance:
    """Azure's semantic end-of-utterance detection (``end_of_utterance_detection``)."""

    model: str = "semantic_detection_v1"
    threshold_level: str = "default"
    timeout_ms: int = 1000

    def __post_init__(self) -> None:
        _check_choice("end_of_utterance_detection.model", self.model, EOU_MODELS)
        _check_choice("end_of_utterance_detection.threshold_level", self.threshold_level, EOU_LEVELS)
        _check_range("end_of_utterance_detection.timeout_ms", self.timeout_ms, 0, 10_000, integer=True)

    def to_dict(self) -> dict[str, Any]:
        """The wire dict."""
        return dataclasses.asdict(self)


_SEMANTIC_ONLY = ("speech_duration_ms", "remove_filler_words", "languages")


@dataclass(frozen=True)
class VadSettings:
    """Turn detection: ``server_vad`` or one of Azure's semantic VADs.

    Defaults follow the reference quickstart (threshold 0.5, 300 ms prefix padding,
    500 ms of silence ends a turn).  ``speech_duration_ms``, ``remove_filler_words``
    and ``languages`` exist for the ``azure_semantic_vad*`` types only.
    """

    type: str = "server_vad"
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    speech_duration_ms: int | None = None
    remove_filler_words: bool | None = None
    languages: tuple[str, ...] | None = None
    end_of_utterance_detection: EndOfUtterance | None = None
    create_response: bool = True
    interrupt_response: bool = True
    auto_truncate: bool = False

    def __post_init__(self) -> None:
        _check_choice("turn_detection.type", self.type, TURN_DETECTION_TYPES)
        _check_range("turn_detection.threshold", self.threshold, 0.01, 1.0, integer=False, high_open=True)
        _check_range("turn_detection.prefix_padding_ms", self.prefix_padding_ms, 0, 5_000, integer=True)
        _check_range("turn_detection.silence_duration_ms", self.silence_duration_ms, 20, 10_000, integer=True)
        if self.type == "server_vad":
            for name in _SEMANTIC_ONLY:
                if getattr(self, name) is not None:
                    raise _fail(
                        f"turn_detection.{name}",
                        getattr(self, name),
                        "only the azure_semantic_vad* types take it; set type='azure_semantic_vad'",
                    )
        if self.speech_duration_ms is not None:
            _check_range("turn_detection.speech_duration_ms", self.speech_duration_ms, 0, 10_000, integer=True)
        if self.remove_filler_words is not None:
            _check_bool("turn_detection.remove_filler_words", self.remove_filler_words)
        if self.languages is not None:
            if not isinstance(self.languages, (str, list, tuple)):
                raise _fail("turn_detection.languages", self.languages, "expected language codes like ['en']")
            langs = (self.languages,) if isinstance(self.languages, str) else tuple(self.languages)
            if not all(isinstance(x, str) and x for x in langs):
                raise _fail("turn_detection.languages", self.languages, "expected language codes like ['en']")
            object.__setattr__(self, "languages", langs)
        eou = self.end_of_utterance_detection
        if isinstance(eou, Mapping):
            object.__setattr__(self, "end_of_utterance_detection", _from_mapping(EndOfUtterance, eou, "eou"))
        elif eou is not None and not isinstance(eou, EndOfUtterance):
            raise _fail("turn_detection.end_of_utterance_detection", eou, "expected EndOfUtterance, a dict or None")
        for name in ("create_response", "interrupt_response", "auto_truncate"):
            _check_bool(f"turn_detection.{name}", getattr(self, name))

    def to_dict(self) -> dict[str, Any]:
        """The ``turn_detection`` wire dict (fields left unset are omitted)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, EndOfUtterance):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out


@dataclass(frozen=True)
class SessionConfig:
    """Everything a Voice Live session is configured with.

    Args:
        model: Realtime model deployment, sent on connect (``gpt-realtime``).
        voice: A voice name (see :func:`voice_type_of`) or a :class:`Voice`.
        instructions: The system prompt.
        modalities: ``("text", "audio")`` or ``("text",)``.
        turn_detection: :class:`VadSettings`, or None for manual commit + response.create.
        input_audio_sampling_rate: 8000, 16000 or 24000 Hz.
        input_audio_format / output_audio_format: see :data:`INPUT_FORMATS`, :data:`OUTPUT_FORMATS`.
        noise_reduction: one of :data:`NOISE_REDUCTION_TYPES`, or None for off.
        echo_cancellation: Where the assistant's voice is removed from the mic audio:
            ``"server"`` (default), ``"local"``, ``"both"`` or ``"off"`` (see
            :data:`ECHO_CANCELLATION_MODES`; ``True``/``False`` are read as ``"server"``/``"off"``).
            Only the server part is sent; the session runs the local part.
        transcription_model: e.g. ``"azure-speech"`` or ``"whisper-1"``; None = no input transcription.
        transcription_language: optional language hint for it, e.g. ``"en"``.
        temperature: 0.6-1.2, None = the service default (0.8).
        max_response_output_tokens: 1-4096 or ``"inf"``, None = the service default.
        tools: What the model may call: Python functions (their JSON schema comes from the
            signature, type hints and docstring; see :func:`~voicelive_nb.tool_config.function_definition`), ``@tool``
            objects, or tool dicts as on the wire (``{"type": "function", ...}`` or an MCP
            server ``{"type": "mcp", "server_label", "server_url", ...}``).  The session runs
            the functions (:class:`~voicelive_nb.session.VoiceSession`); dicts are sent as they are.
        tool_choice: ``"auto"``, ``"none"``, ``"required"`` or ``{"type": "function", "name": N}``.
        parallel_tool_calls: Whether the model may make several calls in one response
            (None = the service default, true).
    """

    model: str = DEFAULT_MODEL
    voice: Voice = field(default_factory=lambda: Voice(DEFAULT_VOICE))
    instructions: str = DEFAULT_INSTRUCTIONS
    modalities: tuple[str, ...] = ("text", "audio")
    turn_detection: VadSettings | None = field(default_factory=VadSettings)
    input_audio_sampling_rate: int = 24000
    input_audio_format: str = "pcm16"
    output_audio_format: str = "pcm16"
    noise_reduction: str | None = "azure_deep_noise_suppression"
    echo_cancellation: str = "server"
    transcription_model: str | None = None
    transcription_language: str | None = None
    temperature: float | None = None
    max_response_output_tokens: int | str | None = None
    tools: tuple[Any, ...] = ()
    tool_choice: str | Mapping[str, Any] = "auto"
    parallel_tool_calls: bool | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise _fail("model", self.model, "expected a model deployment name such as 'gpt-realtime'")
        object.__setattr__(self, "voice", Voice.from_value(self.voice))
        if not isinstance(self.instructions, str):
            raise _fail("instructions", self.instructions, "expected a string")
        if not isinstance(self.modalities, (str, list, tuple)):
            raise _fail("modalities", self.modalities, "expected ('text', 'audio') or ('text',)")
        mods = (self.modalities,) if isinstance(self.modalities, str) else tuple(self.modalities)
        if not mods or any(m not in MODALITIES for m in mods) or len(set(mods)) != len(mods):
            raise _fail("modalities", self.modalities, "expected ('text', 'audio') or ('text',)")
        object.__setattr__(self, "modalities", mods)
        td = self.turn_detection
        if isinstance(td, Mapping):
            object.__setattr__(self, "turn_detection", _from_mapping(VadSettings, td, "turn_detection"))
        elif td is not None and not isinstance(td, VadSettings):
            raise _fail("turn_detection", td, "expected VadSettings, a dict, or None for manual turns")
        _check_choice("input_audio_sampling_rate", self.input_audio_sampling_rate, INPUT_RATES)
        _check_choice("input_audio_format", self.input_audio_format, INPUT_FORMATS)
        if self.input_audio_format != "pcm16" and self.input_audio_sampling_rate != 8000:
            raise _fail(
                "input_audio_sampling_rate",
                self.input_audio_sampling_rate,
                f"{self.input_audio_format} input needs input_audio_sampling_rate=8000",
            )
        _check_choice("output_audio_format", self.output_audio_format, OUTPUT_FORMATS)
        if self.noise_reduction is not None:
            _check_choice("noise_reduction", self.noise_reduction, NOISE_REDUCTION_TYPES)
        if isinstance(self.echo_cancellation, bool):  # the old on/off switch was the server's
            object.__setattr__(self, "echo_cancellation", "server" if self.echo_cancellation else "off")
        _check_choice("echo_cancellation", self.echo_cancellation, ECHO_CANCELLATION_MODES)
        for name in ("transcription_model", "transcription_language"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise _fail(name, value, "expected a non-empty string or None")
        if self.transcription_language is not None and self.transcription_model is None:
            raise _fail(
                "transcription_language",
                self.transcription_language,
                "set transcription_model too (e.g. 'azure-speech')",
            )
        if self.temperature is not None:
            _check_range("temperature", self.temperature, 0.6, 1.2, integer=False)
        tokens = self.max_response_output_tokens
        if tokens is not None and tokens != "inf":
            _check_range("max_response_output_tokens", tokens, 1, 4096, integer=True)
        object.__setattr__(self, "tools", check_tools(self.tools, self.tool_choice, self.parallel_tool_calls))

    @property
    def tool_names(self) -> tuple[str, ...]:
        """Names of the function tools and labels of the MCP servers, in order."""
        return tuple(tool_name(tool_definition(t)) for t in self.tools)

    # -- derived values ---------------------------------------------------------------
    @property
    def server_echo_cancellation(self) -> bool:
        """The service cancels the echo (``echo_cancellation`` is ``"server"`` or ``"both"``)."""
        return self.echo_cancellation in ("server", "both")

    @property
    def local_echo_cancellation(self) -> bool:
        """This client cancels the echo (``echo_cancellation`` is ``"local"`` or ``"both"``)."""
        return self.echo_cancellation in ("local", "both")

    @property
    def output_rate(self) -> int:
        """Sample rate of the assistant's audio in Hz."""
        return OUTPUT_RATES[self.output_audio_format]

    # -- copies ---------------------------------------------------------------------------
    def replace(self, **changes: Any) -> SessionConfig:
        """A validated copy with ``changes`` applied (unknown names raise ValueError)."""
        _check_names(SessionConfig, changes, "SessionConfig")
        return dataclasses.replace(self, **changes)

    def with_vad(self, **changes: Any) -> SessionConfig:
        """A copy with turn-detection fields changed, e.g. ``with_vad(silence_duration_ms=800)``.

        Starts from the current turn detection (or the defaults, when it is off).
        Fields that only the other type takes are dropped when ``type`` changes.
        """
        _check_names(VadSettings, changes, "turn_detection")
        base = self.turn_detection or VadSettings()
        if changes.get("type", base.type) == "server_vad" and base.type != "server_vad":
            cleared: dict[str, Any] = {name: None for name in _SEMANTIC_ONLY if name not in changes}
            base = dataclasses.replace(base, **cleared)
        return dataclasses.replace(self, turn_detection=dataclasses.replace(base, **changes))

    def without_vad(self) -> SessionConfig:
        """A copy with turn detection off (manual commit + response.create)."""
        return dataclasses.replace(self, turn_detection=None)

    # -- conversions ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The ``session`` dict of a ``session.update`` event (JSON-ready)."""
        out: dict[str, Any] = {
            "model": self.model,
            "modalities": list(self.modalities),
            "instructions": self.instructions,
            "voice": self.voice.to_dict(),
            "input_audio_sampling_rate": self.input_audio_sampling_rate,
            "input_audio_format": self.input_audio_format,
            "output_audio_format": self.output_audio_format,
            "turn_detection": self.turn_detection.to_dict() if self.turn_detection else None,
            "input_audio_noise_reduction": {"type": self.noise_reduction} if self.noise_reduction else None,
            "input_audio_echo_cancellation": (
                {"type": "server_echo_cancellation"} if self.server_echo_cancellation else None
            ),
        }
        if self.transcription_model:
            transcription: dict[str, Any] = {"model": self.transcription_model}
            if self.transcription_language:
                transcription["language"] = self.transcription_language
            out["input_audio_transcription"] = transcription
        if self.temperature is not None:
            out["temperature"] = self.temperature
        if self.max_response_output_tokens is not None:
            out["max_response_output_tokens"] = self.max_response_output_tokens
        out["tools"] = [tool_definition(t) for t in self.tools]
        out["tool_choice"] = dict(self.tool_choice) if isinstance(self.tool_choice, Mapping) else self.tool_choice
        if self.parallel_tool_calls is not None:
            out["parallel_tool_calls"] = self.parallel_tool_calls
        return out

    def to_request_session(self) -> RequestSession:
        """The SDK's typed ``RequestSession`` for ``connection.session.update(session=...)``."""
        from azure.ai.voicelive.models import RequestSession

        return RequestSession(self.to_dict())

    def to_json(self, indent: int | None = 2) -> str:
        """``to_dict()`` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SessionConfig:
        """Parse a ``session`` dict (the shape :meth:`to_dict` writes, or Azure's docs show).

        Unknown keys raise ValueError naming them.  Keys the service adds in its
        answers (``id``, ``object``, ``tools``, ...) are ignored when empty.
        """
        if not isinstance(data, Mapping):
            raise _fail("session", data, "expected a JSON object (dict)")
        d = dict(data)
        for ignorable in ("id", "object", "expires_at", "agent"):
            if not d.get(ignorable):
                d.pop(ignorable, None)
        kwargs: dict[str, Any] = {}
        simple = (
            "model",
            "instructions",
            "input_audio_sampling_rate",
            "input_audio_format",
            "output_audio_format",
            "temperature",
            "max_response_output_tokens",
            "tool_choice",
            "parallel_tool_calls",
        )
        if "tools" in d:
            tools = d.pop("tools")
            if not isinstance(tools, (list, tuple)):
                raise _fail("tools", tools, "expected a list of tool dicts")
            kwargs["tools"] = tuple(tools)
        for key in simple:
            if key in d:
                kwargs[key] = d.pop(key)
        if "modalities" in d:
            kwargs["modalities"] = d.pop("modalities")
        if "voice" in d:
            kwargs["voice"] = d.pop("voice")
        if "turn_detection" in d:
            kwargs["turn_detection"] = d.pop("turn_detection")
        if "input_audio_noise_reduction" in d:
            nr = d.pop("input_audio_noise_reduction")
            kwargs["noise_reduction"] = nr.get("type") if isinstance(nr, Mapping) else nr
        if "input_audio_echo_cancellation" in d:  # (the wire knows the server's part only)
            kwargs["echo_cancellation"] = "off" if d.pop("input_audio_echo_cancellation") is None else "server"
        if "input_audio_transcription" in d:
            tr = d.pop("input_audio_transcription")
            if isinstance(tr, Mapping):
                kwargs["transcription_model"] = tr.get("model")
                kwargs["transcription_language"] = tr.get("language")
            elif tr is not None:
                raise _fail("input_audio_transcription", tr, "expected a dict like {'model': 'azure-speech'} or null")
        if d:
            raise ValueError(
                f"unknown session field(s): {', '.join(sorted(d))}. Known: model, modalities, instructions, "
                "voice, input_audio_sampling_rate, input_audio_format, output_audio_format, turn_detection, "
                "input_audio_noise_reduction, input_audio_echo_cancellation, input_audio_transcription, "
                "temperature, max_response_output_tokens, tools, tool_choice, parallel_tool_calls"
            )
        return cls(**kwargs)

    @classmethod
    def from_file(cls, path: str | Path) -> SessionConfig:
        """Load a config from a JSON file holding a ``session`` dict."""
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"config file {str(p)!r} does not exist") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"config file {str(p)!r} is not valid JSON: {exc}") from None
        if isinstance(data, Mapping) and "session" in data and isinstance(data["session"], Mapping):
            data = data["session"]
        return cls.from_dict(data)


def _check_names(cls: type, changes: Mapping[str, Any], what: str) -> None:
    known = {f.name for f in fields(cls)}
    unknown = sorted(map(str, set(changes) - known))
    if unknown:
        raise ValueError(f"unknown {what} field(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}")


def _from_mapping(cls: type[T], data: Mapping[str, Any], what: str) -> T:
    _check_names(cls, data, what)
    required = [
        f.name
        for f in fields(cls)  # type: ignore[arg-type]
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    missing = [name for name in required if name not in data]
    if missing:
        raise ValueError(f"{what} is missing {', '.join(missing)}: got {dict(data)!r}")
    return cls(**data)
