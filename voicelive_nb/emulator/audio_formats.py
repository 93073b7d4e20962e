"""Audio formats of the Voice Live protocol: resampling and G.711 encoding (numpy only).

Input audio is PCM16 mono at the session's ``input_audio_sampling_rate`` (or G.711 at
8 kHz when ``input_audio_format`` says so); output audio is one of
:data:`OUTPUT_FORMATS`.  Everything here works on whole clips; the VAD's streaming
resampler lives in :mod:`voicelive_nb.emulator.vad`.
"""

from __future__ import annotations

import numpy as np

OUTPUT_FORMATS: dict[str, tuple[int, int]] = {
    "pcm16": (24000, 2),
    "pcm16_24000hz": (24000, 2),
    "pcm16_16000hz": (16000, 2),
    "pcm16_8000hz": (8000, 2),
    "g711_ulaw": (8000, 1),
    "g711_alaw": (8000, 1),
}
"""Output format name -> (sample rate, bytes per sample)."""


def resample(pcm: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Band-limited (FFT) resampling of a whole clip; returns float64 samples."""
    x = np.asarray(pcm, dtype=np.float64)
    if src_rate == dst_rate or len(x) == 0:
        return x.copy()
    n_out = max(1, round(len(x) * dst_rate / src_rate))
    spec = np.fft.rfft(x)
    new = np.zeros(n_out // 2 + 1, dtype=np.complex128)
    keep = min(len(spec), len(new))
    new[:keep] = spec[:keep]
    return np.fft.irfft(new, n_out) * (n_out / len(x))


def to_int16(x: np.ndarray) -> np.ndarray:
    """Round and clip float samples (int16 scale) to int16."""
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def encode_output(pcm: np.ndarray, src_rate: int, fmt: str) -> bytes:
    """Convert int16 mono ``pcm`` at ``src_rate`` to the wire bytes of output format ``fmt``."""
    if fmt not in OUTPUT_FORMATS:
        raise ValueError(f"unknown output_audio_format {fmt!r}; use one of {sorted(OUTPUT_FORMATS)}")
    rate, _ = OUTPUT_FORMATS[fmt]
    samples = to_int16(resample(pcm, src_rate, rate))
    if fmt == "g711_ulaw":
        return ulaw_encode(samples).tobytes()
    if fmt == "g711_alaw":
        return alaw_encode(samples).tobytes()
    return samples.astype("<i2").tobytes()


def decode_input(data: bytes, fmt: str) -> np.ndarray:
    """Wire bytes of input format ``fmt`` -> int16 samples (G.711 decodes to 8 kHz PCM)."""
    if fmt == "g711_ulaw":
        return ulaw_decode(np.frombuffer(data, dtype=np.uint8))
    if fmt == "g711_alaw":
        return alaw_decode(np.frombuffer(data, dtype=np.uint8))
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def bytes_per_ms(fmt: str, rate: int) -> float:
    """Input bytes per millisecond for an input format at ``rate`` Hz."""
    width = 1 if fmt.startswith("g711") else 2
    return rate * width / 1000.0


# --- G.711 (ITU-T), vectorised -------------------------------------------------------------

_BIAS = 0x84
_CLIP = 32635


def ulaw_encode(pcm: np.ndarray) -> np.ndarray:
    """int16 -> G.711 mu-law bytes."""
    x = pcm.astype(np.int32)
    sign = np.where(x < 0, 0x80, 0)
    mag = np.minimum(np.abs(x), _CLIP) + _BIAS
    exponent = np.floor(np.log2(mag)).astype(np.int32) - 7
    exponent = np.clip(exponent, 0, 7)
    mantissa = (mag >> (exponent + 3)) & 0x0F
    codes: np.ndarray = (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)
    return codes


def ulaw_decode(codes: np.ndarray) -> np.ndarray:
    """G.711 mu-law bytes -> int16."""
    u = ~codes.astype(np.int32) & 0xFF
    sign = u & 0x80
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    mag = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return np.where(sign != 0, -mag, mag).astype(np.int16)


def alaw_encode(pcm: np.ndarray) -> np.ndarray:
    """int16 -> G.711 A-law bytes."""
    x = pcm.astype(np.int32) >> 3  # 13-bit
    sign = np.where(x >= 0, 0x80, 0)
    mag = np.where(x >= 0, x, -x - 1)
    mag = np.minimum(mag, 0x0FFF)
    exponent = np.where(mag < 32, 0, np.floor(np.log2(np.maximum(mag, 1))).astype(np.int32) - 4)
    mantissa = np.where(exponent == 0, mag >> 1, mag >> exponent) & 0x0F
    codes: np.ndarray = ((sign | (exponent << 4) | mantissa) ^ 0x55).astype(np.uint8)
    return codes


def alaw_decode(codes: np.ndarray) -> np.ndarray:
    """G.711 A-law bytes -> int16."""
    a = codes.astype(np.int32) ^ 0x55
    sign = a & 0x80
    exponent = (a >> 4) & 0x07
    mantissa = a & 0x0F
    mag = np.where(exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0))
    return np.where(sign != 0, mag, -mag).astype(np.int16)
