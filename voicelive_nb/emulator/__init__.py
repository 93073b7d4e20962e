"""A local Voice Live server for offline use and tests.

    from voicelive_nb.emulator import Emulator, EmulatorSettings

    with Emulator() as emu:          # ws://127.0.0.1:<port>/voice-live/realtime
        print(emu.endpoint)          # pass to azure.ai.voicelive.aio.connect(endpoint=...)

Pieces: :mod:`.core` (sans-I/O conversation), :mod:`.server` (aiohttp shell),
:mod:`.turns` + :mod:`.vad` (turn detection), :mod:`.tts` (eSpeak NG), :mod:`.asr`
(faster-whisper), :mod:`.faults`.  Importing this package is cheap: aiohttp, the VAD,
TTS and ASR engines load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "Emulator": "voicelive_nb.emulator.server",
    "EmulatorSettings": "voicelive_nb.emulator.settings",
    "Faults": "voicelive_nb.emulator.faults",
    "Conversation": "voicelive_nb.emulator.core",
    "default_responder": "voicelive_nb.emulator.responder",
}

__all__ = ["Conversation", "Emulator", "EmulatorSettings", "Faults", "default_responder"]

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.emulator.core import Conversation
    from voicelive_nb.emulator.faults import Faults
    from voicelive_nb.emulator.responder import default_responder
    from voicelive_nb.emulator.server import Emulator
    from voicelive_nb.emulator.settings import EmulatorSettings


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'voicelive_nb.emulator' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
