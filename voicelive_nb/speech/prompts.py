"""Spoken demo prompts, synthesised with eSpeak NG (for headless runs and ``voicelive-nb demo``).

    from voicelive_nb.speech.prompts import prompts_wav
    path = prompts_wav()        # a WAV of DEMO_PROMPTS with pauses, cached in a temp folder

The eSpeak engine is the emulator's (:class:`voicelive_nb.speech.tts.EspeakTTS`: the
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
    from voicelive_nb.speech.tts import EspeakTTS

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


class PromptMic:
    """An AudioSource that is silent until told to :meth:`say` a clip (turn-taking demos).

    Blocks of ``blocksize`` samples are produced at the real-time rate by a thread: the
    queued clips' samples, else digital silence.  After :meth:`close`, once every queued
    clip and ``tail_s`` of silence were produced, no more blocks come, and :attr:`finished`
    turns True (and stays True) when the reader has taken the last one.

    Args:
        rate: Sample rate (Hz).
        blocksize: Samples per block.
        tail_s: Silence after the last clip before the source reports ``finished``.
    """

    def __init__(self, rate: int = 24000, blocksize: int = 480, tail_s: float = 1.0) -> None:
        import collections
        import threading

        self._rate = rate
        self._blocksize = blocksize
        self._tail = round(tail_s * rate)
        self._pending: collections.deque[np.ndarray] = collections.deque()
        self._out: collections.deque[tuple[np.ndarray, float]] = collections.deque(maxlen=max(1, 5 * rate // blocksize))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._silent_after_close = 0
        self._speaking_until = 0.0
        self.overflows = 0
        """Blocks dropped because the reader lagged by more than 5 s."""

    rate = property(lambda self: self._rate, doc="Sample rate (Hz).")
    blocksize = property(lambda self: self._blocksize, doc="Samples per block.")
    input_latency_s = 0.0
    description = "synthesised prompts"

    @property
    def speaking(self) -> bool:
        """True while queued speech is still being delivered."""
        with self._lock:
            return bool(self._pending)

    @property
    def finished(self) -> bool:
        """True after :meth:`close` once everything (and the tail silence) was read; never False again."""
        return self._exhausted and not self._out

    @property
    def _exhausted(self) -> bool:
        """Closed, every clip and the tail silence produced: the pacing thread adds nothing more."""
        return self._closed and self._silent_after_close >= self._tail

    def say(self, pcm: np.ndarray) -> None:
        """Queue int16 mono samples (at ``rate``) to be "spoken" next (not after :meth:`close`)."""
        if self._closed:
            raise RuntimeError("PromptMic.say() after close(): the mic has no more to say; use a new PromptMic")
        clip = np.asarray(pcm, dtype=np.int16).reshape(-1)
        with self._lock:
            self._pending.append(clip)

    def close(self) -> None:
        """No more clips will come: report ``finished`` after the tail silence."""
        self._closed = True

    def start(self, notify: object = None) -> None:
        """Start producing blocks (silence until something is said)."""
        import threading

        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="voicelive-promptmic", daemon=True)
            self._thread.start()

    def read(self) -> tuple[np.ndarray, float] | None:
        """The next block and the monotonic time of its first sample, or None."""
        try:
            return self._out.popleft()
        except IndexError:
            return None

    def stop(self) -> None:
        """Stop the pacing thread (idempotent)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(5.0)

    def _next_block(self) -> np.ndarray:
        block = np.zeros(self._blocksize, dtype=np.int16)
        filled = 0
        with self._lock:
            while filled < self._blocksize and self._pending:
                clip = self._pending[0]
                k = min(self._blocksize - filled, clip.shape[0])
                block[filled : filled + k] = clip[:k]
                filled += k
                if k == clip.shape[0]:
                    self._pending.popleft()
                else:
                    self._pending[0] = clip[k:]
        if filled == 0 and self._closed:
            self._silent_after_close += self._blocksize
        return block

    def _run(self) -> None:
        import time

        t0 = time.monotonic()
        n = 0
        period = self._blocksize / self._rate
        while not self._stop.is_set() and not self._exhausted:
            due = t0 + (n + 1) * period
            delay = due - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return
            if len(self._out) == self._out.maxlen:
                self.overflows += 1
            self._out.append((self._next_block(), t0 + n * period))
            n += 1
