"""The latency bench's machinery and the latency knob (issue 8).

Timing goals live in ``bench/latency_bench.py``; here only the arithmetic is checked
exactly, and real streams only against generous bounds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from _figures import Stat, content_gaps, match_after, match_before, mic_gaps  # noqa: E402

from voicelive_nb.audio.adaptive import AdaptiveSpeaker  # noqa: E402
from voicelive_nb.audio.profiles import PROFILES, LatencyProfile, profile  # noqa: E402

RATE = 24000


# ------------------------------------------------------------------ figures (pure)


def test_match_after_pairs_each_cause_with_the_next_effect_in_the_window() -> None:
    assert match_after([1.0, 2.0, 3.0], [1.010, 2.5, 3.020], window=0.1) == pytest.approx([10.0, 20.0])
    # an effect dated a hair before its cause (instrument resolution) is not skipped
    assert match_after([1.0], [0.998, 1.6], window=1.0, lead=0.01) == pytest.approx([-2.0])


def test_match_before_pairs_each_effect_with_the_latest_cause() -> None:
    assert match_before([1.03, 1.9], [1.0, 1.02, 1.5], window=0.1) == pytest.approx([10.0])


def test_stat_median_p95_and_empty() -> None:
    s = Stat.of([float(x) for x in range(1, 101)])
    assert (s.median, s.n) == (50.5, 100)
    assert s.p95 == pytest.approx(95.05)
    assert Stat.of([]).n == 0 and Stat.of([]).text() == "n/a"


def test_mic_gaps_ignores_jitter_and_finds_a_lost_block() -> None:
    block = 240
    n = [block] * 400
    t = np.arange(400) * block / RATE + 5.0
    jitter = t.copy()
    jitter[100:104] += 0.015  # callbacks late for a while, then caught up: no audio lost
    assert mic_gaps(list(jitter), n, RATE, block) == (0, 0.0)
    lost = t.copy()
    lost[200:] += block / RATE  # one block missing from the stream
    gaps, ms = mic_gaps(list(lost), n, RATE, block)
    assert gaps == 1 and ms == pytest.approx(10.0, abs=0.01)


def test_content_gaps_tell_missing_audio_from_inserted_silence() -> None:
    rng = np.random.default_rng(1)
    loop = (rng.standard_normal(RATE * 5) * 3000).astype(np.int16)
    loop[30000:50000] = 0  # a pause, as between utterances
    track = np.concatenate([loop[7000:], loop, loop, loop])
    assert content_gaps(track, loop)[:2] == (0, 0.0)
    lost = np.concatenate([track[:100000], track[100480:200000], track[200240:]])
    gaps, missing, _, inserted = content_gaps(lost, loop)
    assert (gaps, missing, inserted) == (2, pytest.approx(30.0), 0.0)
    stalled = np.concatenate([track[:100000], np.zeros(480, np.int16), track[100000:]])
    gaps, missing, _, inserted = content_gaps(stalled, loop)
    assert (gaps, missing, inserted) == (1, 0.0, pytest.approx(20.0))


# ------------------------------------------------------------------ the knob


def test_profiles_resolve_and_bad_names_explain_the_choice() -> None:
    assert profile(None) is PROFILES["auto"]
    assert profile("robust").speaker_latency_s >= 0.1
    custom = LatencyProfile("mine", 10.0, "low", 5.0, 0.03, 0.03)
    assert profile(custom) is custom and not custom.adaptive
    assert PROFILES["auto"].adaptive
    with pytest.raises(ValueError, match="'auto'"):
        profile("fast")


def test_voice_session_rejects_a_bad_latency_at_once() -> None:
    from voicelive_nb.session import VoiceSession

    with pytest.raises(ValueError, match="latency profile"):
        VoiceSession(latency="fastest")


def test_adaptive_speaker_rejects_bad_bounds() -> None:
    with pytest.raises(ValueError, match="max_latency"):
        AdaptiveSpeaker(latency=0.1, max_latency=0.05)


# ------------------------------------------------------------------ real streams


def _tone(seconds: float) -> np.ndarray:
    return (3000 * np.sin(2 * np.pi * 440 * np.arange(round(seconds * RATE)) / RATE)).astype(np.int16)


@pytest.mark.pulse
def test_barge_in_drops_the_device_buffer(virtual_audio: Any) -> None:
    """With a 200 ms buffer, a barge-in without the edge restart keeps sounding for ~200 ms."""
    from voicelive_nb.audio.player import Player

    def stale_ms(edges: bool) -> tuple[float, bool]:
        player = Player(rate=RATE)
        spk = AdaptiveSpeaker(virtual_audio.output_device, blocksize=240, latency=0.2, max_latency=0.2, edges=edges)
        rec = virtual_audio.record_speaker()
        spk.start(player)
        try:
            time.sleep(0.3)
            player.push(_tone(3.0), "r1", "i1")
            time.sleep(0.8)
            n_before = rec.samples_so_far
            player.flush("speech_started")  # the speaker notices at its next callback
            time.sleep(0.6)
            assert (spk.restarts >= 1) == edges
            player.push(_tone(0.2), "r2", "i2")  # the restarted stream plays the next answer
            time.sleep(0.6)
        finally:
            spk.stop()
            audio = rec.stop()
        after = audio[n_before:]
        loud = np.flatnonzero(np.abs(after) > 300)
        first_gap = np.flatnonzero(np.diff(loud) > RATE // 10)  # end of the interrupted answer
        end = int(loud[first_gap[0]]) if first_gap.size else -1
        return end * 1000.0 / RATE, bool(first_gap.size)

    kept, next_heard = stale_ms(False)
    dropped, next_heard_after_flush = stale_ms(True)
    assert kept > 120.0, kept  # the buffer played out
    assert dropped < kept - 80.0, (dropped, kept)
    assert next_heard and next_heard_after_flush  # the next answer still plays


@pytest.mark.pulse
def test_speaker_buffer_grows_after_an_underflow(virtual_audio: Any) -> None:
    """Starve the callback by holding the GIL; the watcher re-opens with a bigger buffer."""
    from voicelive_nb.audio.player import Player

    player = Player(rate=RATE)
    spk = AdaptiveSpeaker(virtual_audio.output_device, blocksize=240, latency=0.02, max_latency=0.08)
    spk.start(player)
    old = sys.getswitchinterval()
    try:
        time.sleep(0.6)
        player.push(_tone(10.0), "r1", "i1")
        time.sleep(0.5)  # playing (after the answer-start restart)
        sys.setswitchinterval(0.3)
        end = time.perf_counter() + 0.4
        x = 0
        while time.perf_counter() < end:  # pure Python: keeps the GIL for the whole switch interval
            x = (x * 31 + 7) & 0xFFFF
        sys.setswitchinterval(old)
        deadline = time.monotonic() + 5.0
        while spk.reopens == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert spk.underflows - spk.startup_underflows >= 1
        assert spk.reopens >= 1 and spk.current_latency_s > 0.02
        assert spk.current_latency_s <= 0.08
    finally:
        sys.setswitchinterval(old)
        spk.stop()


@pytest.mark.pulse
@pytest.mark.timeout(240)
def test_bench_runs_end_to_end_and_reports_both_clients(tmp_path: Path) -> None:
    """A short bench run (its own PulseAudio, probe and emulator): every figure is measured."""
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "latency_bench.py"),
            "--seconds",
            "8",
            "--minutes",
            "0.15",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=220,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "ref/ours" in proc.stdout
    data = json.loads(out.read_text())
    for name in ("ours", "reference"):
        fig = data["figures"][name]
        for key in ("mic", "speaker", "barge_in"):
            assert fig[key]["n"] >= 1, (name, key, fig[key])
            assert 0.0 < fig[key]["median"] < 1000.0, (name, key, fig[key])
        counters = data["glitch"][name]["counters"]
        for key in ("input_overflows", "output_underflows", "mic_gaps"):
            assert isinstance(counters[key], int)


@pytest.mark.pulse
def test_an_answer_starts_without_waiting_behind_the_buffer(virtual_audio: Any) -> None:
    """With a 200 ms buffer of silence, the first sample comes out far sooner than 200 ms."""
    from voicelive_nb.audio.player import Player

    def onset_ms(edges: bool) -> float:
        player = Player(rate=RATE)
        spk = AdaptiveSpeaker(virtual_audio.output_device, blocksize=240, latency=0.2, max_latency=0.2, edges=edges)
        rec = virtual_audio.record_speaker()
        spk.start(player)
        try:
            time.sleep(0.8)  # the device buffer is full of silence
            n_before = rec.samples_so_far
            player.push(_tone(0.3), "r1", "i1")
            time.sleep(0.8)
        finally:
            spk.stop()
            audio = rec.stop()
        loud = np.flatnonzero(np.abs(audio[n_before:]) > 300)
        assert loud.size, "nothing was heard"
        # parec's own read latency is the same in both runs; compare the two
        return int(loud[0]) * 1000.0 / RATE

    plain = onset_ms(False)
    fast = onset_ms(True)
    assert fast < plain - 80.0, (fast, plain)


def test_panel_state_shows_the_client_added_latency_each_way() -> None:
    from voicelive_nb.events import EventRecord, Local
    from voicelive_nb.panel.state import PanelState

    state = PanelState()
    # a 10 ms block captured at t=1.000 s, sent at 1.017 s: 12 ms on average per sample
    state.feed(EventRecord.now("local", Local.MIC_AUDIO, {"samples": 240, "rate": RATE, "offset": 0,
                                                          "captured_t": 1.000, "rms_db": -30.0}, t=1.017))  # fmt: skip
    state.feed(EventRecord.now("server", "response.audio.delta", {"response_id": "r1", "item_id": "i1"}, t=2.000))
    state.feed(EventRecord.now("server", "response.audio.delta", {"response_id": "r1", "item_id": "i1"}, t=2.050))
    state.feed(EventRecord.now("local", Local.PLAYBACK_STARTED, {"response_id": "r1", "item_id": "i1",
                                                                 "output_latency_s": 0.006}, t=2.010))  # fmt: skip
    counters = state.snapshot(3.0).counters
    assert counters["mic_client_ms"] == pytest.approx(12.0, abs=0.05)
    assert counters["speaker_client_ms"] == pytest.approx(16.0, abs=0.05)


@pytest.mark.pulse
def test_one_underflow_grows_the_buffer_to_the_top_and_it_shrinks_a_step_later(virtual_audio: Any) -> None:
    """Grow first, shrink later: a loaded machine costs one underflow, not one per doubling."""
    from voicelive_nb.audio.player import Player

    player = Player(rate=RATE)
    spk = AdaptiveSpeaker(
        virtual_audio.output_device, blocksize=240, latency=0.02, max_latency=0.16, shrink_after_s=1.0
    )
    spk.start(player)
    old = sys.getswitchinterval()
    try:
        time.sleep(0.6)
        sys.setswitchinterval(0.3)
        end = time.perf_counter() + 0.4
        x = 0
        while time.perf_counter() < end:  # pure Python: keeps the GIL, the callback starves
            x = (x * 31 + 7) & 0xFFFF
        sys.setswitchinterval(old)
        deadline = time.monotonic() + 5.0
        while spk.reopens == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert spk.reopens == 1 and spk.current_latency_s == pytest.approx(0.16)  # 0.02 -> 0.16 at once
        assert len(spk.underflow_log) == 1
        deadline = time.monotonic() + 10.0
        while spk.reopens == 1 and time.monotonic() < deadline:  # idle, no underflow: one step down
            time.sleep(0.05)
        assert spk.current_latency_s == pytest.approx(0.08), spk.describe_state()
    finally:
        sys.setswitchinterval(old)
        spk.stop()
