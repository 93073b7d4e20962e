"""Crash-tolerant PCM16 WAV files of a recording folder: a streaming writer and a tolerant reader.

:class:`WavStream` appends mono PCM16 at any sample index (gaps become silence) and
rewrites its header on :meth:`WavStream.sync`, so a file cut short by a killed process
is at worst a second stale.  :func:`read_wav` repairs such files on load: it trusts the
bytes on disk over a stale header (and warns) and memory-maps large files.
"""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np

_HEADER = struct.Struct("<4sI4s4sIHHIIHH4sI")
HEADER_BYTES = _HEADER.size  # 44
_ZEROS = bytes(48_000)


def wav_header(rate: int, data_bytes: int, channels: int = 1) -> bytes:
    """A canonical 44-byte PCM16 WAV header."""
    return _HEADER.pack(
        b"RIFF",
        36 + data_bytes,
        b"WAVE",
        b"fmt ",
        16,
        1,
        channels,
        rate,
        rate * 2 * channels,
        2 * channels,
        16,
        b"data",
        data_bytes,
    )


class WavStream:
    """A mono PCM16 WAV file written front to back, placed by sample index.

    Args:
        path: The file to create (truncated if it exists).
        rate: Sample rate written in the header (can be changed until the first write).
    """

    def __init__(self, path: str | Path, rate: int = 24_000) -> None:
        self.path = Path(path)
        self.rate = rate
        self._file: BinaryIO | None = open(self.path, "wb", buffering=1 << 16)  # noqa: SIM115
        self._file.write(wav_header(rate, 0))
        self.samples = 0
        """Samples in the file so far (the next free index)."""

    def write(self, pcm: bytes | memoryview) -> None:
        """Append PCM16 bytes at the current end."""
        if self._file is None:
            return
        self._file.write(pcm)
        self.samples += len(pcm) // 2

    def write_at(self, index: int, pcm: bytes | memoryview) -> int:
        """Write ``pcm`` starting at sample ``index``, padding a gap with silence.

        Never overwrites: audio for an index already written is appended at the end
        instead.  Returns the index where it was actually placed.
        """
        if index > self.samples:
            self.pad(index - self.samples)
        placed = self.samples
        self.write(pcm)
        return placed

    def pad(self, samples: int) -> None:
        """Append ``samples`` samples of silence."""
        remaining = samples * 2
        while remaining > 0:
            chunk = min(remaining, len(_ZEROS))
            self.write(memoryview(_ZEROS)[:chunk])
            remaining -= chunk

    def sync(self) -> None:
        """Rewrite the header for the data written so far and hand the bytes to the OS."""
        if self._file is None:
            return
        f = self._file
        f.flush()
        end = f.tell()
        f.seek(0)
        f.write(wav_header(self.rate, self.samples * 2))
        f.seek(end)
        f.flush()

    def close(self) -> None:
        """Final header, close the file (idempotent)."""
        if self._file is None:
            return
        self.sync()
        self._file.close()
        self._file = None


def read_wav(path: str | Path, *, mmap_above: int = 8 << 20) -> tuple[np.ndarray, int]:
    """Load a PCM16 WAV as ``(int16 samples, rate)``; mono files give a 1-D array.

    A header that disagrees with the file's length (a recording cut short by a crash)
    is repaired in memory with a warning.  Files larger than ``mmap_above`` bytes are
    memory-mapped read-only instead of read.

    Raises:
        ValueError: Not a RIFF/WAVE PCM16 file (the message says what was found).
    """
    path = Path(path)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(min(size, 4096))
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a WAV file (no RIFF/WAVE header); record it again or convert it")
    pos = 12
    rate = channels = bits = None
    data_offset = declared = None
    while pos + 8 <= len(head):
        cid, clen = struct.unpack_from("<4sI", head, pos)
        if cid == b"fmt ":
            if pos + 24 > len(head):
                break  # the fmt chunk itself was cut short: reported below
            fmt, channels, rate = struct.unpack_from("<HHI", head, pos + 8)
            bits = struct.unpack_from("<H", head, pos + 22)[0]
            if fmt not in (1, 0xFFFE) or bits != 16:
                raise ValueError(f"{path}: only 16-bit PCM WAV is supported (format {fmt}, {bits} bits)")
        elif cid == b"data":
            data_offset, declared = pos + 8, clen
            break
        pos += 8 + clen + (clen & 1)
    if data_offset is None or declared is None or rate is None or channels is None:
        raise ValueError(f"{path}: WAV without fmt/data chunk; the file is damaged beyond repair")
    if rate <= 0 or channels <= 0:
        raise ValueError(f"{path}: WAV header is damaged ({rate} Hz, {channels} channels)")
    available = size - data_offset
    nbytes = declared
    if declared != available and not _chunk_follows(path, data_offset + declared, size):
        warnings.warn(
            f"{path.name}: header says {declared} data bytes, file has {available}; "
            "using what is on disk (the recording was probably cut short)",
            stacklevel=2,
        )
        nbytes = available
    frame = 2 * channels
    frames = nbytes // frame
    if frames == 0:
        return np.zeros((0,) if channels == 1 else (0, channels), dtype=np.int16), int(rate)
    if nbytes > mmap_above:
        audio: np.ndarray = np.memmap(path, dtype="<i2", mode="r", offset=data_offset, shape=(frames * channels,))
    else:
        with open(path, "rb") as f:
            f.seek(data_offset)
            audio = np.frombuffer(f.read(frames * frame), dtype="<i2")
    if channels > 1:
        audio = audio.reshape(frames, channels)
    return audio, int(rate)


def _chunk_follows(path: Path, at: int, size: int) -> bool:
    """True if a plausible RIFF chunk (4 ASCII letters + length) starts at byte ``at``."""
    if at + 8 > size:
        return False
    with open(path, "rb") as f:
        f.seek(at)
        cid = f.read(4)
    return all(32 <= c < 127 for c in cid) and cid.strip() != b""
