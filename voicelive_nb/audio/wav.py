"""WAV files in and out, and the file-backed source and sink.

* :func:`read_wav` / :func:`write_wav` / :func:`load_audio` -- PCM WAV <-> int16 mono arrays.
* :class:`WavMic` -- an :class:`~voicelive_nb.audio.sources.AudioSource` that plays a WAV file
  (or array) as if it were a microphone: blocks paced in real time by a thread (or as fast as
  they are read), optional lead/tail silence, looping, resampling to ``rate``.
* :class:`CaptureSpeaker` -- an :class:`~voicelive_nb.audio.sources.AudioSink` that drains a
  :class:`~voicelive_nb.audio.player.Player` at the real-time rate (or as fast as audio arrives)
  into memory and, optionally, a WAV file.

Both are what headless runs, tests and benches use instead of sound devices.
"""

from __future__ import annotations

import collections
import threading
import time
import wave
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from voicelive_nb.audio.resample import resample
from voicelive_nb.audio.sources import Notify

if TYPE_CHECKING:
    from voicelive_nb.audio.player import Player

__all__ = ["CaptureSpeaker", "WavMic", "load_audio", "read_wav", "write_wav"]

AudioInput = str | Path | np.ndarray | tuple[np.ndarray, int]


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a PCM WAV file as int16 mono (channels averaged) and its sample rate."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"WAV file not found: {p} (give a path to an existing .wav file)")
    try:
        with wave.open(str(p), "rb") as w:
            channels, width, rate, frames = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            raw = w.readframes(frames)
    except (wave.Error, EOFError) as exc:
        raise ValueError(
            f"{p} is not a PCM WAV file Python can read ({exc}); convert it, e.g. "
            f"`sox {p.name} -b 16 -e signed-integer out.wav`"
        ) from exc
    if width == 2:
        x = np.frombuffer(raw, dtype="<i2").astype(np.int32)
    elif width == 1:
        x = (np.frombuffer(raw, dtype=np.uint8).astype(np.int32) - 128) << 8
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        x = ((b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8) >> 16
    elif width == 4:
        x = np.frombuffer(raw, dtype="<i4") >> 16
    else:  # pragma: no cover - wave rejects other widths
        raise ValueError(f"{p}: unsupported sample width {width} bytes")
    if channels > 1:
        x = x.reshape(-1, channels).mean(axis=1)
    return np.asarray(x, dtype=np.int16), rate


def write_wav(path: str | Path, samples: np.ndarray | bytes, rate: int) -> Path:
    """Write int16 mono samples (or PCM16 bytes) as a WAV file; returns the path."""
    data = np.frombuffer(samples, dtype="<i2") if isinstance(samples, bytes | bytearray) else samples
    data = np.asarray(data)
    if data.dtype != np.int16:
        raise TypeError(f"write_wav expects int16 samples, got {data.dtype}")
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(p), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(rate))
        w.writeframes(data.astype("<i2", copy=False).tobytes())
    return p


def load_audio(source: AudioInput, rate: int) -> np.ndarray:
    """A WAV path, an int16/float array at ``rate``, or ``(array, array_rate)`` -> int16 mono at ``rate``."""
    if isinstance(source, str | Path):
        x, src_rate = read_wav(source)
    elif isinstance(source, tuple):
        x, src_rate = source
    else:
        x, src_rate = source, rate
    x = np.asarray(x)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1:
        raise ValueError(f"audio must be mono (1-D or (n, 1)), got shape {x.shape}")
    if np.issubdtype(x.dtype, np.floating):
        x = np.clip(np.rint(x * 32767.0), -32768, 32767).astype(np.int16)
    elif x.dtype != np.int16:
        raise TypeError(f"audio arrays must be int16 or float in [-1, 1], got {x.dtype}")
    return resample(x, int(src_rate), rate) if int(src_rate) != rate else x


class WavMic:
    """A WAV file (or array) posing as a microphone.

    Args:
        source: Path to a PCM WAV, an int16/float array at ``rate``, or ``(array, its_rate)``.
        rate: Output rate (the file is resampled if it differs).
        blocksize: Samples per block.
        realtime: Pace blocks at the real-time rate from a thread (True), or hand them out
            as fast as :meth:`read` is called, on a virtual clock starting at :meth:`start` (False).
        loop: Start over at the end (then the source never finishes).
        lead_silence_s: Silence before the audio.
        tail_silence_s: Silence after the audio (lets a server VAD see the end of speech).
        max_queue_s: Blocks held for a slow reader before the oldest are dropped (``overflows``).
    """

    def __init__(
        self,
        source: AudioInput,
        rate: int = 24000,
        blocksize: int = 480,
        realtime: bool = True,
        loop: bool = False,
        lead_silence_s: float = 0.0,
        tail_silence_s: float = 1.0,
        max_queue_s: float = 5.0,
    ) -> None:
        if blocksize <= 0:
            raise ValueError(f"WavMic blocksize must be > 0 samples, got {blocksize}")
        audio = load_audio(source, rate)
        lead = np.zeros(round(max(0.0, lead_silence_s) * rate), dtype=np.int16)
        tail = np.zeros(round(max(0.0, tail_silence_s) * rate), dtype=np.int16)
        data = np.concatenate([lead, audio, tail])
        pad = (-data.shape[0]) % blocksize
        self._data = np.concatenate([data, np.zeros(pad, dtype=np.int16)])
        self._rate = rate
        self._blocksize = blocksize
        self.realtime = realtime
        self.loop = loop
        self._desc = f"WAV {source}" if isinstance(source, str | Path) else "WAV array"
        self._queue: collections.deque[tuple[np.ndarray, float]] = collections.deque(
            maxlen=max(1, round(max_queue_s * rate / blocksize))
        )
        self._pos = 0
        self._t0 = 0.0
        self._overflows = 0
        self._done = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._notify: Notify | None = None
        self._started = False

    @property
    def rate(self) -> int:
        """Sample rate of the blocks (Hz)."""
        return self._rate

    @property
    def blocksize(self) -> int:
        """Samples per block."""
        return self._blocksize

    @property
    def overflows(self) -> int:
        """Blocks dropped because the reader lagged."""
        return self._overflows

    @property
    def input_latency_s(self) -> float:
        """0: a file has no capture latency."""
        return 0.0

    @property
    def description(self) -> str:
        """What is being played."""
        return self._desc

    @property
    def duration_s(self) -> float:
        """Length of one pass, including lead/tail silence and block padding."""
        return float(self._data.shape[0] / self._rate)

    @property
    def finished(self) -> bool:
        """True when every block was delivered and read (never with ``loop=True``)."""
        return self._done and not self._queue

    def start(self, notify: Notify | None = None) -> None:
        """Start delivering blocks (the real-time clock starts now)."""
        if self._started:
            return
        self._started = True
        self._notify = notify
        self._t0 = time.monotonic()
        if self.realtime:
            self._thread = threading.Thread(target=self._run, name="voicelive-wavmic", daemon=True)
            self._thread.start()
        elif notify is not None:
            notify()

    def read(self) -> tuple[np.ndarray, float] | None:
        """Next block and the monotonic time of its first sample, or None."""
        if not self.realtime:
            if not self._started or self._done:
                return None
            return self._next_block()
        try:
            return self._queue.popleft()
        except IndexError:
            return None

    def stop(self) -> None:
        """Stop the pacing thread (idempotent)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(5.0)

    def _next_block(self) -> tuple[np.ndarray, float]:
        n = self._data.shape[0]
        idx = self._pos % n if self.loop else self._pos
        block = self._data[idx : idx + self._blocksize]
        t = self._t0 + self._pos / self._rate
        self._pos += self._blocksize
        if not self.loop and self._pos >= n:
            self._done = True
        return block, t

    def _run(self) -> None:
        block_s = self._blocksize / self._rate
        while not self._stop.is_set() and not self._done:
            # a block is available once its last sample has been "captured"
            due = self._t0 + self._pos / self._rate + block_s
            delay = due - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            if len(self._queue) == self._queue.maxlen:
                self._overflows += 1
            self._queue.append(self._next_block())
            if self._notify is not None:
                self._notify()

    def __enter__(self) -> WavMic:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class CaptureSpeaker:
    """Drains a :class:`Player` like an output device would, into memory and/or a WAV file.

    Args:
        path: WAV file to write on :meth:`stop` (None: keep in memory only).
        rate: Sample rate (must match the player's).
        blocksize: Samples per ``fill`` call.
        realtime: Call ``fill`` every ``blocksize / rate`` seconds on the monotonic clock
            (True), or drain queued audio as fast as it arrives, on a virtual clock that
            does not advance while nothing is queued (False: no silence is captured then).
        max_s: Seconds of audio kept in memory (older audio is still written to the file).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        rate: int = 24000,
        blocksize: int = 480,
        realtime: bool = True,
        max_s: float = 3600.0,
    ) -> None:
        if blocksize <= 0:
            raise ValueError(f"CaptureSpeaker blocksize must be > 0 samples, got {blocksize}")
        self.path = Path(path) if path is not None else None
        self._rate = rate
        self._blocksize = blocksize
        self.realtime = realtime
        self._blocks: collections.deque[np.ndarray] = collections.deque(maxlen=max(1, round(max_s * rate / blocksize)))
        self._wav: wave.Wave_write | None = None
        self._player: Player | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.t_start = 0.0
        """Monotonic time of the first captured sample."""
        self.late_blocks = 0
        """Blocks filled more than one block period late (the thread was starved)."""

    @property
    def rate(self) -> int:
        """Sample rate (Hz)."""
        return self._rate

    @property
    def blocksize(self) -> int:
        """Samples per fill call."""
        return self._blocksize

    @property
    def underflows(self) -> int:
        """Always 0: there is no device to underflow."""
        return 0

    @property
    def output_latency_s(self) -> float:
        """0: nothing between fill and the capture."""
        return 0.0

    @property
    def description(self) -> str:
        """Where the audio goes."""
        return f"capture to {self.path}" if self.path else "capture to memory"

    def start(self, player: Player) -> None:
        """Start draining ``player`` from a thread."""
        if player.rate != self._rate:
            raise ValueError(f"CaptureSpeaker rate {self._rate} != Player rate {player.rate}")
        if self._thread is not None:
            return
        self._player = player
        self._stop.clear()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._wav = wave.open(str(self.path), "wb")  # noqa: SIM115 - closed in stop()
            self._wav.setnchannels(1)
            self._wav.setsampwidth(2)
            self._wav.setframerate(self._rate)
        self.t_start = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="voicelive-capture", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop draining and close the WAV file (idempotent)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(5.0)
        wav, self._wav = self._wav, None
        if wav is not None:
            wav.close()

    @property
    def samples(self) -> np.ndarray:
        """Everything captured (kept in memory) so far, int16."""
        blocks = list(self._blocks)
        return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int16)

    def _run(self) -> None:
        player = self._player
        assert player is not None
        block_s = self._blocksize / self._rate
        n = 0
        while not self._stop.is_set():
            if self.realtime:
                due = self.t_start + n * block_s
                delay = due - time.monotonic()
                if delay > 0:
                    if self._stop.wait(delay):
                        break
                elif delay < -block_s:
                    self.late_blocks += 1
            elif player.queued_ms <= 0:
                if self._stop.wait(0.002):
                    break
                continue
            out = np.empty(self._blocksize, dtype=np.int16)
            player.fill(out, self.t_start + n * block_s)
            self._blocks.append(out)
            if self._wav is not None:
                self._wav.writeframes(out.tobytes())
            n += 1

    def __enter__(self) -> CaptureSpeaker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
