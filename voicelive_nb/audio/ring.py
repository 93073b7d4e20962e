"""The player's ring: preallocated int16 samples, the bookkeeping both sides share, and the device side.

:class:`PlaybackRing` holds the state of a :class:`~voicelive_nb.audio.player.Player` (the
loop side: push, done, flush, marks out) and implements what the audio thread calls:
:meth:`PlaybackRing.fill` copies the next samples into the device buffer, zero-pads, and
writes marks into preallocated arrays.

Timing.  ``fill(out, t)`` takes ``t``, the :func:`time.monotonic` time at which
``out[0]`` reaches the listener (a device shell maps PortAudio's
``outputBufferDacTime`` to the monotonic clock).  ``started`` marks carry the
time of the item's first sample, ``chunk`` marks the time of their first sample,
``stopped`` marks the time the item's last sample ends.

Real-time safety (verified by ``tests/audio/test_player.py``, which runs
``fill`` under :mod:`tracemalloc`): ``fill`` allocates no buffers and keeps no
containers; it only makes transient numpy views and Python ints, freed before it returns
(peak traced memory over thousands of calls stays below 2 KiB, no growth; the ring's
windows for the device's block size, views without data, are made once per block size).
It takes one :class:`threading.Lock` that both sides hold only for integer
bookkeeping and one block-sized ``memcpy`` (microseconds); ``push`` copies its
data into the ring *outside* the lock, since the device never reads past the
published write position.

The fast run.  Most callbacks take ``n`` samples from the middle of an item that is
already playing.  Whichever side changes what lies ahead (a slow ``fill``, ``push``,
``done``, ``flush``) keeps ``_fast_end`` up to date: the position up to which blocks are
such a case (one item's segment, no ring wrap-around, not the item's last block once it
is done).  Such a block is one compare, one copy and one mark; the item's played count
and end time follow from the run's start and are written back (``_settle``) before
anything reads them.

Cost.  ``fill`` runs 50 times a second and ``push`` once per delta, so their Python
overhead is most of what playback costs: the ring's attributes are slots, the block is
one index into a window view (no slice), a mark is six stores at one index of parallel
lists, and ``push`` copies PCM16 bytes through a memoryview (no array made for them).
"""

from __future__ import annotations

import threading

import numpy as np
from numpy.lib.stride_tricks import as_strided

from voicelive_nb.audio.playback import MarkKind, PlaybackMark

__all__ = ["CHUNK", "KIND_NAMES", "STARTED", "STOPPED", "PlaybackRing"]

STARTED, CHUNK, STOPPED = 1, 2, 3
"""The kinds of mark, as the marks ring stores them."""
KIND_NAMES: dict[int, MarkKind] = {STARTED: "started", CHUNK: "chunk", STOPPED: "stopped"}


class PlaybackRing:
    """The ring of int16 mono samples and its device side (see :class:`~voicelive_nb.audio.player.Player`
    for the arguments; the player is what the session uses)."""

    # Slots: the fast paths read and write a dozen of these per call; with more than 30
    # attributes an instance's dict stops sharing its keys and every access becomes a dict
    # lookup, while a slot is a fixed offset.  (Player, the subclass, still has a __dict__.)
    __slots__ = (
        "_buf",
        "_bytes",
        "_dropped_late",
        "_fast_base",
        "_fast_end",
        "_fast_n",
        "_fast_serial",
        "_fast_t",
        "_fast_wrap",
        "_key_done",
        "_key_end",
        "_key_last_t",
        "_key_of",
        "_key_played",
        "_key_serial",
        "_key_stopped",
        "_last_serial",
        "_lock",
        "_loop_marks",
        "_mark_lim",
        "_mark_r",
        "_mark_w",
        "_min_live",
        "_mk_kind",
        "_mk_n",
        "_mk_off",
        "_mk_pos",
        "_mk_serial",
        "_mk_t",
        "_next_serial",
        "_nkeys",
        "_nmarks",
        "_nseg",
        "_open_serial",
        "_push_key",
        "_push_serial",
        "_r",
        "_seg_pos",
        "_seg_r",
        "_seg_serial",
        "_seg_w",
        "_serial_of",
        "_w",
        "_win1",
        "_win2",
        "_win_n",
        "capacity",
        "flushes",
        "marks_dropped",
        "rate",
        "underflows",
    )

    def __init__(
        self, rate: int = 24000, capacity_s: float = 120.0, max_items: int = 1024, max_marks: int = 8192
    ) -> None:
        if rate <= 0:
            raise ValueError(f"Player rate must be a positive sample rate in Hz, got {rate!r}")
        if capacity_s <= 0:
            raise ValueError(f"Player capacity_s must be > 0 seconds, got {capacity_s!r}")
        self.rate = int(rate)
        self.capacity = max(1, round(rate * capacity_s))
        self._buf = np.empty(self.capacity, dtype=np.int16)
        self._buf.fill(0)  # touch every page now, not with page faults while audio streams
        # the ring's n-sample windows, by start (views, made for the device's block size n):
        # the fast run's block is one index, not a slice (for (n,) and (n, 1) device buffers)
        self._win_n = 0
        self._win1 = self._win2 = self._buf[:0]
        self._bytes = self._buf.data.cast("B")  # and as bytes, for PCM16 bytes pushed
        self._lock = threading.Lock()
        # absolute positions (samples ever written / claimed by the device)
        self._w = 0
        self._r = 0
        # segments: runs of consecutive samples of one serial, in push order
        self._nseg = 4096
        self._seg_pos: list[int] = [0] * self._nseg
        self._seg_serial: list[int] = [0] * self._nseg
        self._seg_w = 0  # segments written
        self._seg_r = 0  # segment containing the read position (valid when _seg_w > 0)
        # per-item state, indexed by serial % max_items
        self._nkeys = int(max_items)
        self._key_serial: list[int] = [-1] * self._nkeys
        self._key_played: list[int] = [0] * self._nkeys
        self._key_end: list[int] = [0] * self._nkeys  # absolute end of its last push
        self._key_done: list[bool] = [False] * self._nkeys
        self._key_stopped: list[bool] = [False] * self._nkeys
        self._key_last_t: list[float] = [0.0] * self._nkeys  # end time of last sample played
        # marks ring (written by fill, read by drain_marks)
        self._nmarks = int(max_marks)
        # mark i is entry i % max_marks of six parallel lists: kind, serial, offset in the item,
        # ring position, samples, t (a mark is six stores at one index: no index arithmetic,
        # whose ints past 256 would each be allocated)
        self._mk_kind: list[int] = [0] * self._nmarks
        self._mk_serial: list[int] = [0] * self._nmarks
        self._mk_off: list[int] = [0] * self._nmarks
        self._mk_pos: list[int] = [0] * self._nmarks
        self._mk_n: list[int] = [0] * self._nmarks
        self._mk_t: list[float] = [0.0] * self._nmarks
        self._mark_w = 0
        self._mark_lim = self._nmarks  # _mark_r + max_marks: marks at or past it are dropped
        self._mark_r = 0
        self.marks_dropped = 0
        """Marks lost because :meth:`drain_marks` was not called often enough."""
        # the fast run (see fill): blocks ending at or before _fast_end are the middle of one
        # started item that lie in one segment and do not wrap; 0 = no fast run
        self._fast_end = 0
        self._fast_serial = -1
        self._fast_wrap = 0  # the ring's wrap-around position above the run
        self._fast_base = 0  # the run item's played samples = _r - _fast_base
        self._fast_t = 0.0  # t and size of the run's last block (0: none played yet)
        self._fast_n = 0
        # loop-side bookkeeping
        self._serial_of: dict[tuple[str, str], int] = {}
        self._key_of: dict[int, tuple[str, str]] = {}
        self._next_serial = 0
        self._min_live = 0  # serials below this were flushed
        self._open_serial = -1  # item still streaming (pushed, not done, not flushed)
        self._last_serial = -1  # serial of the last push
        self._push_key: tuple[str, str] | None = None  # key of the last push (skips a dict lookup)
        self._push_serial = -1
        self._loop_marks: list[PlaybackMark] = []
        self._dropped_late = 0
        self.underflows = 0
        """Callbacks that ran out of samples while an item was still streaming."""
        self.flushes = 0
        """Number of flushes that dropped or cut something."""

    # ------------------------------------------------------------- callback side
    def fill(self, out: np.ndarray, t: float) -> None:
        """Fill ``out`` (int16, shape (n,) or (n, 1)) with the next samples; zero-pad.

        Called from the audio thread.  ``t`` is the monotonic time at which
        ``out[0]`` is heard.  Never blocks for long, allocates no buffers.
        """
        n = len(out)
        lock = self._lock
        lock.acquire()  # (cheaper than ``with``; the finally releases it)
        try:
            r = self._r
            end = r + n
            if end <= self._fast_end:  # the common block: the middle of a playing item
                if n != self._win_n:
                    self._windows(n)
                if out.ndim == 2:
                    out[...] = self._win2[r % self.capacity]
                else:
                    out[...] = self._win1[r % self.capacity]
                self._r = end
                self._fast_t = t
                self._fast_n = n
                w = self._mark_w
                if w < self._mark_lim:
                    k = w % self._nmarks
                    self._mk_kind[k] = CHUNK
                    self._mk_serial[k] = self._fast_serial
                    self._mk_off[k] = r - self._fast_base
                    self._mk_pos[k] = r
                    self._mk_n[k] = n
                    self._mk_t[k] = t
                    self._mark_w = w + 1
                else:
                    self.marks_dropped += 1
                return
            done = self._fill_slow(out[:, 0] if out.ndim == 2 else out, n, t)
        finally:
            lock.release()
        if done < n:
            out[done:] = 0

    def _fill_slow(self, out: np.ndarray, n: int, t: float) -> int:
        """:meth:`fill` at an item's start or end, a segment or ring boundary, or when dry
        (lock held); returns the samples written.  Arms the next fast run."""
        self._settle()
        r = self._r
        w = self._w
        done = 0
        if r < w:
            rate = self.rate
            cap = self.capacity
            buf = self._buf
            nseg = self._nseg
            seg_pos = self._seg_pos
            seg_w = self._seg_w
            seg_r = self._seg_r
            nkeys = self._nkeys
            key_played = self._key_played
            while done < n and r < w:
                # advance to the segment containing r
                while seg_r + 1 < seg_w and seg_pos[(seg_r + 1) % nseg] <= r:
                    seg_r += 1
                serial = self._seg_serial[seg_r % nseg]
                end = w
                if seg_r + 1 < seg_w:
                    nxt = seg_pos[(seg_r + 1) % nseg]
                    if nxt < end:
                        end = nxt
                k = end - r
                if k > n - done:
                    k = n - done
                start = r % cap
                if start + k <= cap:
                    out[done : done + k] = buf[start : start + k]
                else:  # wraps around the end of the ring
                    first = cap - start
                    out[done : done + first] = buf[start:]
                    out[done + first : done + k] = buf[: k - first]
                slot = serial % nkeys
                t0 = t + done / rate if done else t
                played = key_played[slot]
                if played == 0:
                    self._mark(STARTED, serial, 0, r, 0, t0)
                self._mark(CHUNK, serial, played, r, k, t0)
                played += k
                key_played[slot] = played
                t_end = t0 + k / rate
                self._key_last_t[slot] = t_end
                r += k
                done += k
                if r >= self._key_end[slot] and self._key_done[slot] and not self._key_stopped[slot]:
                    self._key_stopped[slot] = True
                    self._mark(STOPPED, serial, played, r, 0, t_end)
            self._r = r
            self._seg_r = seg_r
        if done < n and self._open_serial >= 0:
            self.underflows += 1
        self._arm()
        return done

    def _arm(self) -> None:
        """Start a fast run at the read position if it is inside a started item (lock held).

        The run ends where the item's segment ends (the next item's audio, or the write
        position, which :meth:`push` moves on as the item streams), at the ring's wrap-around,
        and, once the item is done, one sample before its end (its last block goes the slow
        way, which writes the ``stopped`` mark).
        """
        self._fast_end = 0
        r, w, seg_w = self._r, self._w, self._seg_w
        if r >= w or seg_w == 0:
            return
        nseg = self._nseg
        seg_r = self._seg_r
        while seg_r + 1 < seg_w and self._seg_pos[(seg_r + 1) % nseg] <= r:
            seg_r += 1
        self._seg_r = seg_r
        serial = self._seg_serial[seg_r % nseg]
        slot = serial % self._nkeys
        played = self._key_played[slot]
        if played == 0 or serial < self._min_live:
            return
        end = self._seg_pos[(seg_r + 1) % nseg] if seg_r + 1 < seg_w else w
        wrap = (r // self.capacity + 1) * self.capacity
        if self._key_done[slot]:
            end = min(end, self._key_end[slot] - 1)
        self._fast_serial = serial
        self._fast_wrap = wrap
        self._fast_base = r - played
        self._fast_n = 0
        self._fast_end = min(end, wrap)

    def _windows(self, n: int) -> None:
        """Make the ring's windows of ``n`` samples (``_win1[s]`` is ``_buf[s : s + n]``, ``_win2[s]``
        the same as a column); called when the device's block size changes."""
        size = self.capacity - n + 1  # (n <= capacity in a fast run)
        step = self._buf.strides[0]
        self._win1 = as_strided(self._buf, shape=(size, n), strides=(step, step), writeable=False)
        self._win2 = as_strided(self._buf, shape=(size, n, 1), strides=(step, step, step), writeable=False)
        self._win_n = n

    def _settle(self) -> None:
        """Write the fast run's progress into the item's state and end the run (lock held)."""
        if self._fast_end == 0:
            return
        slot = self._fast_serial % self._nkeys
        self._key_played[slot] = self._r - self._fast_base
        if self._fast_n:
            self._key_last_t[slot] = self._fast_t + self._fast_n / self.rate
        self._fast_end = 0

    def _mark(self, kind: int, serial: int, off: int, pos: int, n: int, t: float) -> None:
        w = self._mark_w
        if w >= self._mark_lim:
            self.marks_dropped += 1
            return
        k = w % self._nmarks
        self._mk_kind[k] = kind
        self._mk_serial[k] = serial
        self._mk_off[k] = off
        self._mk_pos[k] = pos
        self._mk_n[k] = n
        self._mk_t[k] = t
        self._mark_w = w + 1

    def _read_ring(self, pos: int, n: int) -> bytes:
        start = pos % self.capacity
        first = min(n, self.capacity - start)
        if first == n:
            return self._buf[start : start + n].tobytes()
        return self._buf[start:].tobytes() + self._buf[: n - first].tobytes()
