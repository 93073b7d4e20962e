"""Synthesise test speech with eSpeak NG (shared helper for every test suite).

Uses the ``espeak-ng`` program (Debian package ``espeak-ng``) so the helper does not
depend on any voicelive_nb module.  Output is PCM16 mono at the requested rate.

    from tests.speech import speak, speech_wav

    pcm = speak("hello there")                       # int16 array, 24 kHz
    bounds = speech_wav(tmp / "turn.wav", [0.5, "hello there", 1.0])
    # bounds == [(0.52, 1.31)]: where the speech really is, in seconds, measured
    # from the samples (not from the requested layout), one pair per text segment.

Results of :func:`speak` are cached per process (a copy is returned each time).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np

FRAME_S = 0.005
"""Resolution of the boundary measurement (5 ms frames)."""

THRESHOLD_DBFS = -45.0
"""A 5 ms frame whose RMS is above this counts as speech (eSpeak's pauses are digital silence)."""


def speak(text: str, rate: int = 24000, voice: str = "en-us", wpm: int | None = None) -> np.ndarray:
    """Speak ``text`` with eSpeak NG and return PCM16 mono samples at ``rate`` Hz.

    Args:
        text: What to say (plain text).
        rate: Output sample rate in Hz (eSpeak renders at 22050 Hz; resampled here).
        voice: An eSpeak NG voice name such as ``"en-us"`` or ``"en-gb"``.
        wpm: Speaking rate in words per minute (eSpeak's default is 175).

    Returns:
        A new 1-D ``int16`` array (includes eSpeak's own short leading/trailing silence).
    """
    if not text.strip():
        raise ValueError("speak() needs some text to say; got an empty string")
    if rate <= 0:
        raise ValueError(f"rate must be a positive sample rate in Hz, got {rate}")
    return _speak_cached(text, rate, voice, wpm).copy()


@functools.lru_cache(maxsize=256)
def _speak_cached(text: str, rate: int, voice: str, wpm: int | None) -> np.ndarray:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("tests/speech.py needs the espeak-ng program: apt-get install espeak-ng")
    cmd = [exe, "-v", voice, "--stdout"]
    if wpm is not None:
        cmd += ["-s", str(int(wpm))]
    proc = subprocess.run([*cmd, "--", text], capture_output=True, check=False, timeout=30)
    if proc.returncode != 0 or len(proc.stdout) <= 44:
        raise RuntimeError(f"espeak-ng failed for voice {voice!r}: {proc.stderr.decode(errors='replace')}")
    raw = proc.stdout
    # espeak-ng --stdout writes a streaming WAV header with bogus sizes: read the rate, skip 44 bytes.
    src_rate = int.from_bytes(raw[24:28], "little")
    pcm = np.frombuffer(raw[44 : 44 + (len(raw) - 44) // 2 * 2], dtype="<i2")
    out = resample(pcm, src_rate, rate)
    out.setflags(write=False)
    return out


def resample(pcm: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Band-limited (FFT) resampling of a whole int16 clip; fine for offline synthesis."""
    if src_rate == dst_rate or len(pcm) == 0:
        return pcm.astype(np.int16, copy=True)
    n_out = round(len(pcm) * dst_rate / src_rate)
    spec = np.fft.rfft(pcm.astype(np.float64))
    keep = min(len(spec), n_out // 2 + 1)
    new = np.zeros(n_out // 2 + 1, dtype=np.complex128)
    new[:keep] = spec[:keep]
    y = np.fft.irfft(new, n_out) * (n_out / len(pcm))
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def speech_bounds(pcm: np.ndarray, rate: int, threshold_dbfs: float = THRESHOLD_DBFS) -> tuple[float, float]:
    """First and last instant (seconds) where 5 ms frames of ``pcm`` exceed ``threshold_dbfs``."""
    frame = max(1, round(rate * FRAME_S))
    n = len(pcm) // frame
    if n == 0:
        raise ValueError("speech_bounds: clip shorter than one 5 ms frame")
    x = pcm[: n * frame].astype(np.float64).reshape(n, frame) / 32768.0
    rms = np.sqrt(np.mean(x * x, axis=1))
    loud = np.flatnonzero(rms > 10 ** (threshold_dbfs / 20))
    if len(loud) == 0:
        raise ValueError(f"speech_bounds: no frame above {threshold_dbfs} dBFS (silent clip?)")
    return float(loud[0] * frame / rate), float((loud[-1] + 1) * frame / rate)


def speech_pcm(
    segments: list[str | float], rate: int = 24000, voice: str = "en-us", wpm: int | None = None
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Like :func:`speech_wav` but returns ``(pcm, bounds)`` without writing a file."""
    if not segments:
        raise ValueError("speech_pcm needs at least one segment (text or seconds of silence)")
    parts: list[np.ndarray] = []
    bounds: list[tuple[float, float]] = []
    offset = 0
    for seg in segments:
        if isinstance(seg, str):
            pcm = speak(seg, rate=rate, voice=voice, wpm=wpm)
            start, end = speech_bounds(pcm, rate)
            bounds.append((offset / rate + start, offset / rate + end))
        elif isinstance(seg, (int, float)) and not isinstance(seg, bool) and seg >= 0:
            pcm = np.zeros(round(float(seg) * rate), dtype=np.int16)
        else:
            raise ValueError(f"segments must be text or seconds of silence (>= 0), got {seg!r}")
        parts.append(pcm)
        offset += len(pcm)
    return np.concatenate(parts), bounds


def speech_wav(
    path: str | Path,
    segments: list[str | float],
    rate: int = 24000,
    voice: str = "en-us",
    wpm: int | None = None,
) -> list[tuple[float, float]]:
    """Write a mono PCM16 WAV of spoken text and silences; return where the speech is.

    Args:
        path: WAV file to write.
        segments: In order, text to speak (``str``) or seconds of silence (``float``).
        rate: Sample rate of the file.
        voice, wpm: Passed to :func:`speak`.

    Returns:
        One ``(start_s, end_s)`` pair per text segment, measured from the written samples
        with a 5 ms energy threshold (eSpeak's own leading/trailing silence excluded).
    """
    pcm, bounds = speech_pcm(segments, rate=rate, voice=voice, wpm=wpm)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype("<i2").tobytes())
    return bounds
