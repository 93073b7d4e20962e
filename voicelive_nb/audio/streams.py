"""Sound-device source and sink on sounddevice (PortAudio) streams.

:class:`DeviceMic` (an :class:`~voicelive_nb.audio.sources.AudioSource`): the input callback
copies each block into a preallocated int16 ring and stamps it with the monotonic capture time
(PortAudio's ``inputBufferAdcTime`` mapped onto :func:`time.monotonic`); :meth:`DeviceMic.read`
returns ``blocksize`` samples at ``rate`` from the session thread, resampling there if the
device could not open at ``rate``.  The audio callback writes one byte per block into a
non-blocking pipe whose read end :meth:`DeviceMic.wake_fileno` gives: an event loop watches it
with ``loop.add_reader`` and is woken by the kernel directly.  With a ``notify`` callback instead,
a small relay thread reads the pipe and calls ``notify``.  Either way the callback itself never
calls Python code of the session, never blocks and never touches asyncio.

:class:`DeviceSpeaker` (an :class:`~voicelive_nb.audio.sources.AudioSink`): the output callback
calls :meth:`Player.fill <voicelive_nb.audio.player.Player.fill>` with the monotonic time at which
the block will be heard (``outputBufferDacTime`` mapped onto the monotonic clock, or now plus
the reported latency when the host API gives no DAC time).

Both count device over/underflows, and stop() is idempotent and leaves no stream or thread.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from voicelive_nb.audio import devices
from voicelive_nb.audio.resample import Resampler
from voicelive_nb.audio.sources import Notify

if TYPE_CHECKING:
    from voicelive_nb.audio.echo_mic import EchoReference
    from voicelive_nb.audio.player import Player

__all__ = ["DeviceMic", "DeviceSpeaker"]

Latency = float | str


def _opened(delta: int) -> None:
    with devices._lock:
        devices._open_streams += delta


def _gap(later: float, earlier: float, fallback: float) -> float:
    """``later - earlier`` of two PortAudio stream times when plausible, else ``fallback``.

    Output: (DAC time - current time) = seconds until the block is heard.
    Input: (current time - ADC time) = seconds since the block was captured.
    """
    if later > 0.0 and earlier > 0.0:
        d = later - earlier
        if 0.0 <= d < 2.0:
            return d
    return fallback


class DeviceMic:
    """Capture int16 mono blocks from a sound device.

    Args:
        device: Device index or name (substring), None for the default input.
        rate: Rate of the blocks :meth:`read` returns (Hz).
        blocksize: Samples per returned block (480 = 20 ms at 24 kHz).
        latency: PortAudio latency: ``"low"``, ``"high"`` or seconds.
        buffer_s: Capture held for a slow reader; beyond it new blocks are dropped (``overflows``).
        device_rate: Open the device at this rate and resample to ``rate`` in :meth:`read`
            (default: ``rate`` if the device accepts it, else the device's default rate).
    """

    _NCB = 1024  # callback time stamps kept

    def __init__(
        self,
        device: int | str | None = None,
        rate: int = 24000,
        blocksize: int = 480,
        latency: Latency = "low",
        buffer_s: float = 5.0,
        device_rate: int | None = None,
    ) -> None:
        if blocksize <= 0:
            raise ValueError(f"DeviceMic blocksize must be > 0 samples, got {blocksize}")
        self.device = device
        self.requested_device_rate = device_rate
        self._rate = rate
        self._blocksize = blocksize
        self.latency = latency
        self.buffer_s = buffer_s
        self._stream: Any = None
        self._desc = f"input device {device!r}"
        self._overflows = 0
        self._latency_s = 0.0
        self._wake_r = self._wake_w = -1
        self._relay: threading.Thread | None = None
        self._stopping = False
        self._dev_rate = rate

    @property
    def rate(self) -> int:
        """Rate of the returned blocks (Hz)."""
        return self._rate

    @property
    def blocksize(self) -> int:
        """Samples per returned block."""
        return self._blocksize

    @property
    def overflows(self) -> int:
        """Device input overflows plus blocks dropped because the reader fell behind."""
        return self._overflows

    @property
    def input_latency_s(self) -> float:
        """Input latency PortAudio reports for the open stream (s)."""
        return self._latency_s

    @property
    def description(self) -> str:
        """Device name, host API and rates."""
        return self._desc

    @property
    def finished(self) -> bool:
        """Always False: a microphone does not end."""
        return False

    @property
    def device_rate(self) -> int:
        """Rate the device was opened at (differs from ``rate`` when resampling)."""
        return self._dev_rate

    def start(self, notify: Notify | None = None) -> None:
        """Open and start the input stream."""
        if self._stream is not None:
            return
        sd = devices.sounddevice()
        info = devices.find_device(self.device, "input")
        dev_rate = self.requested_device_rate or self._rate
        try:
            sd.check_input_settings(device=info.index, samplerate=dev_rate, channels=1, dtype="int16")
        except Exception:
            if self.requested_device_rate:
                raise
            dev_rate = int(info.default_samplerate)
        self._dev_rate = dev_rate
        self._resampler = Resampler(dev_rate, self._rate) if dev_rate != self._rate else None
        dev_block = self._blocksize
        if dev_rate != self._rate:
            dev_block = max(1, round(self._blocksize * dev_rate / self._rate))
        cap = max(4, round(self.buffer_s * dev_rate / dev_block)) * dev_block
        self._cap = cap
        self._ring = np.empty(cap, dtype=np.int16)
        self._ring.fill(0)  # touch every page now: no page faults in the audio callback
        self._cb_pos = np.zeros(self._NCB, dtype=np.int64)
        self._cb_t = np.zeros(self._NCB, dtype=np.float64)
        self._ncb = 0
        self._w = 0  # written by the callback only
        self._r = 0  # read position (device samples), written by read() only
        self._pending = np.zeros(0, dtype=np.int16)  # resampled, not yet returned
        self._emitted = 0  # output samples returned so far
        self._fallback = dev_block / dev_rate
        self._anchor = -1.0  # monotonic time of device sample 0 (see _callback)
        self._stopping = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        os.set_blocking(self._wake_r, notify is not None)  # the relay blocks on it; a loop must not
        if notify is not None:
            self._relay = threading.Thread(target=self._run_relay, args=(notify,), name="voicelive-mic", daemon=True)
            self._relay.start()
        try:
            self._stream = sd.InputStream(
                device=info.index,
                samplerate=dev_rate,
                blocksize=dev_block,
                channels=1,
                dtype="int16",
                latency=self.latency,
                callback=self._callback,
            )
            _opened(+1)
            self._stream.start()
        except Exception:
            self.stop()
            raise
        self._latency_s = float(self._stream.latency)
        via = f", resampled from {dev_rate} Hz" if self._resampler else ""
        self._desc = f"{info.name} ({info.hostapi}) {self._rate} Hz{via}"

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        now = time.monotonic()
        if status.input_overflow:
            self._overflows += 1
        w = self._w
        cap = self._cap
        if w + frames - self._r > cap:
            self._overflows += 1  # the reader fell behind: drop this block
            return
        start = w % cap
        first = min(frames, cap - start)
        self._ring[start : start + first] = indata[:first, 0]
        if first < frames:
            self._ring[: frames - first] = indata[first:frames, 0]
        # Capture time of the block's first sample, on the device's sample clock: each estimate
        # (now - PortAudio's "captured ago") is late by scheduling jitter, never early, so track
        # the earliest one; creep toward later estimates to follow clock drift; re-anchor after
        # gaps (lost blocks, suspended machine).
        est = now - _gap(time_info.currentTime, time_info.inputBufferAdcTime, self._fallback) - w / self._dev_rate
        anchor = self._anchor
        if anchor < 0.0 or est < anchor or est - anchor > 0.25:
            anchor = est
        else:
            anchor += (est - anchor) * 0.0005
        self._anchor = anchor
        j = self._ncb % self._NCB
        self._cb_pos[j] = w
        self._cb_t[j] = anchor + w / self._dev_rate
        self._ncb += 1
        self._w = w + frames
        if self._wake_w >= 0:
            with contextlib.suppress(OSError):  # a full pipe already means "wake up"
                os.write(self._wake_w, b"\x01")

    def wake_fileno(self) -> int:
        """The read end of the wake pipe (-1 before :meth:`start`): readable while blocks wait.

        The callback writes one byte per captured block.  Watch it with
        ``loop.add_reader(fd, ...)``, read it dry with :func:`os.read` (it is non-blocking
        when ``start`` had no ``notify``), then :meth:`read` the blocks.  Remove the reader
        before :meth:`stop`, which closes it.
        """
        return self._wake_r

    def _run_relay(self, notify: Notify) -> None:
        fd = self._wake_r
        while True:
            try:
                data = os.read(fd, 4096)
            except OSError:
                return
            if not data or self._stopping:
                return
            notify()

    def _time_at(self, pos: float) -> float:
        """Monotonic capture time of device sample ``pos`` (from the callback stamps)."""
        n = self._ncb
        for k in range(n - 1, max(-1, n - self._NCB - 1), -1):
            j = k % self._NCB
            p = int(self._cb_pos[j])
            if p <= pos:
                return float(self._cb_t[j]) + (pos - p) / self._dev_rate
        j = max(0, n - self._NCB) % self._NCB
        return float(self._cb_t[j]) + (pos - int(self._cb_pos[j])) / self._dev_rate

    def read(self) -> tuple[np.ndarray, float] | None:
        """Next ``blocksize`` block at ``rate`` and the monotonic time of its first sample, or None."""
        if self._stream is None:
            return None
        n = self._blocksize
        if self._resampler is None:
            r = self._r
            if self._w - r < n:
                return None
            start = r % self._cap
            first = min(n, self._cap - start)
            block = np.empty(n, dtype=np.int16)
            block[:first] = self._ring[start : start + first]
            if first < n:
                block[first:] = self._ring[: n - first]
            t = self._time_at(r)
            self._r = r + n
            return block, t
        w, r = self._w, self._r
        if w > r:
            start = r % self._cap
            first = min(w - r, self._cap - start)
            chunk = self._ring[start : start + first]
            if first < w - r:
                chunk = np.concatenate([chunk, self._ring[: w - r - first]])
            self._r = w
            self._pending = np.concatenate([self._pending, self._resampler.process(chunk)])
        if self._pending.shape[0] < n:
            return None
        block = self._pending[:n].copy()
        self._pending = self._pending[n:]
        t = self._time_at(self._emitted * self._dev_rate / self._rate)
        self._emitted += n
        return block, t

    def stop(self) -> None:
        """Stop and close the stream and the relay thread (idempotent)."""
        self._stopping = True
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            finally:
                _opened(-1)
        if self._wake_w >= 0:
            with contextlib.suppress(OSError):
                os.close(self._wake_w)  # EOF ends the relay
            self._wake_w = -1
        relay, self._relay = self._relay, None
        if relay is not None and relay is not threading.current_thread():
            relay.join(5.0)
        if self._wake_r >= 0:
            with contextlib.suppress(OSError):
                os.close(self._wake_r)
            self._wake_r = -1

    def __enter__(self) -> DeviceMic:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class DeviceSpeaker:
    """Play a :class:`~voicelive_nb.audio.player.Player` on a sound device.

    Args:
        device: Device index or name (substring), None for the default output.
        rate: Stream rate; must equal the player's rate.
        blocksize: Samples per callback (480 = 20 ms at 24 kHz): the barge-in granularity.
        latency: PortAudio latency: ``"low"``, ``"high"`` or seconds.
    """

    def __init__(
        self, device: int | str | None = None, rate: int = 24000, blocksize: int = 480, latency: Latency = "low"
    ) -> None:
        if blocksize <= 0:
            raise ValueError(f"DeviceSpeaker blocksize must be > 0 samples, got {blocksize}")
        self.device = device
        self._rate = rate
        self._blocksize = blocksize
        self.latency = latency
        self._stream: Any = None
        self._player: Player | None = None
        self._underflows = 0
        self._latency_s = 0.0
        self._desc = f"output device {device!r}"
        self.callback_errors = 0
        """Exceptions raised inside the callback (the block is played as silence)."""
        self.dac_ahead_s = 0.0
        """In the last callback: seconds until its first sample is heard (PortAudio's DAC time,
        else ``output_latency_s``) -- the device's real output delay, often above the latency
        PortAudio reports for the stream."""
        self.echo_reference: EchoReference | None = None
        """Set before :meth:`start` to record what is played, with the time it is heard, for a
        local echo canceller (:mod:`voicelive_nb.audio.echo_mic`)."""

    @property
    def rate(self) -> int:
        """Stream rate (Hz)."""
        return self._rate

    @property
    def blocksize(self) -> int:
        """Samples per callback."""
        return self._blocksize

    @property
    def underflows(self) -> int:
        """Output underflows reported by PortAudio."""
        return self._underflows

    @property
    def output_latency_s(self) -> float:
        """Output latency PortAudio reports for the open stream (s)."""
        return self._latency_s

    @property
    def description(self) -> str:
        """Device name, host API and rate."""
        return self._desc

    def start(self, player: Player) -> None:
        """Open the output stream and start calling ``player.fill``."""
        if self._stream is not None:
            return
        if player.rate != self._rate:
            raise ValueError(f"DeviceSpeaker rate {self._rate} Hz != Player rate {player.rate} Hz")
        sd = devices.sounddevice()
        info = devices.find_device(self.device, "output")
        try:
            sd.check_output_settings(device=info.index, samplerate=self._rate, channels=1, dtype="int16")
        except Exception as exc:
            raise devices.AudioUnavailableError(
                f"output device {info.name!r} cannot play {self._rate} Hz mono int16 ({exc}); "
                "pick another device (`voicelive-nb devices`), e.g. 'pulse' or 'default' on Linux"
            ) from exc
        self._player = player
        self._fallback = 0.0
        try:
            self._stream = sd.OutputStream(
                device=info.index,
                samplerate=self._rate,
                blocksize=self._blocksize,
                channels=1,
                dtype="int16",
                latency=self.latency,
                callback=self._callback,
            )
            _opened(+1)
            self._latency_s = float(self._stream.latency)
            self._fallback = self._latency_s
            self._stream.start()
        except Exception:
            self.stop()
            raise
        self._desc = f"{info.name} ({info.hostapi}) {self._rate} Hz"

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        now = time.monotonic()
        if status.output_underflow:
            self._underflows += 1
        ahead = _gap(time_info.outputBufferDacTime, time_info.currentTime, self._fallback)
        self.dac_ahead_s = ahead
        try:
            self._player.fill(outdata, now + ahead)  # type: ignore[union-attr]
        except Exception:
            self.callback_errors += 1
            outdata.fill(0)
        ref = self.echo_reference
        if ref is not None:
            ref.write(outdata, now + ahead)

    def stop(self) -> None:
        """Stop and close the stream (idempotent)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            finally:
                _opened(-1)

    def __enter__(self) -> DeviceSpeaker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
