"""Session settings as frozen, validated dataclasses (a bad value raises ValueError before anything is sent).

==================  =============================================================
``session_config``  SessionConfig: everything a session is configured with; to and
                    from the wire dict, the SDK's RequestSession, JSON files
``turn_detection``  VadSettings, EndOfUtterance: server VAD or semantic VAD
``voice``           Voice, voice_type_of: the assistant's voice and its kind
``checks``          the checks they share (ValueError naming field, value, range)
==================  =============================================================

Names are imported lazily, like every part's face.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from voicelive_nb._lazy import lazy_exports

_LAZY = {
    "SessionConfig": "voicelive_nb.config.session_config",
    "ECHO_CANCELLATION_MODES": "voicelive_nb.config.session_config",
    "DEFAULT_INSTRUCTIONS": "voicelive_nb.config.session_config",
    "DEFAULT_MODEL": "voicelive_nb.config.session_config",
    "DEFAULT_VOICE": "voicelive_nb.config.session_config",
    "VadSettings": "voicelive_nb.config.turn_detection",
    "EndOfUtterance": "voicelive_nb.config.turn_detection",
    "Voice": "voicelive_nb.config.voice",
    "voice_type_of": "voicelive_nb.config.voice",
}

__all__ = [
    "DEFAULT_INSTRUCTIONS",
    "DEFAULT_MODEL",
    "DEFAULT_VOICE",
    "ECHO_CANCELLATION_MODES",
    "EndOfUtterance",
    "SessionConfig",
    "VadSettings",
    "Voice",
    "voice_type_of",
]

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.config.session_config import (
        DEFAULT_INSTRUCTIONS,
        DEFAULT_MODEL,
        DEFAULT_VOICE,
        ECHO_CANCELLATION_MODES,
        SessionConfig,
    )
    from voicelive_nb.config.turn_detection import EndOfUtterance, VadSettings
    from voicelive_nb.config.voice import Voice, voice_type_of

__getattr__, __dir__ = lazy_exports(globals(), _LAZY, __all__)
