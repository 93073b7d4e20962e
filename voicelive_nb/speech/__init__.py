"""Speech that demos, tests and the emulator share: eSpeak NG TTS (``tts``) and spoken prompts (``prompts``).

Names are imported lazily (nothing loads eSpeak until it speaks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from voicelive_nb._lazy import lazy_exports

_LAZY = {
    "TTS": "voicelive_nb.speech.tts",
    "EspeakTTS": "voicelive_nb.speech.tts",
    "DEMO_PROMPTS": "voicelive_nb.speech.prompts",
    "PromptMic": "voicelive_nb.speech.prompts",
    "prompts_wav": "voicelive_nb.speech.prompts",
    "synthesize": "voicelive_nb.speech.prompts",
}

__all__ = ["DEMO_PROMPTS", "TTS", "EspeakTTS", "PromptMic", "prompts_wav", "synthesize"]

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.speech.prompts import DEMO_PROMPTS, PromptMic, prompts_wav, synthesize
    from voicelive_nb.speech.tts import TTS, EspeakTTS

__getattr__, __dir__ = lazy_exports(globals(), _LAZY, __all__)
