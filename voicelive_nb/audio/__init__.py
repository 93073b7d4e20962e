"""Audio for voicelive-nb: the barge-in player, sources (mics) and sinks (speakers).

============================  =====================================================
``Player``                    preallocated int16 ring with generation-based barge-in
``AudioSource``/``AudioSink`` the interfaces the session engine uses
``DeviceMic``/``DeviceSpeaker``  sounddevice (PortAudio) streams
``WavMic``/``CaptureSpeaker``  WAV-file mic and in-memory / WAV-file speaker
``levels``                    RMS and peak dBFS of a block
``resample``/``Resampler``    band-limited sample-rate conversion (numpy)
``VirtualAudio``              a private PulseAudio daemon with virtual mic/speaker
``list_devices``/``find_device``  PortAudio devices (lazy sounddevice import)
============================  =====================================================

Names are imported lazily, so ``import voicelive_nb.audio`` works without PortAudio.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "Player": "player",
    "FlushInfo": "playback",
    "PlaybackMark": "playback",
    "PlayerFullError": "playback",
    "AudioSource": "sources",
    "AudioSink": "sources",
    "DeviceMic": "streams",
    "DeviceSpeaker": "streams",
    "WavMic": "wav",
    "CaptureSpeaker": "wav",
    "read_wav": "wav",
    "write_wav": "wav",
    "load_audio": "wav",
    "levels": "meters",
    "resample": "resample",
    "Resampler": "resample",
    "VirtualAudio": "pulse",
    "list_devices": "devices",
    "find_device": "devices",
    "DeviceInfo": "devices",
}

__all__ = [
    "AudioSink",
    "AudioSource",
    "CaptureSpeaker",
    "DeviceInfo",
    "DeviceMic",
    "DeviceSpeaker",
    "FlushInfo",
    "PlaybackMark",
    "Player",
    "PlayerFullError",
    "Resampler",
    "VirtualAudio",
    "WavMic",
    "find_device",
    "levels",
    "list_devices",
    "load_audio",
    "read_wav",
    "resample",
    "write_wav",
]

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.audio.devices import DeviceInfo, find_device, list_devices
    from voicelive_nb.audio.meters import levels
    from voicelive_nb.audio.playback import FlushInfo, PlaybackMark, PlayerFullError
    from voicelive_nb.audio.player import Player
    from voicelive_nb.audio.pulse import VirtualAudio
    from voicelive_nb.audio.resample import Resampler, resample
    from voicelive_nb.audio.sources import AudioSink, AudioSource
    from voicelive_nb.audio.streams import DeviceMic, DeviceSpeaker
    from voicelive_nb.audio.wav import CaptureSpeaker, WavMic, load_audio, read_wav, write_wav


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'voicelive_nb.audio' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"voicelive_nb.audio.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
