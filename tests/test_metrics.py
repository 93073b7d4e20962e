"""TurnTracker fed synthetic records with known timings (sans-I/O, no sockets, no sleeps)."""

from __future__ import annotations

import pytest

from tests.recording.synth import SyntheticSession
from voicelive_nb.events import EventRecord
from voicelive_nb.metrics import TurnTracker, summarize


def test_turn_timestamps_and_latencies_match_construction() -> None:
    synth = SyntheticSession([(1.0, 2.5), (5.0, 6.2)], duration=10).build()
    tracker = TurnTracker().feed_all(synth.records)
    turns = tracker.turns
    assert len(turns) == 2
    for turn, exp in zip(turns, synth.expected, strict=True):
        assert turn.source == "speech"
        assert turn.speech_start == pytest.approx(exp.speech_start)
        assert turn.speech_end == pytest.approx(exp.speech_end)
        assert turn.detection_ms == pytest.approx(exp.detection_ms, abs=0.01)
        assert turn.response_latency_ms == pytest.approx(exp.response_latency_ms, abs=0.01)
        assert turn.playout_ms == pytest.approx(exp.playout_ms, abs=0.01)
        assert turn.voice_to_voice_ms == pytest.approx(exp.voice_to_voice_ms, abs=0.01)
        assert not turn.interrupted
        assert turn.status == "completed"
        assert turn.user_transcript == f"user says {turn.index - 1}"  # turns count from 1
        assert turn.assistant_transcript == f"reply {turn.index - 1} done"


def test_barge_in_marks_the_interrupted_turn() -> None:
    synth = SyntheticSession([(1.0, 2.0), (3.0, 4.0)], barge_in_at=3.0, reply_s=3.0).build()
    turns = TurnTracker().feed_all(synth.records).turns
    assert turns[0].interrupted
    assert turns[0].barge_in_stale_ms == pytest.approx(20.0, abs=0.01)
    assert turns[0].played_ms == 100.0
    assert not turns[1].interrupted and turns[1].barge_in_stale_ms is None


def test_text_response_without_speech_gets_its_own_turn() -> None:
    rec = [
        EventRecord(1.0, 0.0, "server", "response.created", {"response": {"id": "r1"}}),
        EventRecord(1.2, 0.0, "server", "response.audio.delta", {"response_id": "r1"}),
        EventRecord(1.3, 0.0, "server", "response.audio_transcript.delta", {"response_id": "r1", "delta": "hi "}),
        EventRecord(1.4, 0.0, "server", "response.audio_transcript.delta", {"response_id": "r1", "delta": "there"}),
        EventRecord(1.5, 0.0, "server", "response.done", {"response": {"id": "r1", "status": "cancelled"}}),
    ]
    (turn,) = TurnTracker().feed_all(rec).turns
    assert turn.source == "text"
    assert turn.speech_end is None and turn.voice_to_voice_ms is None and turn.response_latency_ms is None
    assert turn.assistant_transcript == "hi there"  # from deltas when no .done came
    assert turn.interrupted and turn.status == "cancelled"


def test_manual_commit_opens_a_turn() -> None:
    rec = [
        EventRecord(1.0, 0.0, "server", "input_audio_buffer.committed", {"item_id": "i1"}),
        EventRecord(1.1, 0.0, "server", "response.created", {"response": {"id": "r1"}}),
    ]
    (turn,) = TurnTracker().feed_all(rec).turns
    assert turn.source == "commit" and turn.response_id == "r1" and turn.committed_rx == 1.0


def test_unknown_and_malformed_records_are_ignored() -> None:
    tracker = TurnTracker()
    for rec in [
        EventRecord(1.0, 0.0, "server", "something.new", {"x": 1}),
        EventRecord(1.0, 0.0, "server", "response.done", {"response": None}),
        EventRecord(1.0, 0.0, "server", "input_audio_buffer.speech_stopped", {}),
        EventRecord(1.0, 0.0, "server", "response.audio.delta", {"response_id": "nope"}),
    ]:
        tracker.feed(rec)
    assert tracker.turns == [] and tracker.records == 4


def test_summary_percentiles() -> None:
    synth = SyntheticSession([(1.0, 1.5), (3.0, 3.5), (5.0, 5.5), (7.0, 7.5)], duration=10).build()
    tracker = TurnTracker()
    for r in synth.records:
        tracker(r)  # callable as a bus observer
    s = tracker.summary()
    assert s["turns"] == 4 and s["interrupted"] == 0
    assert s["response_latency_ms"]["count"] == 4
    assert s["response_latency_ms"]["p50"] == pytest.approx(200.0, abs=0.01)
    assert s["voice_to_voice_ms"]["max"] == pytest.approx(synth.expected[0].voice_to_voice_ms, abs=0.01)
    assert summarize([])["detection_ms"] == {"count": 0, "p50": None, "p90": None, "max": None}


def test_reconnect_offsets_and_capture_times_map_the_audio_clock() -> None:
    rate, block = 24_000, 480
    recs = []
    for i in range(200):  # 4 s of mic; a reconnect after 2 s restarts the server's clock
        offset = i * block
        conn = 48_000 if offset >= 48_000 else 0
        captured = 100.0 + offset / rate + 0.003  # capture clock: first sample of the block
        recs.append(
            EventRecord(
                captured + 0.03,
                0.0,
                "local",
                "mic.audio",
                {"offset": offset, "samples": block, "rate": rate, "connection_offset": conn, "captured_t": captured},
            )
        )
    recs.append(EventRecord(104.0, 0.0, "server", "input_audio_buffer.speech_started",
                            {"audio_start_ms": 500, "item_id": "i"}))  # fmt: skip
    recs.append(EventRecord(104.1, 0.0, "server", "input_audio_buffer.speech_stopped",
                            {"audio_end_ms": 1500, "item_id": "i"}))  # fmt: skip
    (turn,) = TurnTracker().feed_all(recs).turns
    assert turn.speech_start == pytest.approx(2.5) and turn.speech_end == pytest.approx(3.5)
    assert turn.speech_end_t == pytest.approx(103.503)
    assert turn.detection_ms == pytest.approx(597.0)


def test_fields_of_the_wrong_type_are_counted_not_raised() -> None:
    tracker = TurnTracker()
    tracker.feed(EventRecord(1.0, 0.0, "server", "input_audio_buffer.speech_started", {"audio_start_ms": "soon"}))
    tracker.feed(EventRecord(1.0, 0.0, "local", "mic.audio", {"offset": "x", "samples": 480, "rate": 24000}))
    assert tracker.malformed == 2
