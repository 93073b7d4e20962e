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

Voice names are told apart by a documented rule (see :func:`~voicelive_nb.config.voice.voice_type_of`),
not by the reference quickstart's "contains a dash" guess.  Turn detection is
:class:`~voicelive_nb.config.turn_detection.VadSettings`.  The ``tools`` entries (a function's JSON
schema, the wire dicts, their checks) are :mod:`voicelive_nb.tool_config`'s.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voicelive_nb.config.checks import check_choice, check_names, check_range, fail, from_mapping
from voicelive_nb.config.turn_detection import SEMANTIC_ONLY, VadSettings
from voicelive_nb.config.voice import Voice
from voicelive_nb.schema import (
    INPUT_FORMATS,
    INPUT_RATES,
    MODALITIES,
    NOISE_REDUCTION_TYPES,
    OUTPUT_FORMATS,
    OUTPUT_RATES,
)
from voicelive_nb.tool_config import check_tools, tool_definition, tool_name

if TYPE_CHECKING:  # pragma: no cover
    from azure.ai.voicelive.models import RequestSession

__all__ = ["DEFAULT_INSTRUCTIONS", "DEFAULT_MODEL", "DEFAULT_VOICE", "ECHO_CANCELLATION_MODES", "SessionConfig"]

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
            raise fail("model", self.model, "expected a model deployment name such as 'gpt-realtime'")
        object.__setattr__(self, "voice", Voice.from_value(self.voice))
        if not isinstance(self.instructions, str):
            raise fail("instructions", self.instructions, "expected a string")
        if not isinstance(self.modalities, (str, list, tuple)):
            raise fail("modalities", self.modalities, "expected ('text', 'audio') or ('text',)")
        mods = (self.modalities,) if isinstance(self.modalities, str) else tuple(self.modalities)
        if not mods or any(m not in MODALITIES for m in mods) or len(set(mods)) != len(mods):
            raise fail("modalities", self.modalities, "expected ('text', 'audio') or ('text',)")
        object.__setattr__(self, "modalities", mods)
        td = self.turn_detection
        if isinstance(td, Mapping):
            object.__setattr__(self, "turn_detection", from_mapping(VadSettings, td, "turn_detection"))
        elif td is not None and not isinstance(td, VadSettings):
            raise fail("turn_detection", td, "expected VadSettings, a dict, or None for manual turns")
        check_choice("input_audio_sampling_rate", self.input_audio_sampling_rate, INPUT_RATES)
        check_choice("input_audio_format", self.input_audio_format, INPUT_FORMATS)
        if self.input_audio_format != "pcm16" and self.input_audio_sampling_rate != 8000:
            raise fail(
                "input_audio_sampling_rate",
                self.input_audio_sampling_rate,
                f"{self.input_audio_format} input needs input_audio_sampling_rate=8000",
            )
        check_choice("output_audio_format", self.output_audio_format, OUTPUT_FORMATS)
        if self.noise_reduction is not None:
            check_choice("noise_reduction", self.noise_reduction, NOISE_REDUCTION_TYPES)
        if isinstance(self.echo_cancellation, bool):  # the old on/off switch was the server's
            object.__setattr__(self, "echo_cancellation", "server" if self.echo_cancellation else "off")
        check_choice("echo_cancellation", self.echo_cancellation, ECHO_CANCELLATION_MODES)
        for name in ("transcription_model", "transcription_language"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise fail(name, value, "expected a non-empty string or None")
        if self.transcription_language is not None and self.transcription_model is None:
            raise fail(
                "transcription_language",
                self.transcription_language,
                "set transcription_model too (e.g. 'azure-speech')",
            )
        if self.temperature is not None:
            check_range("temperature", self.temperature, 0.6, 1.2, integer=False)
        tokens = self.max_response_output_tokens
        if tokens is not None and tokens != "inf":
            check_range("max_response_output_tokens", tokens, 1, 4096, integer=True)
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
        check_names(SessionConfig, changes, "SessionConfig")
        return dataclasses.replace(self, **changes)

    def with_vad(self, **changes: Any) -> SessionConfig:
        """A copy with turn-detection fields changed, e.g. ``with_vad(silence_duration_ms=800)``.

        Starts from the current turn detection (or the defaults, when it is off).
        Fields that only the other type takes are dropped when ``type`` changes.
        """
        check_names(VadSettings, changes, "turn_detection")
        base = self.turn_detection or VadSettings()
        if changes.get("type", base.type) == "server_vad" and base.type != "server_vad":
            cleared: dict[str, Any] = {name: None for name in SEMANTIC_ONLY if name not in changes}
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
            raise fail("session", data, "expected a JSON object (dict)")
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
                raise fail("tools", tools, "expected a list of tool dicts")
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
                raise fail("input_audio_transcription", tr, "expected a dict like {'model': 'azure-speech'} or null")
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
