"""The assistant's voice: :class:`Voice`, and the documented rule that tells voice names apart.

Voice names are told apart by :func:`voice_type_of`, not by the reference quickstart's
"contains a dash" guess.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from voicelive_nb.config.checks import check_choice, check_range, fail, from_mapping
from voicelive_nb.schema import AZURE_NATIVE_VOICES, OPENAI_VOICES, VOICE_TYPES

__all__ = ["Voice", "voice_type_of"]

# An Azure neural voice name: a locale (en-US, zh-CN, sr-Latn-RS, ...), a dash, a name,
# optionally a ":Variant" (DragonHDLatestNeural) -- e.g. "en-US-Ava:DragonHDLatestNeural",
# "en-US-JennyNeural", "de-DE-Seraphina:DragonHDLatestNeural".
_AZURE_VOICE_NAME = re.compile(r"^[a-z]{2,3}(-[A-Z][a-z]{3})?-[A-Z]{2}-[A-Za-z0-9]+(:[A-Za-z0-9]+)?$")


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
            raise fail("voice.name", self.name, "expected a non-empty voice name such as 'alloy'")
        for name in ("type", "rate", "endpoint_id"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise fail(f"voice.{name}", value, "expected a string")
        if self.type is None:
            kind = "azure-custom" if self.endpoint_id else voice_type_of(self.name)
            object.__setattr__(self, "type", kind)
        check_choice("voice.type", self.type, VOICE_TYPES)
        azure = self.type in ("azure-standard", "azure-custom", "azure-personal")
        if self.temperature is not None:
            if not azure:
                raise fail("voice.temperature", self.temperature, "only Azure voices take a temperature")
            check_range("voice.temperature", self.temperature, 0.0, 1.0, integer=False)
        if self.rate is not None:
            if not azure:
                raise fail("voice.rate", self.rate, "only Azure voices take a rate")
            try:
                rate = float(self.rate)
            except (TypeError, ValueError):
                rate = -1.0
            if not 0.5 <= rate <= 1.5:
                raise fail("voice.rate", self.rate, 'expected a string from "0.5" to "1.5"')
        if self.type == "azure-custom" and not self.endpoint_id:
            raise fail("voice.endpoint_id", self.endpoint_id, "an azure-custom voice needs its endpoint_id")

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
            return from_mapping(cls, value, "voice")
        raise fail("voice", value, "expected a name, a Voice or a dict with type and name")
