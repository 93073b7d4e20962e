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

Every reply is a new echo path.  Measured in the virtual room (a session's raw input and the
modelled far end replayed offline through this class, bit-exact): the delay from the model to
the echo differs per reply by up to ~20 ms -- when the first delta goes out the input lags the
client's mic by 2-17 ms (the client's loop, the socket, this core), the client starts playing
27-34 ms after it, the room's loopback drifts by a few ms -- and by a fraction of a sample
however well it is aligned.  A trained AEC3 trusts its filter for the old path and lets the
echo of a reply's first ~0.5 s through (10-20 dB instead of 40-60 dB removed: false
barge-ins); aligning the model to the echo exactly, to the sample, still leaked.  A fresh AEC3
assumes a strong unknown echo and suppresses until it has learnt the path, so each reply
starts one (:meth:`EchoCanceller.restart <voicelive_nb.audio.echo.EchoCanceller.restart>`).  The
same happens within a reply when the client's playback stalls (an underflow re-opens its
stream: the rest plays tens of ms later): :class:`PlaybackGapWatch` sees the model play where
the mic hears nothing and starts a fresh AEC3 again.  A barge-in looks the same (the client
stops before its truncate arrives); starting afresh then is harmless.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voicelive_nb.audio.echo import EchoCanceller, apm_delay_samples

__all__ = ["PlaybackGapWatch", "ServerEchoCanceller"]

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


def _db(ms: float) -> float:
    """dBFS of a mean square in int16 units."""
    return 10.0 * math.log10(ms + 1e-2) - 90.3


class PlaybackGapWatch:
    """Sees the client's playback stall in the middle of a reply (see the module docstring).

    Per 10 ms frame it is given the modelled far end's and the mic's levels.  Once a reply has
    played for ``settle`` frames it finds the echo's delay (in frames) as the lag at which the
    mic's level envelope follows the far end's best (correlation > ``min_corr``), and updates
    it every ``every`` frames.  A *gap*: for ``need`` frames in a row the far end was loud
    (> -45 dBFS) where its echo should be now, yet the mic is 30 dB below that echo (the
    echo's level relative to the far end is the gate's).  Then the delay is forgotten until
    found again.

    Args:
        frames: Envelope history (10 ms frames).
        max_lag: Longest echo delay looked for (frames).
    """

    def __init__(
        self,
        frames: int = 150,
        max_lag: int = 60,
        every: int = 20,
        settle: int = 100,
        need: int = 3,
        min_corr: float = 0.7,
    ) -> None:
        self.size = frames + max_lag + 2
        self.window = frames
        self.max_lag = max_lag
        self.every = every
        self.settle = settle
        self.need = need
        self.min_corr = min_corr
        self._far = np.full(self.size, -120.0)
        self._near = np.full(self.size, -120.0)
        self._i = 0  # frames added
        self._since = 0  # frames since the reply started (or the last gap)
        self._run = 0
        self.lag: int | None = None
        """The echo's delay behind the model, in frames (None: not known yet)."""
        self.gaps = 0
        """Gaps seen."""

    def reset(self) -> None:
        """A new reply: its echo delay is unknown."""
        self.lag = None
        self._run = 0
        self._since = 0

    def add(self, far_ms: float, near_ms: float, echo_db: float | None) -> bool:
        """One frame's mean squares (model, mic) and the echo level (None: no echo): True on a gap."""
        size = self.size
        k = self._i % size
        self._far[k] = _db(far_ms)
        self._near[k] = _db(near_ms)
        self._i += 1
        self._since += 1
        if self._since >= self.settle and self._i % self.every == 0:
            self._estimate()
        lag = self.lag
        if lag is None or echo_db is None:
            return False
        far = self._far
        heard = min(far[(self._i - 1 - lag + d) % size] for d in (-1, 0, 1))
        if heard > -45.0 and self._near[k] < heard + echo_db - 30.0:
            self._run += 1
        else:
            self._run = 0
        if self._run < self.need:
            return False
        self.gaps += 1
        self.reset()
        return True

    def _estimate(self) -> None:
        size, w = self.size, min(self.window, self._since)
        end = self._i
        near = self._near[np.arange(end - w, end) % size]
        lags = np.arange(2, self.max_lag)
        far = self._far[(np.arange(end - w, end)[None, :] - lags[:, None]) % size]  # (lags, w)
        loud = far > -60.0
        count = loud.sum(axis=1)
        ok = count >= 40
        if not ok.any():
            return
        f = np.where(loud, far, 0.0)
        nn = np.where(loud, near[None, :], 0.0)
        c = np.maximum(count, 1)
        fm = f.sum(axis=1) / c
        nm = nn.sum(axis=1) / c
        cov = (f * nn).sum(axis=1) / c - fm * nm
        fv = (f * f).sum(axis=1) / c - fm * fm
        nv = (nn * nn).sum(axis=1) / c - nm * nm
        good = ok & (fv > 1.0) & (nv > 1.0)
        corr = np.where(good, cov / np.sqrt(np.maximum(fv * nv, 1e-9)), -1.0)
        best = int(np.argmax(corr))
        if corr[best] > self.min_corr:
            self.lag = int(lags[best])


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
        self.replies = 0
        """Replies modelled (each started a fresh canceller)."""
        self._watch = PlaybackGapWatch()

    # --- the far end ---------------------------------------------------------------------

    def response_audio(self, item_id: str, pcm: np.ndarray, rate: int) -> None:
        """A response audio delta was sent (int16 at ``rate``); the first one anchors its playback."""
        far = self._items.get(item_id)
        if far is None:
            far = self._items[item_id] = _Far(self.received, self.far_rate)
            self._ec.restart()  # a new echo path (see the module docstring)
            self._watch.reset()
            self.replies += 1
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
        ec = self._ec
        ec.process_frame(frame, (pos * self.far_rate) // self.rate, active)
        out[:] = frame
        self.processed_frames += active
        if active and self._watch.add(ec.far_ms, ec.in_ms, ec.gate.level_db if ec.gate.echo else None):
            ec.restart()  # the client's playback stalled: the rest of the reply is a new echo path

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
        s["replies"] = self.replies
        s["playback_gaps"] = self._watch.gaps
        return s
