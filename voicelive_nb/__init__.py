"""voicelive-nb: a Jupyter-first toolkit for Azure AI Voice Live.

Public API::

    from voicelive_nb import VoiceSession, SessionConfig, Panel, Recording, Emulator, tool

Heavy or optional pieces (sounddevice, ipywidgets, the emulator's speech engines)
are imported lazily, on first use of the name that needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "SessionConfig": "voicelive_nb.config",
    "VadSettings": "voicelive_nb.config",
    "ConnectionSettings": "voicelive_nb.connection",
    "EventRecord": "voicelive_nb.events",
    "VoiceSession": "voicelive_nb.session",
    "SessionFailedError": "voicelive_nb.session",
    "Panel": "voicelive_nb.panel",
    "Recording": "voicelive_nb.recording",
    "Recorder": "voicelive_nb.recording",
    "Emulator": "voicelive_nb.emulator",
    "TurnTracker": "voicelive_nb.metrics",
    "replay": "voicelive_nb.replay",
    "tool": "voicelive_nb.session_tools",
    "Tool": "voicelive_nb.session_tools",
}

__all__ = [
    "ConnectionSettings",
    "Emulator",
    "EventRecord",
    "Panel",
    "Recorder",
    "Recording",
    "SessionConfig",
    "SessionFailedError",
    "Tool",
    "TurnTracker",
    "VadSettings",
    "VoiceSession",
    "__version__",
    "replay",
    "tool",
]

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.config import SessionConfig, VadSettings
    from voicelive_nb.connection import ConnectionSettings
    from voicelive_nb.emulator import Emulator
    from voicelive_nb.events import EventRecord
    from voicelive_nb.metrics import TurnTracker
    from voicelive_nb.panel import Panel
    from voicelive_nb.recording import Recorder, Recording
    from voicelive_nb.replay import replay
    from voicelive_nb.session import SessionFailedError, VoiceSession
    from voicelive_nb.session_tools import Tool, tool


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'voicelive_nb' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
