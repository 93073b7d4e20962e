"""Sans-I/O tests of the barge-in Player: no sound card, no sleeps, a simulated clock."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from voicelive_nb.audio.playback import PlayerFullError
from voicelive_nb.audio.player import Player

RATE = 24000
BLOCK = 480  # 20 ms


def tone(n: int, value: int = 1000) -> np.ndarray:
    return np.full(n, value, dtype=np.int16)


def ramp(n: int, start: int = 0) -> np.ndarray:
    return ((np.arange(start, start + n) % 30000) + 1).astype(np.int16)


class Device:
    """Drives Player.fill like an output stream would, on a simulated clock."""

    def __init__(self, player: Player, block: int = BLOCK, latency: float = 0.0) -> None:
        self.player = player
        self.block = block
        self.t = 100.0
        self.latency = latency
        self.out = np.zeros(block, dtype=np.int16)
        self.heard: list[np.ndarray] = []

    def tick(self, blocks: int = 1) -> np.ndarray:
        got = []
        for _ in range(blocks):
            self.player.fill(self.out, self.t + self.latency)
            got.append(self.out.copy())
            self.t += self.block / self.player.rate
        self.heard.extend(got)
        return np.concatenate(got)


def test_push_then_fill_plays_in_order_and_zero_pads() -> None:
    p = Player(RATE)
    d = Device(p)
    data = ramp(1000)
    p.push(data.tobytes(), "r1", "i1")
    assert p.queued_ms == pytest.approx(1000 / RATE * 1000)
    heard = d.tick(3)
    assert np.array_equal(heard[:1000], data)
    assert not heard[1000:].any()
    assert p.queued_ms == 0


def test_fill_accepts_n_by_1_arrays() -> None:
    p = Player(RATE)
    p.push(ramp(100), "r", "i")
    out = np.zeros((BLOCK, 1), dtype=np.int16)
    p.fill(out, 0.0)
    assert np.array_equal(out[:100, 0], ramp(100))
    assert not out[100:].any()


def test_marks_started_chunks_stopped_with_times_and_pcm() -> None:
    p = Player(RATE)
    d = Device(p, latency=0.05)
    t0 = d.t
    p.push(ramp(600), "r1", "i1")
    p.done("r1", "i1")
    d.tick(2)
    marks = p.drain_marks()
    kinds = [m.kind for m in marks]
    assert kinds == ["started", "chunk", "chunk", "stopped"]
    started, c1, c2, stopped = marks
    assert started.t == pytest.approx(t0 + 0.05)
    assert (c1.offset, c1.samples, c2.offset, c2.samples) == (0, 480, 480, 120)
    assert c2.t == pytest.approx(t0 + 0.05 + 0.02)
    assert stopped.t == pytest.approx(t0 + 0.05 + 600 / RATE)
    assert stopped.offset == 600
    assert (c1.pcm or b"") + (c2.pcm or b"") == ramp(600).tobytes()
    assert p.drain_marks() == []
    assert p.played_ms("i1") == pytest.approx(25.0)


def test_stopped_mark_when_done_arrives_after_playout() -> None:
    p = Player(RATE)
    d = Device(p)
    p.push(tone(480), "r1", "i1")
    d.tick(1)
    p.drain_marks()
    d.tick(1)  # streaming, nothing queued: an underflow
    assert p.underflows == 1
    p.done("r1", "i1")
    marks = p.drain_marks()
    assert [m.kind for m in marks] == ["stopped"]
    assert marks[0].t == pytest.approx(100.0 + 0.02)
    d.tick(1)  # done: silence is not an underflow
    assert p.underflows == 1


def test_no_underflow_before_first_audio_or_between_responses() -> None:
    p = Player(RATE)
    d = Device(p)
    d.tick(5)
    p.push(tone(480), "r1", "i1")
    p.done("r1", "i1")
    d.tick(5)
    assert p.underflows == 0


def test_flush_drops_queue_and_reports_played_ms_for_truncate() -> None:
    p = Player(RATE)
    d = Device(p, latency=0.0)
    p.push(ramp(RATE), "r1", "i1")  # 1 s queued
    d.tick(5)  # 100 ms played
    info = p.flush("speech_started", t=d.t)
    assert info is not None
    assert (info.response_id, info.item_id, info.reason) == ("r1", "i1", "speech_started")
    assert info.played_ms == pytest.approx(100.0)
    assert info.dropped_ms == pytest.approx(900.0)
    assert info.stale_ms == pytest.approx(0.0)
    assert p.queued_ms == 0
    assert not d.tick(3).any()


def test_flush_mid_block_reports_stale_time_of_block_in_flight() -> None:
    p = Player(RATE)
    d = Device(p, latency=0.04)
    p.push(tone(RATE), "r1", "i1")
    d.tick(1)  # block [t, t+20ms) handed over, heard from t+40ms to t+60ms
    info = p.flush(t=d.t - 0.01)  # flush 10 ms into the block period
    assert info is not None
    assert info.stale_ms == pytest.approx(60.0 - 10.0)
    assert info.played_ms == pytest.approx(20.0)


def test_late_deltas_of_flushed_response_never_play() -> None:
    p = Player(RATE)
    d = Device(p)
    p.push(tone(4800, 7), "r1", "i1")
    d.tick(1)
    assert p.flush() is not None
    p.push(tone(4800, 7), "r1", "i1")  # in flight when we flushed
    assert p.dropped_late_ms == pytest.approx(200.0)
    p.done("r1", "i1")
    assert not d.tick(5).any()
    assert [m.kind for m in p.drain_marks()] == ["started", "chunk"]  # no stopped for a flushed item


def test_new_response_after_flush_is_never_lost() -> None:
    p = Player(RATE)
    d = Device(p)
    p.push(tone(4800, 7), "r1", "i1")
    d.tick(1)
    p.flush()
    new = ramp(1000)
    p.push(new, "r2", "i2")
    p.push(tone(100, 7), "r1", "i1")  # stale delta interleaved
    heard = d.tick(3)
    assert np.array_equal(heard[:1000], new)
    assert not heard[1000:].any()


def test_flush_with_nothing_playing_returns_none() -> None:
    p = Player(RATE)
    d = Device(p)
    assert p.flush() is None
    p.push(tone(480), "r1", "i1")
    p.done("r1", "i1")
    d.tick(3)
    assert p.flush(t=d.t) is None


def test_flush_while_streaming_but_drained_still_reports_item() -> None:
    p = Player(RATE)
    d = Device(p)
    p.push(tone(480), "r1", "i1")
    d.tick(3)
    info = p.flush(t=d.t)
    assert info is not None and info.item_id == "i1"
    assert info.dropped_ms == 0 and info.played_ms == pytest.approx(20.0)


def test_flush_reports_queued_next_item_when_previous_finished() -> None:
    p = Player(RATE)
    d = Device(p)
    p.push(tone(480), "r1", "i1")
    p.done("r1", "i1")
    d.tick(2)
    p.push(tone(960), "r2", "i2")
    info = p.flush(t=d.t)
    assert info is not None and info.item_id == "i2"
    assert info.played_ms == 0 and info.dropped_ms == pytest.approx(40.0)


def test_two_items_back_to_back_get_separate_marks() -> None:
    p = Player(RATE)
    d = Device(p)
    p.push(tone(300, 1), "r1", "i1")
    p.done("r1", "i1")
    p.push(tone(300, 2), "r2", "i2")
    p.done("r2", "i2")
    heard = d.tick(2)
    assert (heard[:300] == 1).all() and (heard[300:600] == 2).all()
    marks = [(m.kind, m.item_id) for m in p.drain_marks()]
    assert marks == [
        ("started", "i1"),
        ("chunk", "i1"),
        ("stopped", "i1"),
        ("started", "i2"),
        ("chunk", "i2"),
        ("chunk", "i2"),
        ("stopped", "i2"),
    ]
    ms = {m.item_id: m.t for m in p.drain_marks()}
    assert ms == {}


@pytest.mark.parametrize("as_bytes", [False, True], ids=["array", "bytes"])
def test_wraparound_is_bit_exact(as_bytes: bool) -> None:
    p = Player(RATE, capacity_s=0.05)  # 1200 samples
    d = Device(p, block=350)
    sent = []
    got = []
    start = 0
    for _ in range(40):
        chunk = ramp(700, start)
        start += 700
        p.push(chunk.tobytes() if as_bytes else chunk, "r", "i")  # (bytes: the session's deltas)
        sent.append(chunk)
        got.append(d.tick(1))
        got.append(d.tick(1))
    assert np.array_equal(np.concatenate(got), np.concatenate(sent))
    marks = p.drain_marks()
    pcm = b"".join(m.pcm or b"" for m in marks if m.kind == "chunk")
    # drained late: only chunks the ring still holds come back, and they are exact
    assert len(pcm) // 2 == 1050
    assert pcm == np.concatenate(sent).tobytes()[-len(pcm) :]
    assert sum(1 for m in marks if m.kind == "chunk" and m.pcm is None) == 80 - 3


def test_push_beyond_capacity_raises_clear_error() -> None:
    p = Player(RATE, capacity_s=0.01)
    with pytest.raises(PlayerFullError, match="output device"):
        p.push(tone(1000), "r", "i")
    assert p.queued_ms == 0


@pytest.mark.parametrize(
    ("pcm", "err", "match"),
    [
        (b"\x00\x01\x02", ValueError, "even number"),
        (np.zeros(10, np.float32), TypeError, "int16"),
        (np.zeros((10, 2), np.int16), ValueError, "mono"),
        ("abc", TypeError, "PCM16 bytes"),
    ],
)
def test_bad_input_is_named(pcm: object, err: type[Exception], match: str) -> None:
    with pytest.raises(err, match=match):
        Player().push(pcm, "r", "i")  # type: ignore[arg-type]


def test_fill_allocates_no_buffers() -> None:
    """fill() allocates no buffers or containers: only transient ints/floats (not GC-tracked).

    The bookkeeping lives in preallocated lists; once every slot has been written once
    (warm-up), each write frees the object it replaces, so memory is flat.
    """
    p = Player(RATE, max_items=64, max_marks=512)  # small tables: quick to warm up
    out = np.zeros((BLOCK, 1), dtype=np.int16)
    for i in range(450):  # 90 s queued
        p.push(ramp(4800), "r", f"i{i}")
    t = 0.0

    def run(calls: int) -> None:
        nonlocal t
        for _ in range(calls):
            p.fill(out, t)
            t += 0.02
            if p._mark_w - p._mark_r > 400:  # stand-in for drain_marks (which does allocate)
                p._mark_r = p._mark_w
                p._mark_lim = p._mark_r + 512

    tracemalloc.start()
    try:
        # warm-up under tracing: every mark and item slot rewritten once (100 items > 64 slots),
        # so the objects they hold are traced and their replacement nets to zero
        run(1000)
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        run(3000)  # 60 s of audio, crossing ~250 items
        cur, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # transient objects per call (views, ints) stay far below one 480-sample buffer (960 B)
    assert peak - cur < 1024, f"fill allocated {peak - cur} transient bytes"
    # retained: at most one int + one float per item slot (played, last time) -- bounded by
    # the table size (64 here), not by the number of calls
    assert cur - base <= 64 * 2 * 32, f"fill retained {cur - base} bytes"
    assert p.queued_ms > 0  # it was playing audio all along


def test_marks_ring_overflow_is_counted_not_fatal() -> None:
    p = Player(RATE, max_marks=4)
    d = Device(p)
    p.push(tone(RATE), "r", "i")
    d.tick(10)
    assert p.marks_dropped == 7  # started + 10 chunks = 11 marks, 4 kept
    assert len(p.drain_marks()) == 4


def test_invalid_construction() -> None:
    with pytest.raises(ValueError, match="rate"):
        Player(rate=0)
    with pytest.raises(ValueError, match="capacity_s"):
        Player(capacity_s=0)
