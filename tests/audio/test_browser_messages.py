"""The browser link's sans-I/O parts: mic timeline, playhead model, rates, base64 fallback.

The page half and the comm run for real in tests/notebooks/test_browser_audio.py.
"""

from __future__ import annotations

import base64

import numpy as np
import pytest

from voicelive_nb.audio.browser.messages import (
    FRAME,
    RATE,
    MicTimeline,
    PlayheadModel,
    RateCounter,
    page_to_mono,
    pcm_buffers,
    to_buffers,
)

WALL0 = 1_800_000_000.0  # a wall clock (s) for the kernel
MONO0 = 5000.0  # and its monotonic clock at that moment


def _up(seq: int, n: int, cw_ms: float, off_ms: float = 0.0, value: int = 0) -> tuple[dict[str, object], bytes]:
    pcm = np.full(n * FRAME, value, dtype="<i2").tobytes()
    return {"t": "up", "seq": seq, "n": n, "cw": cw_ms, "off": off_ms}, pcm


def _arrive(tl: MicTimeline, content: dict[str, object], pcm: bytes, at_s: float) -> list[tuple[np.ndarray, float]]:
    """Feed a message arriving ``at_s`` seconds after the clocks' origin."""
    return tl.feed(content, pcm, MONO0 + at_s, WALL0 + at_s)


def test_blocks_carry_the_page_capture_time_on_our_clock() -> None:
    tl = MicTimeline(blocksize=480)
    # page clock 250 ms behind the kernel's; captured at page time 0.9 s, arrives at 1.1 s (kernel)
    content, pcm = _up(0, 5, (WALL0 + 0.9) * 1000 - 250, off_ms=250)
    blocks = _arrive(tl, content, pcm, 1.1)
    assert [b.size for b, _ in blocks] == [480] * 5
    times = [t for _, t in blocks]
    assert times[0] == pytest.approx(MONO0 + 0.9)
    assert np.diff(times) == pytest.approx([0.02] * 4)
    assert tl.stats.last_lag_s == pytest.approx(0.2)


def test_rechunks_to_any_blocksize_across_messages() -> None:
    tl = MicTimeline(blocksize=1000)
    out = []
    for i in range(4):  # 4 x 100 ms = 9600 samples -> 9 blocks of 1000, 600 carried
        content, pcm = _up(5 * i, 5, (WALL0 + 0.1 * i) * 1000, value=i + 1)
        out += _arrive(tl, content, pcm, 0.1 * i + 0.15)
    assert len(out) == 9
    joined = np.concatenate([b for b, _ in out])
    assert joined[2399] == 1 and joined[2400] == 2  # order kept across message boundaries
    assert [t for _, t in out][3] == pytest.approx(MONO0 + 3000 / RATE)


def test_late_audio_is_dropped_not_burst() -> None:
    tl = MicTimeline(max_age_s=1.0)
    content, pcm = _up(0, 5, WALL0 * 1000)
    assert _arrive(tl, content, pcm, 0.15)
    # a busy kernel: the next messages arrive 3 s late, then one fresh one
    late = [_arrive(tl, *_up(5 * i, 5, (WALL0 + 0.1 * i) * 1000), 3.0 + 0.01 * i) for i in (1, 2)]
    assert late == [[], []]
    fresh = _arrive(tl, *_up(20, 5, (WALL0 + 2.95) * 1000), 3.1)
    assert len(fresh) == 5
    st = tl.stats
    assert (st.stale_messages, st.stale_frames) == (2, 10)
    assert st.gap_frames == 5  # frames 15-19 never came (the page paused)
    assert st.max_lag_s == pytest.approx(2.9, abs=0.02)


def test_malformed_messages_are_ignored() -> None:
    tl = MicTimeline()
    assert tl.feed({"t": "up"}, b"\x00\x00" * 10, MONO0, WALL0) == []
    assert tl.feed({"t": "up", "seq": "x", "n": 5}, b"\x00\x00" * 10, MONO0, WALL0) == []
    assert tl.feed({"t": "up", "seq": 0, "n": 1}, b"", MONO0, WALL0) == []
    assert tl.stats.messages == 0
    with pytest.raises(ValueError, match="blocksize"):
        MicTimeline(blocksize=0)


def test_playhead_model_follows_the_page() -> None:
    m = PlayheadModel()
    t = m.when(100.0, start_delay_s=0.05)
    assert t == pytest.approx(100.05)
    m.advance(2400)
    assert m.when(100.01, 0.05) == pytest.approx(100.15)  # the stream goes on
    m.advance(2400)
    # the page started late: it plays sample 1200 at 100.2 -> the next (4800) is heard at 100.35
    m.page_position(1200, 100.2, playing=True)
    assert m.when(100.1, 0.05) == pytest.approx(100.35)
    m.page_position(4800, 100.4, playing=False)  # drained
    assert m.when(101.0, 0.05) == pytest.approx(101.05)  # a new stream
    m.advance(100)
    m.reset()  # a flush
    assert m.when(101.02, 0.05) == pytest.approx(101.07)
    assert m.sent == 4900


def test_rate_counter_sliding_second() -> None:
    rc = RateCounter()
    for i in range(30):
        rc.add(i * 0.0401)  # just under 25 a second
    assert rc.max_per_s == 25 and rc.total == 30
    for i in range(10):
        rc.add(2.0 + i * 0.01)  # a burst of 10 in 0.1 s
    assert rc.max_per_s == 25


def test_base64_fallback_round_trip() -> None:
    parts = [b"\x01\x02\x03", b"\xff" * 10]
    content: dict[str, object] = {"t": "pcm"}
    assert to_buffers(content, parts, binary=True) == parts and "b64" not in content
    assert to_buffers(content, parts, binary=False) == []
    assert content["b64"] == [base64.b64encode(p).decode() for p in parts]
    assert pcm_buffers(content, []) == parts
    assert pcm_buffers({"t": "up"}, [memoryview(b"ab")]) == [b"ab"]


def test_page_to_mono() -> None:
    # the page says 12:00:00.000 on its clock; the kernel's clock is 40 ms ahead
    assert page_to_mono(WALL0 * 1000, 40.0, MONO0 + 1.0, WALL0 + 1.0) == pytest.approx(MONO0 + 0.04)


def test_link_options_are_checked() -> None:
    from voicelive_nb.audio.browser import BrowserAudioLink

    with pytest.raises(ValueError, match="60 low latency"):
        BrowserAudioLink(chunk_ms=40)  # 25 audio messages a second before any ack: over the limit
    with pytest.raises(ValueError, match="prebuffer_ms"):
        BrowserAudioLink(prebuffer_ms=5)
    with pytest.raises(ValueError, match="lead_ms"):
        BrowserAudioLink(chunk_ms=200, lead_ms=100)
    link = BrowserAudioLink(chunk_ms=60)
    try:
        assert link.options["chunk_ms"] == 60 and link.state == "absent" and not link.ready
        assert link.problem is None and link.send_to_page({"t": "ack"}) is False  # no page yet
    finally:
        link.close()
