"""Sans-I/O input audio: the buffer since the last commit and turn detection on it.

:class:`InputAudio` keeps the appended-audio timeline (milliseconds of input received),
the buffered samples (trimmed while nobody speaks), and -- when turn detection is on --
cuts the stream into 32 ms frames for the speech model and feeds the
:class:`~voicelive_nb.emulator.turns.TurnDetector`.

Silero decides per 32 ms frame and smooths over a frame or two, so the edges it reports
are placed more exactly with 4 ms energy blocks near its decision (up to 3 frames
earlier, 1 frame later), relative to the turn's loudest block (-30 dB, floor -55 dBFS).
The silence timer runs from the refined end.
"""

from __future__ import annotations

import numpy as np

from voicelive_nb.emulator.turns import TurnDetector, VadEvent, VadParams
from voicelive_nb.emulator.vad import FRAME_MS, EnergyModel, Framer, SpeechModel

_BLOCK_MS = 4.0
_FLOOR = 10 ** (-55 / 20)


class InputAudio:
    """The input audio buffer and its turn detection.

    Args:
        model: Speech probability model (None: :class:`EnergyModel`).
    """

    def __init__(self, model: SpeechModel | None = None) -> None:
        self.model = model
        self.rate = 24000
        self.audio_ms = 0.0
        """Appended-audio timeline: milliseconds of input audio received so far."""
        self.start_ms = 0.0
        """Timeline position of the first buffered sample."""
        self.detector: TurnDetector | None = None
        self.vad_log: list[tuple[str, float, float]] = []
        """``(kind, audio_ms, at_ms)`` of each VAD decision (tests and benches read it)."""
        self._framer: Framer | None = None
        self._frame_clock = 0.0
        self._buf: list[np.ndarray] = []
        self._len = 0
        self._onset_ms = 0.0
        self._keep_ms = 2400.0
        self._max_ms = 300_000.0

    # --- configuration -------------------------------------------------------------------------

    def configure(self, turn_detection: dict[str, object] | None, rate: int, max_buffer_s: float = 300.0) -> None:
        """Apply the session's ``turn_detection`` and input rate (changes apply from the next frame)."""
        if rate != self.rate:
            self._buf, self._len, self.start_ms = [], 0, self.audio_ms  # samples of another rate can't mix
            self.rate = rate
        self._max_ms = max_buffer_s * 1000.0
        if turn_detection is None:
            self.detector = None
            self._framer = None
            return
        params = VadParams.from_turn_detection(turn_detection)
        self._keep_ms = params.prefix_padding_ms + 2000.0
        if self.detector is None:
            self.detector = TurnDetector(params, refine_end=self._refine_end)
        else:
            self.detector.params = params
        if self._framer is None or self._framer.rate != rate:
            self._framer = Framer(rate)
            self._frame_clock = self.audio_ms

    @property
    def speaking(self) -> bool:
        """True between speech start and stop."""
        return self.detector is not None and self.detector.speaking

    @property
    def buffered_ms(self) -> float:
        """Milliseconds of audio in the buffer."""
        return self._len * 1000.0 / self.rate

    # --- audio in ------------------------------------------------------------------------------

    def push(self, pcm: np.ndarray) -> list[VadEvent]:
        """Append int16 samples; returns the VAD decisions they caused (edges already refined).

        ``started`` events carry ``audio_ms`` = refined onset minus prefix padding (clamped
        at 0) and ``onset_ms``; ``stopped`` events carry ``audio_ms`` = the refined end.
        """
        self._buf.append(pcm)
        self._len += len(pcm)
        self.audio_ms += len(pcm) * 1000.0 / self.rate
        events: list[VadEvent] = []
        if self.detector is None or self._framer is None:
            self._trim(self._max_ms)
            return events
        if self.model is None:
            self.model = EnergyModel()
        for frame in self._framer.frames_after(pcm):
            ev = self.detector.feed(self.model.prob(frame), self._frame_clock, FRAME_MS)
            self._frame_clock += FRAME_MS
            if ev is None:
                continue
            if ev.kind == "started":
                onset = self._refine_onset(ev.onset_ms, ev.at_ms)
                self._onset_ms = onset
                ev = VadEvent("started", max(0.0, onset - self.detector.params.prefix_padding_ms), ev.at_ms, onset)
            self.vad_log.append((ev.kind, ev.audio_ms, ev.at_ms))
            events.append(ev)
        if not self.detector.speaking:
            self._trim(self._keep_ms)
        return events

    # --- buffer ----------------------------------------------------------------------------------

    def slice(self, start_ms: float, end_ms: float) -> np.ndarray:
        """Buffered samples between two timeline positions (clipped to what is buffered)."""
        data = np.concatenate(self._buf) if self._buf else np.zeros(0, np.int16)
        a = max(0, int((start_ms - self.start_ms) * self.rate / 1000))
        b = max(a, int((end_ms - self.start_ms) * self.rate / 1000))
        return data[a:b]

    def drop_before(self, ms: float) -> None:
        """Forget buffered audio before timeline position ``ms``."""
        data = np.concatenate(self._buf) if self._buf else np.zeros(0, np.int16)
        cut = min(len(data), max(0, int((ms - self.start_ms) * self.rate / 1000)))
        self._buf = [data[cut:]]
        self._len = len(data) - cut
        self.start_ms += cut * 1000.0 / self.rate

    def reset_turn(self) -> None:
        """Forget a turn in progress (after a manual commit or a clear)."""
        if self.detector is not None:
            self.detector.reset()

    def _trim(self, keep_ms: float) -> None:
        keep = int(keep_ms * self.rate / 1000)
        if self._len > 2 * keep and self._len > self.rate:
            data = np.concatenate(self._buf)[-keep:]
            self.start_ms += (self._len - len(data)) * 1000.0 / self.rate
            self._buf = [data]
            self._len = len(data)

    # --- edge refinement ---------------------------------------------------------------------------

    def _blocks(self, start_ms: float, end_ms: float) -> tuple[np.ndarray, float]:
        x = self.slice(start_ms, end_ms).astype(np.float32) * (1.0 / 32768.0)
        n = max(1, int(self.rate * _BLOCK_MS / 1000))
        k = len(x) // n
        rms = np.sqrt(np.mean(x[: k * n].reshape(k, n) ** 2, axis=1)) if k else np.zeros(0, np.float32)
        return rms, max(start_ms, self.start_ms)

    def _loud(self, peak_from: float, peak_to: float, start_ms: float, end_ms: float) -> tuple[np.ndarray, float]:
        peak_rms, _ = self._blocks(peak_from, peak_to)
        threshold = max(_FLOOR, 0.03 * float(peak_rms.max())) if len(peak_rms) else _FLOOR
        rms, t0 = self._blocks(start_ms, end_ms)
        return np.flatnonzero(rms >= threshold), t0

    def _refine_onset(self, onset_ms: float, at_ms: float) -> float:
        loud, t0 = self._loud(onset_ms, at_ms, onset_ms - 3 * FRAME_MS, onset_ms + FRAME_MS)
        return t0 + float(loud[0]) * _BLOCK_MS if len(loud) else onset_ms

    def _refine_end(self, end_ms: float) -> float:
        loud, t0 = self._loud(self._onset_ms, end_ms, end_ms - 3 * FRAME_MS, end_ms + FRAME_MS)
        return t0 + float(loud[-1] + 1) * _BLOCK_MS if len(loud) else end_ms
