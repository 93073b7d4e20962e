"""The latency/robustness knob: block sizes and device buffers, and a speaker that adapts.

Every millisecond of device buffer is a millisecond the user waits -- for the mic to
reach the socket, for the answer to come out, for the assistant to go quiet after a
barge-in.  But a buffer is also what covers an audio callback that runs late, and in a
notebook the callbacks share the GIL with the kernel (plots, widgets, the user's cells)
and the CPU with everything else.  :data:`PROFILES` names the trade-off:

============  ==========================  ============================  =========================
profile       mic                         speaker                       when
============  ==========================  ============================  =========================
``"low"``     10 ms blocks, ``"low"``     10 ms blocks, 20 ms buffer    a quiet machine, a demo
``"auto"``    10 ms blocks, ``"low"``     starts like ``low``; each     the default
                                          underflow grows the buffer
                                          (up to 160 ms); quiet spells
                                          shrink it back while idle
``"robust"``  20 ms blocks, ``"low"``     20 ms blocks, 100 ms buffer   a loaded machine, no
                                                                        glitch allowed
============  ==========================  ============================  =========================

Figures behind the choice: ``bench/latency_bench.py`` (our bench; the report that came
with this module has the table).  On PulseAudio, the buffer a stream gets is about
``latency`` (PortAudio's suggested latency), never less than two blocks.

:class:`AdaptiveSpeaker` is a :class:`~voicelive_nb.audio.streams.DeviceSpeaker` whose
buffer grows only after an output underflow: a small watcher thread (not the audio
callback) sees the device's underflow count rise and re-opens the stream with a larger
buffer (the player keeps its queue, so nothing is lost: the re-open costs one gap of
a few ms, and only when a glitch just happened anyway).  After ``shrink_after_s`` without
an underflow it steps back down, but only while nothing is playing, so the step is silent.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from voicelive_nb.audio.streams import DeviceMic, DeviceSpeaker, Latency

if TYPE_CHECKING:
    from voicelive_nb.audio.player import Player

__all__ = ["PROFILES", "AdaptiveSpeaker", "LatencyProfile", "profile"]


@dataclass(frozen=True, slots=True)
class LatencyProfile:
    """Block sizes and device buffers of the mic and the speaker.

    Attributes:
        name: The profile's name.
        mic_block_ms: Mic block (one ``input_audio_buffer.append``) in ms.
        mic_latency: PortAudio input latency (``"low"``, ``"high"`` or seconds).
        speaker_block_ms: Speaker callback size in ms (the barge-in granularity).
        speaker_latency_s: Speaker buffer to start with (seconds).
        speaker_max_latency_s: Largest buffer an underflow may grow it to (equal to
            ``speaker_latency_s``: never adapts).
    """

    name: str
    mic_block_ms: float
    mic_latency: Latency
    speaker_block_ms: float
    speaker_latency_s: float
    speaker_max_latency_s: float

    @property
    def adaptive(self) -> bool:
        """True if the speaker buffer grows after underflows."""
        return self.speaker_max_latency_s > self.speaker_latency_s

    def mic(self, device: int | str | None = None, rate: int = 24000) -> DeviceMic:
        """A :class:`DeviceMic` with this profile's settings."""
        return DeviceMic(device, rate=rate, blocksize=_samples(self.mic_block_ms, rate), latency=self.mic_latency)

    def speaker(self, device: int | str | None = None, rate: int = 24000) -> AdaptiveSpeaker:
        """An :class:`AdaptiveSpeaker` with this profile's settings (fixed buffer unless adaptive)."""
        block = _samples(self.speaker_block_ms, rate)
        return AdaptiveSpeaker(
            device,
            rate=rate,
            blocksize=block,
            latency=self.speaker_latency_s,
            max_latency=self.speaker_max_latency_s,
        )


PROFILES: dict[str, LatencyProfile] = {
    "low": LatencyProfile("low", 10.0, "low", 10.0, 0.02, 0.02),
    "auto": LatencyProfile("auto", 10.0, "low", 10.0, 0.02, 0.16),
    "robust": LatencyProfile("robust", 20.0, "low", 20.0, 0.1, 0.1),
}
"""The named profiles (see the module table); ``"auto"`` is the default."""

DEFAULT_PROFILE = "auto"


def profile(value: str | LatencyProfile | None) -> LatencyProfile:
    """Resolve a ``latency=`` argument: None (the default, ``"auto"``), a name, or a profile."""
    if value is None:
        return PROFILES[DEFAULT_PROFILE]
    if isinstance(value, LatencyProfile):
        return value
    if isinstance(value, str) and value in PROFILES:
        return PROFILES[value]
    raise ValueError(
        f"latency={value!r} is not a latency profile: use one of {', '.join(map(repr, PROFILES))} "
        "(lower latency <-> fewer glitches on a busy machine) or a LatencyProfile(...)"
    )


def _samples(ms: float, rate: int) -> int:
    return max(1, round(ms * rate / 1000.0))


class AdaptiveSpeaker(DeviceSpeaker):
    """A :class:`DeviceSpeaker` whose buffer grows after output underflows.

    Args:
        device: Device index or name, None for the default output.
        rate: Stream rate (the player's).
        blocksize: Samples per callback.
        latency: Buffer to start with (seconds).
        max_latency: Largest buffer (seconds); each underflow multiplies it by ``grow``.
        grow: Growth factor per step.
        shrink_after_s: Seconds without an underflow before one step back down
            (taken only while the player is idle, so it is inaudible); 0 never shrinks.
        grace_s: Underflows this soon after a (re)open are the stream's start-up, ignored.
        check_s: How often the watcher thread looks at the counters.

    Attributes:
        reopens: How many times the stream was re-opened with a new buffer.

    Barge-in: :meth:`flush` drops what the device has buffered (abort + restart), so
    a larger buffer costs nothing at barge-in, only at the start of an answer.
    """

    def __init__(
        self,
        device: int | str | None = None,
        rate: int = 24000,
        blocksize: int = 240,
        latency: float = 0.02,
        max_latency: float = 0.16,
        *,
        grow: float = 2.0,
        shrink_after_s: float = 60.0,
        grace_s: float = 0.5,
        check_s: float = 0.05,
    ) -> None:
        if not 0 < latency <= max_latency:
            raise ValueError(f"AdaptiveSpeaker needs 0 < latency <= max_latency, got {latency!r}, {max_latency!r}")
        if grow <= 1.0:
            raise ValueError(f"AdaptiveSpeaker grow must be > 1, got {grow!r}")
        super().__init__(device, rate=rate, blocksize=blocksize, latency=latency)
        self.min_latency = float(latency)
        self.max_latency = float(max_latency)
        self.grow = grow
        self.shrink_after_s = shrink_after_s
        self.grace_s = grace_s
        self.check_s = check_s
        self.reopens = 0
        self.device_flushes = 0
        """Barge-ins that dropped the device buffer (:meth:`flush`)."""
        self._opened_at = 0.0
        self._ignored = 0  # underflows inside a grace period (start-up), not counted
        self._watch: threading.Thread | None = None
        self._halt = threading.Event()
        self._reopen_lock = threading.Lock()

    @property
    def underflows(self) -> int:
        """Output underflows after each (re)open's start-up grace period."""
        return self._underflows - self._ignored

    @property
    def current_latency_s(self) -> float:
        """The buffer the stream was last opened with (seconds)."""
        return float(self.latency) if isinstance(self.latency, int | float) else self.min_latency

    def start(self, player: Player) -> None:
        """Open the stream and start the watcher thread."""
        if self._stream is not None:
            return
        self._open(player)
        self._halt.clear()
        self._watch = threading.Thread(target=self._run, name="voicelive-speaker-adapt", daemon=True)
        self._watch.start()

    def stop(self) -> None:
        """Stop the watcher and the stream (idempotent)."""
        self._halt.set()
        watch, self._watch = self._watch, None
        if watch is not None and watch is not threading.current_thread():
            watch.join(5.0)
        with self._reopen_lock:
            super().stop()

    def _open(self, player: Player) -> None:
        super().start(player)
        self._opened_at = time.monotonic()

    def _run(self) -> None:
        seen = self._underflows
        last_event = time.monotonic()
        while not self._halt.wait(self.check_s):
            now = time.monotonic()
            count = self._underflows
            if now - self._opened_at < self.grace_s:
                self._ignored += count - seen  # start-up of this (re)open
                seen = count
                continue
            if count > seen:
                seen = count
                last_event = now
                if self.current_latency_s < self.max_latency:
                    self._reopen(min(self.max_latency, self.current_latency_s * self.grow))
                    seen = self._underflows
            elif (
                self.shrink_after_s > 0
                and now - last_event > self.shrink_after_s
                and self.current_latency_s > self.min_latency
                and self._idle()
            ):
                last_event = now
                self._reopen(max(self.min_latency, self.current_latency_s / self.grow))
                seen = self._underflows

    def flush(self) -> bool:
        """Drop the audio already handed to the device, at once (barge-in).

        Aborts and restarts the stream: PortAudio's abort discards what is buffered (on
        PulseAudio the server-side buffer too), so the assistant goes quiet within a few
        ms whatever the buffer size (measured: 2-7 ms for abort + start, 0-6 ms of stale
        audio with a 20-100 ms buffer).  Call it right after
        :meth:`Player.flush <voicelive_nb.audio.player.Player.flush>`, from the session
        thread.  Returns False if the stream is not running or the restart failed.
        """
        with self._reopen_lock:
            stream = self._stream
            if stream is None:
                return False
            try:
                stream.abort()
                stream.start()
            except Exception:  # a device that cannot restart: fall back to a full re-open
                try:
                    player = self._player
                    super().stop()
                    if player is not None:
                        self._open(player)
                except Exception:
                    self.callback_errors += 1
                    return False
            self._opened_at = time.monotonic()  # the restart's priming underflow is not a glitch
            self.device_flushes += 1
            return True

    def _idle(self) -> bool:
        player = self._player
        return player is not None and player.queued_ms == 0 and not player.streaming

    def _reopen(self, latency: float) -> None:
        with self._reopen_lock:
            player = self._player
            if player is None or self._stream is None or self._halt.is_set():
                return
            super().stop()
            self.latency = latency
            self._open(player)
            self.reopens += 1

    def describe_state(self) -> dict[str, Any]:
        """Current buffer, re-opens and counted underflows (for counters and logs)."""
        return {
            "latency_ms": round(self.current_latency_s * 1000.0, 1),
            "reopens": self.reopens,
            "underflows": self.underflows,
        }
