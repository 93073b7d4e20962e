"""The barge-in player: a preallocated int16 ring fed by the session, drained by the device.

Two sides, two threads:

*Loop side* (the session's asyncio thread; all calls from one thread):
    :meth:`Player.push` queues PCM16 of a response item (``response.audio.delta``),
    :meth:`Player.done` says the item's audio is complete (``response.audio.done``),
    :meth:`Player.flush` drops everything queued at once (barge-in / cancel) and
    returns a :class:`FlushInfo` for ``conversation.item.truncate``,
    :meth:`Player.drain_marks` collects what the device side did (:class:`PlaybackMark`).

*Callback side* (PortAudio's thread, or a capture thread):
    :meth:`Player.fill` copies the next samples into the device buffer, zero-pads,
    and writes marks into preallocated arrays.

Generations.  Every ``(response_id, item_id)`` pair pushed gets a serial number.
:meth:`flush` kills every serial handed out so far: what is queued of them is
dropped at once, and late deltas of those items (the server keeps sending for a
while after ``speech_started``) are discarded by :meth:`push` and counted in
:attr:`Player.dropped_late_ms`.  Audio of an item first pushed *after* the flush
gets a new serial and plays normally, so nothing of a new response is lost.
Only the block already claimed by the device when the flush happened still
plays: stale audio is at most one device block plus the device's output latency
(reported as :attr:`FlushInfo.stale_ms`).

The ring, its bookkeeping and the device side (timing, real-time safety, the fast
run) are :mod:`voicelive_nb.audio.ring`'s :class:`~voicelive_nb.audio.ring.PlaybackRing`;
this module is the loop side, :class:`Player`.

Capacity.  The ring holds ``capacity_s`` seconds.  A push that does not fit
raises :class:`PlayerFullError` (nothing is queued) -- it means the device side
is not running.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from voicelive_nb.audio.playback import FlushInfo, PlaybackMark, PlayerFullError, as_int16
from voicelive_nb.audio.ring import CHUNK, KIND_NAMES, PlaybackRing

__all__ = ["Player"]

_LITTLE_ENDIAN = sys.byteorder == "little"  # PCM16 bytes are the ring's own samples, byte for byte
_NO_SAMPLES = np.zeros(0, dtype=np.int16)


class Player(PlaybackRing):
    """Preallocated ring of int16 mono samples with generation-based barge-in.

    Args:
        rate: Sample rate of the audio pushed and of the device (Hz).
        capacity_s: Seconds of audio the ring can hold.
        max_items: Items tracked at once (serial numbers wrap modulo this).
        max_marks: Marks held between two :meth:`drain_marks` calls; more are dropped
            and counted in :attr:`marks_dropped`.

    Example::

        player = Player()
        player.push(delta_bytes, response_id, item_id)   # on each response.audio.delta
        player.done(response_id, item_id)                # on response.audio.done
        info = player.flush("speech_started")            # barge-in
        for mark in player.drain_marks(): ...            # publish playback records
    """

    # ------------------------------------------------------------------ loop side
    def push(self, pcm: bytes | bytearray | memoryview | np.ndarray, response_id: str, item_id: str) -> None:
        """Queue PCM16 mono samples of ``item_id`` (a ``response.audio.delta``).

        Args:
            pcm: Little-endian int16 bytes, or an int16 numpy array (1-D or (n, 1)).
            response_id: The response the delta belongs to.
            item_id: The output item the delta belongs to.

        Audio of an item that was flushed is silently dropped (and counted in
        :attr:`dropped_late_ms`).  Raises :class:`PlayerFullError` if the ring has
        no room, :class:`ValueError`/:class:`TypeError` for malformed audio.
        """
        # the session's case (even-length bytes, copied into the ring as they are) checked
        # cheaply; the rest by as_int16
        if type(pcm) is bytes and not len(pcm) & 1 and _LITTLE_ENDIAN:
            raw: bytes | None = pcm
            samples = _NO_SAMPLES
            n = len(pcm) >> 1
        else:
            raw = None
            samples = as_int16(pcm)
            n = samples.shape[0]
        last = self._push_key
        if last is not None and last[0] == response_id and last[1] == item_id:  # the same item again
            serial: int | None = self._push_serial
        else:
            last = None
            serial = self._serial_of.get((response_id, item_id))
        if serial is not None and serial < self._min_live:
            self._dropped_late += n
            return
        if n == 0 and serial is not None:
            return
        if serial is None:
            serial = self._new_serial((response_id, item_id))
        if last is None:
            self._push_key = (response_id, item_id)
            self._push_serial = serial
        slot = serial % self._nkeys
        w, r = self._w, self._r  # _w is ours; _r only grows, so a stale read is safe
        if w + n - r > self.capacity:
            raise PlayerFullError(
                f"Player ring is full ({(w - r) / self.rate:.1f} s queued, capacity "
                f"{self.capacity / self.rate:.1f} s): is the output device/sink started?"
            )
        # copy outside the lock: the device never reads at or past the published _w
        start = w % self.capacity
        if raw is not None:  # (a memoryview copy: no array made for the bytes)
            i = 2 * start
            if start + n <= self.capacity:
                self._bytes[i : i + 2 * n] = raw
            else:
                k = 2 * (self.capacity - start)
                view = memoryview(raw)
                self._bytes[i:] = view[:k]
                self._bytes[: 2 * n - k] = view[k:]
        elif start + n <= self.capacity:
            self._buf[start : start + n] = samples
        else:
            first = self.capacity - start
            self._buf[start:] = samples[:first]
            self._buf[: n - first] = samples[first:]
        lock = self._lock
        lock.acquire()  # (cheaper than ``with``; the finally releases it)
        try:
            if self._last_serial != serial:
                if self._seg_w - self._seg_r >= self._nseg:
                    raise PlayerFullError("Player has too many queued items; is the output running?")
                idx = self._seg_w % self._nseg
                self._seg_pos[idx] = w
                self._seg_serial[idx] = serial
                self._seg_w += 1
                self._last_serial = serial
            elif self._fast_end == w and self._fast_serial == serial and not self._key_done[slot]:
                self._fast_end = min(w + n, self._fast_wrap)  # the device's fast run goes on
            self._key_end[slot] = w + n
            self._w = w + n
            self._open_serial = serial
        finally:
            lock.release()

    def done(self, response_id: str, item_id: str) -> None:
        """Mark the item's audio complete (``response.audio.done``).

        A ``stopped`` mark follows when its last queued sample has played (at once
        if it already has).  Unknown or flushed items are ignored.
        """
        serial = self._serial_of.get((response_id, item_id))
        if serial is None or serial < self._min_live:
            return
        slot = serial % self._nkeys
        with self._lock:
            self._key_done[slot] = True
            if self._fast_end and self._fast_serial == serial:
                self._settle()
                self._arm()  # a shorter run: the item's last block goes the slow way
            if self._open_serial == serial:
                self._open_serial = -1
            drained = self._r >= self._key_end[slot]
            emit = drained and not self._key_stopped[slot] and self._key_played[slot] > 0
            if emit:
                self._key_stopped[slot] = True
                t = self._key_last_t[slot]
                played = self._key_played[slot]
        if emit:
            self._loop_marks.append(PlaybackMark("stopped", response_id, item_id, t, played, 0))

    def flush(self, reason: str = "speech_started", t: float | None = None) -> FlushInfo | None:
        """Drop everything queued of all items pushed so far, at once (barge-in).

        Later deltas of those items are discarded too; items first pushed after this
        call play normally.  Returns None when nothing was playing, queued or still
        streaming; else a :class:`FlushInfo` about the item that was playing.

        Args:
            reason: Recorded in the result (``"speech_started"``, ``"cancel"``...).
            t: Monotonic time of the request (default: now).
        """
        now = time.monotonic() if t is None else t
        with self._lock:
            self._settle()
            w, r = self._w, self._r
            dropped = w - r
            open_serial = self._open_serial
            cur = self._current_serial(r, w, open_serial, now)
            stale = 0.0
            played = 0
            if cur >= 0:
                slot = cur % self._nkeys
                played = self._key_played[slot]
                if played > 0:
                    stale = max(0.0, self._key_last_t[slot] - now)
                self._key_stopped[slot] = True  # a flushed item gets no stopped mark
            # skip the queue
            self._r = w
            if self._seg_w > 0:
                self._seg_r = self._seg_w - 1
            self._min_live = self._next_serial
            self._open_serial = -1
        if cur < 0:
            return None
        self.flushes += 1
        response_id, item_id = self._key_of[cur]
        ms = 1000.0 / self.rate
        return FlushInfo(response_id, item_id, played * ms, dropped * ms, stale * 1000.0, reason, now)

    def drain_marks(self) -> list[PlaybackMark]:
        """Return (and forget) the marks recorded since the last call, oldest first.

        ``chunk`` marks carry the PCM handed to the device (for ``speaker.audio``
        records).  Call it often (every 20-100 ms); marks beyond ``max_marks`` are lost.
        """
        out: list[PlaybackMark] = []
        with self._lock:
            loop_marks, self._loop_marks = self._loop_marks, []
            lo, hi = self._mark_r, self._mark_w
            oldest_intact = self._w - self.capacity
            nmarks = self._nmarks
            for i in range(lo, hi):
                k = i % nmarks
                kind, serial, pos, n = self._mk_kind[k], self._mk_serial[k], self._mk_pos[k], self._mk_n[k]
                key = self._key_of.get(serial)
                if key is None:
                    continue
                pcm: bytes | None = None
                if kind == CHUNK and pos >= oldest_intact:
                    pcm = self._read_ring(pos, n)
                out.append(PlaybackMark(KIND_NAMES[kind], key[0], key[1], self._mk_t[k], self._mk_off[k], n, pcm))
            self._mark_r = hi
            self._mark_lim = hi + self._nmarks
        if loop_marks:
            out.extend(loop_marks)
            out.sort(key=lambda m: m.t)
        return out

    def played_ms(self, item_id: str, response_id: str | None = None) -> float:
        """Milliseconds of ``item_id``'s audio handed to the device so far (0 if unknown)."""
        for (rid, iid), serial in reversed(self._serial_of.items()):
            if iid == item_id and (response_id is None or rid == response_id):
                slot = serial % self._nkeys
                with self._lock:
                    if self._key_serial[slot] != serial:
                        return 0.0
                    played = self._r - self._fast_base if self._fast_end and self._fast_serial == serial else None
                    if played is None:
                        played = self._key_played[slot]
                return played * 1000.0 / self.rate
        return 0.0

    @property
    def queued_ms(self) -> float:
        """Audio queued but not yet handed to the device, in ms."""
        return (self._w - self._r) * 1000.0 / self.rate

    @property
    def dropped_late_ms(self) -> float:
        """Audio of already flushed items that arrived later and was discarded, in ms."""
        return self._dropped_late * 1000.0 / self.rate

    @property
    def streaming(self) -> bool:
        """True while an item was pushed and neither finished (:meth:`done`) nor flushed."""
        return self._open_serial >= 0

    # ---------------------------------------------------------------- internals
    def _segment_serial(self, pos: int) -> int:
        """Serial of the segment holding absolute position ``pos`` (-1 if none; lock held).

        Only called for ``pos`` in {r - 1, r}: the answer is at or just before the segment
        the device is in (``_seg_r``), so the scan is short -- the audio callback may be
        waiting for the lock.
        """
        found = -1
        for i in range(max(0, self._seg_w - self._nseg, self._seg_r - 1), self._seg_w):
            if self._seg_pos[i % self._nseg] > pos:
                break
            found = self._seg_serial[i % self._nseg]
        return found

    def _current_serial(self, r: int, w: int, open_serial: int, now: float) -> int:
        """The item a flush cuts (lock held): the one still sounding or streaming, else
        the first queued one, else -1."""
        if r > 0:
            p = self._segment_serial(r - 1)
            if p >= self._min_live:
                slot = p % self._nkeys
                if p == open_serial or r < self._key_end[slot] or self._key_last_t[slot] > now:
                    return p
        if r < w:
            q = self._segment_serial(r)
            if q >= self._min_live:
                return q
        return open_serial

    def _new_serial(self, key: tuple[str, str]) -> int:
        serial = self._next_serial
        self._next_serial += 1
        slot = serial % self._nkeys
        old = self._key_serial[slot]
        if old >= 0:
            self._key_of.pop(old, None)
        with self._lock:
            if self._fast_end and self._fast_serial % self._nkeys == slot:
                self._settle()
            self._key_serial[slot] = serial
            self._key_played[slot] = 0
            self._key_end[slot] = self._w
            self._key_done[slot] = False
            self._key_stopped[slot] = False
            self._key_last_t[slot] = 0.0
        self._serial_of[key] = serial
        self._key_of[serial] = key
        if len(self._serial_of) > 4 * self._nkeys:  # forget the oldest keys
            for old_key in list(self._serial_of)[: self._nkeys]:
                del self._serial_of[old_key]
        return serial
