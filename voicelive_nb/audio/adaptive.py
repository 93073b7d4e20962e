"""A device speaker that hears the edges at once and grows its buffer after underflows.

The two moments a user hears -- an answer's first sample and the silence after a
barge-in -- are *edges*: at each edge :class:`AdaptiveSpeaker` aborts and restarts its
stream, which drops what the device holds, so those two latencies are a few ms whatever
the buffer, and the buffer only has to be big enough to ride out late callbacks.  The
latency profiles that configure it (and why): :mod:`voicelive_nb.audio.profiles`.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from voicelive_nb.audio.streams import DeviceSpeaker

if TYPE_CHECKING:
    from voicelive_nb.audio.player import Player

__all__ = ["AdaptiveSpeaker"]


class AdaptiveSpeaker(DeviceSpeaker):
    """A :class:`DeviceSpeaker` that hears the edges at once and grows its buffer after underflows.

    The buffer delays only what is queued behind it.  Two moments matter to the user and
    both happen at an *edge*: the first sample of an answer (queued behind a buffer of
    silence) and a barge-in (the rest of the buffer is stale).  At both edges the
    callback aborts the stream -- PortAudio's abort drops what the device holds (on
    PulseAudio the server side too) -- and a watcher thread restarts it at once, so
    the answer starts, and a barge-in ends, within a few ms whatever the buffer size
    (measured on PulseAudio: abort + start 2-7 ms; onset 3-11 ms with a 20-160 ms
    buffer instead of the buffer's length).  Between the edges the full buffer covers
    late callbacks.

    Underflows -- grow first, shrink later: the watcher sees the device's underflow count
    rise and re-opens the stream at once with the largest buffer, ``max_latency``, so one
    underflow is all a loaded machine costs (growing a step at a time cost one underflow
    per step, and a machine that got busy stays busy for a while).  After
    ``shrink_after_s`` without an underflow it steps back down by ``grow`` while nothing
    plays; a step down followed by an underflow goes back up to the top and doubles the wait.

    Args:
        device: Device index or name, None for the default output.
        rate: Stream rate (the player's).
        blocksize: Samples per callback.
        latency: Buffer to start with (seconds).
        max_latency: Largest buffer (seconds).
        grow: Factor of each step back down (an underflow goes straight to ``max_latency``).
        shrink_after_s: Seconds without an underflow before one step back down
            (taken only while the player is idle, so it is inaudible); 0 never shrinks.
            A step down followed by an underflow doubles this wait.
        grace_s: Underflows this soon after a (re)start are the stream priming itself:
            counted in :attr:`startup_underflows`, not acted upon.
        check_s: How often the watcher thread looks at the counters.
        edges: Restart the stream at answer starts and barge-ins (see above).
        jitter_s: Jitter buffer: an answer starts once a buffer's worth *plus* this much
            is queued, so that after the restarted stream has filled its buffer the
            player still holds this cushion against late deltas (it costs
            ``jitter_s / speed`` at the start of an answer sent ``speed`` x real time).
        jitter_step_s: Each time the player runs dry in the middle of an answer (the
            audio arrived late), the cushion grows by this much ...
        max_jitter_s: ... up to this much; it shrinks back (not below ``jitter_s``) with the buffer.

    Attributes:
        reopens: Re-opens with a new buffer size.
        restarts: Restarts at edges (answer starts and barge-ins).
        startup_underflows: Underflows inside a grace period (included in ``underflows``).
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
        grace_s: float = 0.1,
        check_s: float = 0.05,
        edges: bool = True,
        jitter_s: float = 0.06,
        jitter_step_s: float = 0.05,
        max_jitter_s: float = 0.3,
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
        self.edges = edges
        self.reopens = 0
        self.restarts = 0
        self.startup_underflows = 0
        self.underflow_log: list[tuple[float, float]] = []
        """(monotonic time the watcher saw it, buffer then in s) of each underflow acted upon (last 100)."""
        self._opened_at = 0.0
        self._watch: threading.Thread | None = None
        self._halt = threading.Event()
        self._restart = threading.Event()  # set by the callback after it aborted at an edge
        self._reopen_lock = threading.Lock()
        self._seen_flushes = 0
        self._silent = 0  # frames of silence handed to the device since the last audio
        self._silent_needed = max(blocksize, round(latency * rate))  # silence that fills the buffer
        self._held = 0  # frames an answer has been held back waiting for its cushion
        self._abort_exc: type[BaseException] = RuntimeError
        self._ahead: float | None = None  # DAC time - current time of the last callback
        self.jitter_step_s = jitter_step_s
        self.max_jitter_s = max(max_jitter_s, jitter_s)
        self.min_jitter_s = jitter_s
        self.jitter_s = jitter_s
        """Extra audio an answer waits for before it starts (grows after the player ran dry)."""

    @property
    def output_latency_s(self) -> float:
        """How far ahead of the listener the last callback wrote (seconds).

        Not the buffer size: right after an edge restart the device holds almost
        nothing, so an answer's first sample is heard within a few ms.
        """
        return self._ahead if self._ahead is not None else self._latency_s

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

    def drop_buffered(self) -> bool:
        """Drop what the device holds now (abort + restart); False if not running.

        Not needed after :meth:`Player.flush <voicelive_nb.audio.player.Player.flush>`
        with ``edges`` on: the next callback does it.  Calling it right after the
        player's flush saves waiting for that callback.
        """
        player = self._player
        if player is not None:
            self._seen_flushes = player.flushes
        return self._restart_stream(abort=True)

    def audio_queued(self) -> bool:
        """The session queued answer audio: start it now if the device holds only silence.

        Called by the session after each ``Player.push`` (any thread but the callback's).
        Without it the callback notices at its next invocation (up to one block later).
        Returns True if the stream was restarted.
        """
        player = self._player
        if not self.edges or player is None or self._silent < self._silent_needed:
            return False
        if not self._ready(player, player.queued_ms):
            return False
        return self._restart_stream(abort=True)

    def _hold_limit(self) -> float:
        return self._silent_needed + self.jitter_s * self.rate

    def _ready(self, player: Player, queued_ms: float) -> bool:
        """An answer may start once a buffer's worth (plus the jitter allowance) is queued,
        or all of it is: then the restarted stream fills its buffer with audio, not a gap."""
        if queued_ms <= 0:
            return False
        need = self._silent_needed + self.jitter_s * self.rate
        return queued_ms * self.rate >= 1000.0 * need or not player.streaming

    # ------------------------------------------------------------------ callback side

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        player = self._player
        if self.edges and player is not None:
            flushed = player.flushes != self._seen_flushes
            queued = player.queued_ms
            resumed = self._silent >= self._silent_needed and (
                self._ready(player, queued) or (queued > 0 and self._held >= self._hold_limit())
            )
            if flushed or resumed:
                # An edge: the device holds stale audio (barge-in) or only silence (an answer
                # starts).  Abort drops it; the watcher restarts the stream right away.
                self._seen_flushes = player.flushes
                self._silent = 0
                if status.output_underflow:
                    self._count_underflow()
                outdata.fill(0)
                ref = self.echo_reference
                if ref is not None:  # what the device held is dropped: it was never heard
                    ref.cut(time.monotonic())
                self._restart.set()
                raise self._abort_exc
            if queued > 0 and self._silent >= self._silent_needed:
                # Waiting for a buffer's worth before the restart: hold the answer back
                # (it would only queue behind the silence) and keep playing silence --
                # for at most as long as the cushion itself (late or short answers).
                self._silent += frames
                self._held += frames
                if status.output_underflow:
                    self._count_underflow()
                outdata.fill(0)
                return
            if queued > 0:
                self._silent = 0
            else:
                self._silent += frames
                self._held = 0
        if status.output_underflow and time.monotonic() - self._opened_at < self.grace_s:
            self.startup_underflows += 1
        dac, now = time_info.outputBufferDacTime, time_info.currentTime
        if dac > 0.0 and now > 0.0 and 0.0 <= dac - now < 2.0:
            self._ahead = dac - now
        super()._callback(outdata, frames, time_info, status)

    def _count_underflow(self) -> None:
        self._underflows += 1
        if time.monotonic() - self._opened_at < self.grace_s:
            self.startup_underflows += 1

    # ------------------------------------------------------------------ watcher thread

    def _open(self, player: Player) -> None:
        from voicelive_nb.audio import devices

        self._abort_exc = devices.sounddevice().CallbackAbort
        self._seen_flushes = player.flushes
        self._silent = 0
        super().start(player)
        self._silent_needed = max(self.blocksize, round(self._latency_s * self.rate))
        self._opened_at = time.monotonic()

    def _run(self) -> None:
        seen = self._underflows - self.startup_underflows
        player = self._player
        starved = player.underflows if player is not None else 0
        last_event = time.monotonic()
        shrunk_at = -1e9
        shrink_wait = self.shrink_after_s
        while not self._halt.is_set():
            if self._restart.wait(self.check_s):
                self._restart.clear()
                self._restart_stream()
                continue
            now = time.monotonic()
            player = self._player
            if player is not None and player.underflows > starved:
                starved = player.underflows  # an answer ran dry: its audio came late
                last_event = now
                self.jitter_s = min(self.max_jitter_s, self.jitter_s + self.jitter_step_s)
            count = self._underflows - self.startup_underflows
            if count > seen:
                seen = count
                self.underflow_log = [*self.underflow_log[-99:], (now, self.current_latency_s)]
                if now - shrunk_at < shrink_wait:
                    shrink_wait *= 2  # the last step down was one too many: wait longer next time
                last_event = now
                if self.current_latency_s < self.max_latency:
                    self._reopen(self.max_latency)  # grow first: all the way, so one underflow is the last
            elif self.shrink_after_s > 0 and now - last_event > shrink_wait and self._idle():
                last_event = now
                shrunk_at = now
                self.jitter_s = max(self.min_jitter_s, self.jitter_s - self.jitter_step_s)
                if self.current_latency_s > self.min_latency:
                    self._reopen(max(self.min_latency, self.current_latency_s / self.grow))
            seen = self._underflows - self.startup_underflows

    def _idle(self) -> bool:
        player = self._player
        return player is not None and player.queued_ms == 0 and not player.streaming

    def _restart_stream(self, abort: bool = False) -> bool:
        with self._reopen_lock:
            stream = self._stream
            if stream is None or self._halt.is_set():
                return False
            try:
                if abort or stream.active:
                    stream.abort()
                else:
                    stream.stop()  # aborted by the callback: only the bookkeeping is left
                self._opened_at = time.monotonic()
                self._silent = 0  # the device holds nothing now
                self._held = 0
                player = self._player
                if player is not None:
                    self._seen_flushes = player.flushes
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
            self.restarts += 1
            return True

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
        """Current buffer, re-opens, restarts and underflows (for counters and logs)."""
        return {
            "latency_ms": round(self.current_latency_s * 1000.0, 1),
            "reopens": self.reopens,
            "restarts": self.restarts,
            "underflows": self.underflows,
            "startup_underflows": self.startup_underflows,
            "jitter_ms": round(self.jitter_s * 1000.0, 1),
        }
