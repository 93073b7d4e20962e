"""Sans-I/O turn detection: speech probabilities per frame in, speech start/stop out.

Time is the appended-audio timeline in milliseconds (never the wall clock).  The rules,
following Silero's own iterator and the Voice Live / OpenAI ``server_vad`` semantics:

* A frame is *speech* when ``prob >= threshold``; it is *silence* when
  ``prob < threshold - 0.15`` (hysteresis; values in between keep the current state).
* Speech starts at the first speech frame of a run; the start is **confirmed** once
  the run holds ``min_speech_ms`` of speech frames (short gaps, such as the closure of
  a stop consonant, are bridged; a gap of ``silence_duration_ms`` abandons the run).
  Then ``started`` is emitted with ``audio_start_ms = max(0, onset - prefix_padding_ms)``.
* While speaking, the first silence frame marks a candidate end; a speech frame cancels
  it.  When ``silence_duration_ms`` of audio passed since the candidate end, ``stopped``
  is emitted with ``audio_end_ms`` = the candidate end (where speech ended, not plus
  the silence).  The check reads the *current* parameters on every frame, so changing
  ``silence_duration_ms`` mid-turn takes effect at once.

Semantic VAD types (``azure_semantic_vad*``) are approximated with the same detector:
``speech_duration_ms`` is the minimum speech; filler-word removal is applied on the
transcript by the conversation core.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class VadParams:
    """The live turn-detection knobs (mutable: the core updates them on session.update)."""

    threshold: float = 0.5
    prefix_padding_ms: float = 400.0
    silence_duration_ms: float = 500.0
    min_speech_ms: float = 200.0

    @classmethod
    def from_turn_detection(cls, td: dict[str, object]) -> VadParams:
        """Build from a session's ``turn_detection`` object."""
        vad_type = str(td.get("type", "server_vad"))
        default_min = 200.0 if vad_type == "server_vad" else 80.0
        return cls(
            threshold=float(td.get("threshold", 0.5)),  # type: ignore[arg-type]
            prefix_padding_ms=float(td.get("prefix_padding_ms", 400)),  # type: ignore[arg-type]
            silence_duration_ms=float(td.get("silence_duration_ms", 500)),  # type: ignore[arg-type]
            min_speech_ms=float(td.get("speech_duration_ms", default_min)),  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class VadEvent:
    """``kind`` is ``"started"`` or ``"stopped"``; ``at_ms`` is where on the audio timeline
    the detector decided (the end of the frame that triggered it)."""

    kind: str
    audio_ms: float
    """``audio_start_ms`` (onset minus padding, clamped at 0) or ``audio_end_ms``."""
    at_ms: float
    onset_ms: float = 0.0
    """For ``started``: the onset before padding."""


class TurnDetector:
    """Frame-by-frame speech segmentation on the audio timeline."""

    def __init__(self, params: VadParams, refine_end: Callable[[float], float] | None = None) -> None:
        self.params = params
        self.refine_end = refine_end
        """Optional: maps the model's end of speech (start of the first silence frame) to a
        more exact one; the silence timer then runs from the refined end."""
        self.speaking = False
        self._onset: float | None = None  # first speech frame of a not yet confirmed run
        self._end: float | None = None  # candidate end while speaking
        self._speech_ms = 0.0  # speech frames in the unconfirmed run
        self._gap_ms = 0.0  # silence since the unconfirmed run's last speech frame

    def reset(self) -> None:
        """Forget any turn in progress."""
        self.speaking = False
        self._onset = None
        self._end = None
        self._speech_ms = 0.0
        self._gap_ms = 0.0

    def feed(self, prob: float, start_ms: float, frame_ms: float) -> VadEvent | None:
        """Feed one frame's probability; returns an event when a turn starts or ends."""
        p = self.params
        end_ms = start_ms + frame_ms
        speech = prob >= p.threshold
        silence = prob < max(0.0, p.threshold - 0.15)
        if not self.speaking:
            if speech:
                if self._onset is None:
                    self._onset = start_ms
                self._speech_ms += frame_ms
                self._gap_ms = 0.0
            elif silence and self._onset is not None:
                self._gap_ms += frame_ms
                if self._gap_ms >= p.silence_duration_ms:
                    self._onset = None
                    self._speech_ms = self._gap_ms = 0.0
            if self._onset is not None and self._speech_ms >= p.min_speech_ms:
                onset = self._onset
                self.reset()
                self.speaking = True
                return VadEvent("started", max(0.0, onset - p.prefix_padding_ms), end_ms, onset)
            return None
        if speech:
            self._end = None
        elif silence and self._end is None:
            self._end = self.refine_end(start_ms) if self.refine_end is not None else start_ms
        if self._end is not None and end_ms - self._end >= p.silence_duration_ms:
            audio_end = self._end
            self.reset()
            return VadEvent("stopped", audio_end, end_ms)
        return None
