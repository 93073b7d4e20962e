"""voicelive-nb: a Jupyter-first toolkit for Azure AI Voice Live.

Public API::

    from voicelive_nb import VoiceSession, SessionConfig, Panel, Recording, Emulator, tool

Heavy or optional pieces (sounddevice, ipywidgets, the emulator's speech engines)
are imported lazily, on first use of the name that needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from voicelive_nb._lazy import lazy_exports
from voicelive_nb._version import __version__

_LAZY = {
    "SessionConfig": "voicelive_nb.config",
    "VadSettings": "voicelive_nb.config",
    "ConnectionSettings": "voicelive_nb.connection",
    "EventRecord": "voicelive_nb.events",
    "VoiceSession": "voicelive_nb.session.voice_session",
    "SessionFailedError": "voicelive_nb.session.history",
    "Panel": "voicelive_nb.panel.panel",
    "Recording": "voicelive_nb.recording.recording",
    "Recorder": "voicelive_nb.recording.recorder",
    "Emulator": "voicelive_nb.emulator",
    "TurnTracker": "voicelive_nb.metrics",
    "replay": "voicelive_nb.tuning.replay",
    "tool": "voicelive_nb.session.tools",
    "Tool": "voicelive_nb.session.tools",
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
    from voicelive_nb.panel.panel import Panel
    from voicelive_nb.recording.recorder import Recorder
    from voicelive_nb.recording.recording import Recording
    from voicelive_nb.session.history import SessionFailedError
    from voicelive_nb.session.tools import Tool, tool
    from voicelive_nb.session.voice_session import VoiceSession
    from voicelive_nb.tuning.replay import replay


__getattr__, __dir__ = lazy_exports(globals(), _LAZY, __all__)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """jupyter_server's entry point (``jpserver_extensions = {"voicelive_nb": true}``, which
    installing the package writes into the environment's ``jupyter_server_config.d``): the browser
    audio's server extension, :mod:`voicelive_nb.audio.browser.serverext` (kernel websockets
    without Nagle's algorithm)."""
    return [{"module": "voicelive_nb.audio.browser.serverext"}]
