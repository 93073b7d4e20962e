"""Text to speech for the emulator: eSpeak NG.

Choice: the ``espeakng-loader`` wheel's ``libespeak-ng`` driven in-process through
ctypes (synchronous mode, ~5-20 ms per sentence, no process spawn, works without the
Debian package).  If the wheel is missing, the ``espeak-ng`` program is used instead.
libespeak-ng keeps global state, so calls are serialised by a process-wide lock; call
:meth:`EspeakTTS.synthesize` from a worker thread, never on an event loop.
"""

from __future__ import annotations

import ctypes
import logging
import shutil
import subprocess
import threading
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)


class TTS(Protocol):
    """What the emulator needs from a speech synthesiser."""

    def synthesize(self, text: str, *, rate_factor: float = 1.0) -> tuple[np.ndarray, int]:
        """Return ``(int16 mono samples, sample_rate)`` for ``text``."""
        ...


_AUDIO_OUTPUT_SYNCHRONOUS = 2
_ESPEAK_RATE = 1
_CHARS_UTF8 = 1
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_lib_rate = 0
_chunks: list[np.ndarray] = []


def _callback(wav: ctypes._Pointer[ctypes.c_short], n: int, _events: int) -> int:
    if wav and n > 0:
        _chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
    return 0


_callback_ref = _CALLBACK(_callback)  # keep a reference: ctypes callbacks must outlive their use


def _load_library() -> tuple[ctypes.CDLL, int]:
    global _lib, _lib_rate
    if _lib is None:
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 200, espeakng_loader.get_data_path().encode(), 0)
        if rate <= 0:
            raise RuntimeError("libespeak-ng failed to initialise (espeakng-loader data missing?)")
        lib.espeak_SetSynthCallback(_callback_ref)
        _lib, _lib_rate = lib, rate
    return _lib, _lib_rate


class EspeakTTS:
    """eSpeak NG synthesiser (in-process via espeakng-loader, else the espeak-ng program).

    Args:
        voice: eSpeak voice name (``"en-us"``); the session's Azure/OpenAI voice is ignored.
        wpm: Base speaking rate in words per minute (scaled by ``rate_factor``).
    """

    def __init__(self, voice: str = "en-us", wpm: int = 175) -> None:
        self.voice = voice
        self.wpm = wpm
        self.engine = ""
        """``"libespeak-ng"`` or ``"espeak-ng program"`` once the first synthesis ran."""

    def synthesize(self, text: str, *, rate_factor: float = 1.0) -> tuple[np.ndarray, int]:
        """Speak ``text``; returns ``(int16 samples, rate)``.  Blocking: run in a thread."""
        if not text.strip():
            return np.zeros(0, dtype=np.int16), 22050
        wpm = int(max(80, min(450, self.wpm * rate_factor)))
        try:
            return self._synth_lib(text, wpm)
        except ImportError:
            return self._synth_program(text, wpm)

    def _synth_lib(self, text: str, wpm: int) -> tuple[np.ndarray, int]:
        with _lock:
            lib, rate = _load_library()
            self.engine = "libespeak-ng"
            lib.espeak_SetVoiceByName(self.voice.encode())
            lib.espeak_SetParameter(_ESPEAK_RATE, wpm, 0)
            _chunks.clear()
            data = text.encode("utf-8") + b"\0"
            err = lib.espeak_Synth(data, len(data), 0, 0, 0, _CHARS_UTF8, None, None)
            if err != 0:
                raise RuntimeError(f"espeak_Synth failed with code {err}")
            pcm = np.concatenate(_chunks) if _chunks else np.zeros(0, dtype=np.int16)
            _chunks.clear()
        return pcm.astype(np.int16, copy=False), rate

    def _synth_program(self, text: str, wpm: int) -> tuple[np.ndarray, int]:
        exe = shutil.which("espeak-ng")
        if exe is None:
            raise RuntimeError(
                "no eSpeak NG available: pip install espeakng-loader (voicelive-nb[emulator]) "
                "or apt-get install espeak-ng"
            )
        self.engine = "espeak-ng program"
        proc = subprocess.run(
            [exe, "-v", self.voice, "-s", str(wpm), "--stdout", "--", text],
            capture_output=True,
            check=False,
            timeout=60,
        )
        if proc.returncode != 0 or len(proc.stdout) <= 44:
            raise RuntimeError(f"espeak-ng failed: {proc.stderr.decode(errors='replace').strip()}")
        raw = proc.stdout
        rate = int.from_bytes(raw[24:28], "little")
        return np.frombuffer(raw[44 : 44 + (len(raw) - 44) // 2 * 2], dtype="<i2").astype(np.int16), rate
