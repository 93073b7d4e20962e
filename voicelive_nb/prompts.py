"""Spoken demo prompts, synthesised with eSpeak NG (for headless runs and ``voicelive-nb demo``).

    from voicelive_nb.prompts import prompts_wav
    path = prompts_wav()        # a WAV of DEMO_PROMPTS with pauses, cached in a temp folder

The eSpeak engine is the emulator's (:class:`voicelive_nb.emulator.tts.EspeakTTS`: the
``espeakng-loader`` wheel in-process, else the ``espeak-ng`` program).  Between prompts
there are ``gap_s`` seconds of silence, long enough for the turn detector to end the turn
and for the reply to be played before the next prompt starts (no accidental barge-in).
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

DEMO_PROMPTS: tuple[str, ...] = (
    "Hello, can you hear me?",
    "What is the capital of France?",
    "Please tell me a short story about a robot.",
)
"""What the demo says, one user turn each."""


def synthesize(text: str, rate: int = 24000) -> np.ndarray:
    """``text`` spoken by eSpeak NG as int16 mono samples at ``rate``."""
    if not text.strip():
        raise ValueError("synthesize() needs some text to say; got an empty string")
    from voicelive_nb.audio.resample import resample
    from voicelive_nb.emulator.tts import EspeakTTS

    pcm, src_rate = EspeakTTS().synthesize(text)
    return resample(pcm, src_rate, rate) if src_rate != rate else pcm


def prompts_audio(
    texts: Sequence[str] = DEMO_PROMPTS, rate: int = 24000, lead_s: float = 0.5, gap_s: float = 6.0
) -> np.ndarray:
    """The prompts one after another: ``lead_s`` of silence, then each text followed by ``gap_s``."""
    if not texts:
        raise ValueError("prompts_audio() needs at least one text")
    parts = [np.zeros(round(lead_s * rate), dtype=np.int16)]
    for text in texts:
        parts.append(synthesize(text, rate))
        parts.append(np.zeros(round(gap_s * rate), dtype=np.int16))
    return np.concatenate(parts)


def prompts_wav(
    path: str | Path | None = None,
    texts: Sequence[str] = DEMO_PROMPTS,
    rate: int = 24000,
    lead_s: float = 0.5,
    gap_s: float = 6.0,
) -> Path:
    """Write :func:`prompts_audio` to ``path`` (default: a cached file in the temp folder)."""
    from voicelive_nb.audio.wav import write_wav

    if path is None:
        key = hashlib.sha1(repr((tuple(texts), rate, lead_s, gap_s)).encode()).hexdigest()[:12]
        path = Path(tempfile.gettempdir()) / f"voicelive-nb-prompts-{key}.wav"
        if path.is_file():
            return path
    out = Path(path)
    tmp = out.with_suffix(".tmp.wav")
    write_wav(tmp, prompts_audio(texts, rate, lead_s, gap_s), rate)
    tmp.replace(out)
    return out
