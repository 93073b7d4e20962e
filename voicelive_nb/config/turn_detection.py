"""Turn detection settings: :class:`VadSettings` (server VAD or Azure's semantic VADs) and
:class:`EndOfUtterance` (semantic end-of-utterance detection), frozen and validated.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from voicelive_nb.config.checks import check_bool, check_choice, check_range, fail, from_mapping
from voicelive_nb.schema import EOU_LEVELS, EOU_MODELS, TURN_DETECTION_TYPES

__all__ = ["SEMANTIC_ONLY", "EndOfUtterance", "VadSettings"]


@dataclass(frozen=True)
class EndOfUtterance:
    """Azure's semantic end-of-utterance detection (``end_of_utterance_detection``)."""

    model: str = "semantic_detection_v1"
    threshold_level: str = "default"
    timeout_ms: int = 1000

    def __post_init__(self) -> None:
        check_choice("end_of_utterance_detection.model", self.model, EOU_MODELS)
        check_choice("end_of_utterance_detection.threshold_level", self.threshold_level, EOU_LEVELS)
        check_range("end_of_utterance_detection.timeout_ms", self.timeout_ms, 0, 10_000, integer=True)

    def to_dict(self) -> dict[str, Any]:
        """The wire dict."""
        return dataclasses.asdict(self)


SEMANTIC_ONLY = ("speech_duration_ms", "remove_filler_words", "languages")
"""The fields only the ``azure_semantic_vad*`` types take."""


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
        check_choice("turn_detection.type", self.type, TURN_DETECTION_TYPES)
        check_range("turn_detection.threshold", self.threshold, 0.01, 1.0, integer=False, high_open=True)
        check_range("turn_detection.prefix_padding_ms", self.prefix_padding_ms, 0, 5_000, integer=True)
        check_range("turn_detection.silence_duration_ms", self.silence_duration_ms, 20, 10_000, integer=True)
        if self.type == "server_vad":
            for name in SEMANTIC_ONLY:
                if getattr(self, name) is not None:
                    raise fail(
                        f"turn_detection.{name}",
                        getattr(self, name),
                        "only the azure_semantic_vad* types take it; set type='azure_semantic_vad'",
                    )
        if self.speech_duration_ms is not None:
            check_range("turn_detection.speech_duration_ms", self.speech_duration_ms, 0, 10_000, integer=True)
        if self.remove_filler_words is not None:
            check_bool("turn_detection.remove_filler_words", self.remove_filler_words)
        if self.languages is not None:
            if not isinstance(self.languages, (str, list, tuple)):
                raise fail("turn_detection.languages", self.languages, "expected language codes like ['en']")
            langs = (self.languages,) if isinstance(self.languages, str) else tuple(self.languages)
            if not all(isinstance(x, str) and x for x in langs):
                raise fail("turn_detection.languages", self.languages, "expected language codes like ['en']")
            object.__setattr__(self, "languages", langs)
        eou = self.end_of_utterance_detection
        if isinstance(eou, Mapping):
            object.__setattr__(self, "end_of_utterance_detection", from_mapping(EndOfUtterance, eou, "eou"))
        elif eou is not None and not isinstance(eou, EndOfUtterance):
            raise fail("turn_detection.end_of_utterance_detection", eou, "expected EndOfUtterance, a dict or None")
        for name in ("create_response", "interrupt_response", "auto_truncate"):
            check_bool(f"turn_detection.{name}", getattr(self, name))

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
