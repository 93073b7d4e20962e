"""``server_echo_cancellation``: the emulator removes its own voice from the audio it receives.

The service cannot hear the client's speaker; what it knows is the audio it sent.  So it
models the far end the way a service must: each response's audio, *as played from the moment
its first delta was sent, at real time*, and cut where the client truncated the item.  On the
input timeline (milliseconds of audio appended), a response whose first delta went out when
``P`` samples had been appended plays its sample ``k`` at input position ``P + k`` (rates
converted); the rest -- network, the client's playout buffer, the room, the mic -- is a delay
the canceller (WebRTC AEC3, :mod:`voicelive_nb.audio.echo`) estimates, up to ~0.5 s.

:class:`ServerEchoCanceller` is sans-I/O (the core calls it): :meth:`~ServerEchoCanceller.process`
takes each appended chunk and returns the cleaned audio the VAD and transcription see.  When
no response audio is on the modelled timeline (nor within the echo tail after it), the input
passes unchanged -- no CPU spent, bit-exact -- and the canceller's filter delay is kept out of the
timeline: the output is held back by that delay in both paths and the first that many samples
are dropped once, so output sample ``n`` is input sample ``n`` and speech edges keep their
true times.  (A manual commit therefore lacks the last ~19 ms: the filter delay and a
partial 10 ms frame.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voicelive_nb.audio.echo import EchoCanceller, apm_delay_samples

__all__ = ["ServerEchoCanceller"]

TAIL_S = 1.0
"""How long after the modelled far end the canceller keeps running (the echo's path delay)."""


@dataclass
class _Far:
    start: int  # input position (input-rate samples) where sample 0 plays
    rate: int  # the response audio's rate
    chunks: list[np.ndarray] = field(default_factory=list)
    length: int = 0  # far samples sent
    cut: int | None = None  # far samples kept after a truncate
    done: bool = False

    def end(self, in_rate: int) -> int:
        """Input position where this response's modelled playback ends."""
        n = self.length if self.cut is None else min(self.length, self.cut)
        return self.start + (n * in_rate) // self.rate


class ServerEchoCanceller:
    """The emulator's echo canceller for one session (see the module docstring).

    Args:
        rate: Input audio rate (the session's ``input_audio_sampling_rate``).
        far_rate: Rate the response audio is modelled at (the output format's rate).
    """

    def __init__(self, rate: int = 24000, far_rate: int = 24000) -> None:
        self.rate = rate
        self.far_rate = far_rate
        self.received = 0
        """Input samples received (the raw timeline)."""
        self._items: dict[str, _Far] = {}
        self._ec = EchoCanceller(rate, self._far, far_rate, enabled=True, high_pass=False)
        self._n = self._ec.near_n
        self._pending = np.zeros(self._n, dtype=np.int16)  # a partial frame
        self._npending = 0
        self._skip = apm_delay_samples(rate)  # output samples still to drop once: output n = input n
        self.processed_frames = 0
        """10 ms frames that went through the canceller (the rest bypassed it)."""

    # --- the far end ---------------------------------------------------------------------

    def response_audio(self, item_id: str, pcm: np.ndarray, rate: int) -> None:
        """A response audio delta was sent (int16 at ``rate``); the first one anchors its playback."""
        far = self._items.get(item_id)
        if far is None:
            far = self._items[item_id] = _Far(self.received, self.far_rate)
        x = np.asarray(pcm, dtype=np.int16)
        if rate != self.far_rate:
            from voicelive_nb.audio.resample import resample

            x = resample(x, rate, self.far_rate)
        far.chunks.append(x)
        far.length += x.shape[0]

    def response_done(self, item_id: str) -> None:
        """No more audio will be sent for ``item_id``."""
        far = self._items.get(item_id)
        if far is not None:
            far.done = True

    def truncate(self, item_id: str, audio_end_ms: float) -> None:
        """The client says it played ``item_id`` only up to ``audio_end_ms``."""
        far = self._items.get(item_id)
        if far is not None:
            far.cut = max(0, round(audio_end_ms * far.rate / 1000.0))

    def _far(self, pos: int, out: np.ndarray) -> None:
        """The far end at far-rate position ``pos`` of the input timeline (all responses)."""
        out.fill(0)
        n = out.shape[0]
        for far in self._items.values():
            a = pos - (far.start * self.far_rate) // self.rate
            limit = far.length if far.cut is None else min(far.length, far.cut)
            if a + n <= 0 or a >= limit:
                continue
            if len(far.chunks) > 1:
                far.chunks = [np.concatenate(far.chunks)]
            lo, hi = max(a, 0), min(a + n, limit)
            out[lo - a : hi - a] += far.chunks[0][lo:hi]

    def _update_active(self, start: int, end: int) -> bool:
        """Forget finished responses; True if a far end plays (or echoes) in ``[start, end)``."""
        tail = round(TAIL_S * self.rate)
        for item_id in [k for k, f in self._items.items() if f.done and f.end(self.rate) + tail < start]:
            del self._items[item_id]
        return any(f.start < end and f.end(self.rate) + tail > start for f in self._items.values())

    # --- the near end ----------------------------------------------------------------------

    def process(self, pcm: np.ndarray) -> np.ndarray:
        """Clean one appended chunk (int16 at :attr:`rate`); returns the samples now ready."""
        x = np.asarray(pcm, dtype=np.int16).reshape(-1)
        n = self._n
        total = self._npending + x.shape[0]
        out = np.empty(total - total % n, dtype=np.int16)
        done = i = 0
        while i < x.shape[0]:
            take = min(n - self._npending, x.shape[0] - i)
            self._pending[self._npending : self._npending + take] = x[i : i + take]
            self._npending += take
            i += take
            self.received += take
            if self._npending < n:
                break
            self._npending = 0
            self._frame(out[done : done + n], self.received - n)
            done += n
        if self._skip and out.shape[0]:
            drop = min(self._skip, out.shape[0])
            self._skip -= drop
            out = out[drop:]
        return out

    def _frame(self, out: np.ndarray, pos: int) -> None:
        """One 10 ms frame at input position ``pos`` -> ``out`` (delayed by the canceller's delay)."""
        frame = self._pending
        active = self._update_active(pos, pos + self._n)
        self._ec.process_frame(frame, (pos * self.far_rate) // self.rate, active)
        out[:] = frame
        self.processed_frames += active

    @property
    def echo_level_db(self) -> float | None:
        """The echo's level relative to the modelled far end, as the gate measured it (dB)."""
        return self._ec.gate.level_db

    def stats(self) -> dict[str, Any]:
        """ERL/ERLE over the far-active frames; CPU per second of audio received; frames."""
        s = self._ec.stats()
        audio_s = self.received / self.rate
        s["cpu_share"] = round(self._ec.cpu_s / audio_s, 5) if audio_s else 0.0
        s["processed_frames"] = self.processed_frames
        return s
