"""PanelState: records in, snapshots out -- no kernel, no widgets, no clock, no sleeps."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from voicelive_nb.events import EventRecord, Local
from voicelive_nb.panel.state import FLOOR_DB, FieldStatus, PanelState


def rec(t: float, kind: str, type_: str, **data: Any) -> EventRecord:
    return EventRecord(t, 1e9 + t, kind, type_, data)  # type: ignore[arg-type]


def one_turn(t: float = 10.0, *, cancelled: bool = False) -> list[EventRecord]:
    """The records of one user turn and the assistant's answer, in protocol order."""
    out = [
        rec(t, "server", "input_audio_buffer.speech_started", audio_start_ms=700, item_id="u1"),
        rec(t + 1.5, "server", "input_audio_buffer.speech_stopped", audio_end_ms=2200, item_id="u1"),
        rec(t + 1.51, "server", "input_audio_buffer.committed", item_id="u1"),
        rec(t + 1.6, "server", "response.created", response={"id": "r1", "status": "in_progress"}),
        rec(
            t + 1.61,
            "server",
            "response.output_item.added",
            response_id="r1",
            item={"id": "a1", "role": "assistant", "type": "message"},
        ),
        rec(t + 1.62, "server", "response.audio_transcript.delta", response_id="r1", item_id="a1", delta="You "),
        rec(t + 1.63, "server", "response.audio_transcript.delta", response_id="r1", item_id="a1", delta="said"),
        rec(t + 1.64, "local", Local.PLAYBACK_STARTED, response_id="r1", item_id="a1", output_latency_s=0.04),
        rec(
            t + 1.7,
            "server",
            "conversation.item.input_audio_transcription.completed",
            item_id="u1",
            transcript=" hello there ",
        ),
    ]
    if cancelled:
        out += [
            rec(t + 2.0, "server", "input_audio_buffer.speech_started", audio_start_ms=3000, item_id="u2"),
            rec(
                t + 2.01,
                "local",
                Local.PLAYBACK_FLUSHED,
                response_id="r1",
                item_id="a1",
                played_ms=300,
                dropped_ms=900,
                stale_ms=12.5,
                reason="speech_started",
            ),
            rec(
                t + 2.05,
                "server",
                "response.done",
                response={"id": "r1", "status": "cancelled", "output": [{"id": "a1"}]},
            ),
        ]
    else:
        out += [
            rec(t + 1.8, "server", "response.audio_transcript.done", item_id="a1", transcript="You said hello"),
            rec(t + 1.9, "server", "response.done", response={"id": "r1", "status": "completed", "output": []}),
            rec(t + 3.0, "local", Local.PLAYBACK_STOPPED, response_id="r1", item_id="a1", played_ms=1300),
        ]
    return out


def test_initial_snapshot_is_idle_and_silent() -> None:
    snap = PanelState().snapshot(0.0)
    assert snap.connection == "idle"
    assert snap.status == "Not connected."
    assert snap.mic_db == FLOOR_DB and snap.speaker_db == FLOOR_DB
    assert snap.transcript == () and snap.log == ()


def test_connection_states_become_plain_status() -> None:
    st = PanelState()
    st.feed(rec(1, "local", Local.CONNECTION, state="connecting", endpoint="ws://127.0.0.1:5000"))
    assert "Connecting to ws://127.0.0.1:5000" in st.snapshot(1).status
    st.feed(rec(2, "local", Local.CONNECTION, state="connected", endpoint="ws://127.0.0.1:5000"))
    snap = st.snapshot(2)
    assert snap.connection == "connected" and snap.error == ""
    st.feed(rec(3, "local", Local.CONNECTION, state="failed", endpoint="x", detail="Cannot reach the endpoint."))
    snap = st.snapshot(3)
    assert snap.connection == "failed" and snap.error == "Cannot reach the endpoint."
    # the embedded emulator is said in the status line (it used to be a pink stderr box)
    st.feed(rec(4, "local", Local.CONNECTION, state="connected", endpoint="http://127.0.0.1:5001", emulator=True))
    assert st.snapshot(4).status == (
        "Connected to the local emulator (http://127.0.0.1:5001; no Voice Live endpoint configured)."
    )


def test_a_device_down_while_connected_is_said_and_cleared_when_it_works_again() -> None:
    st = PanelState()
    st.feed(rec(1, "local", Local.CONNECTION, state="connected", endpoint="ws://x"))
    st.feed(rec(2, "local", Local.ERROR, message="The mic has delivered no audio for 3.0 s ...", where="mic"))
    snap = st.snapshot(2)
    assert snap.device_trouble == ("mic",)
    assert snap.status == "Connected to ws://x, but the mic is not working (see below)."
    assert "no audio" in snap.error
    st.feed(rec(3, "local", Local.MIC_AUDIO, offset=0, samples=480, rate=24000, rms_db=-30.0, peak_db=-20.0))
    assert st.snapshot(3).device_trouble == () and st.snapshot(3).status == "Connected to ws://x."
    st.feed(rec(4, "local", Local.ERROR, message="speaker stalled", where="speaker"))
    st.feed(rec(5, "local", Local.CONNECTION, state="connecting", endpoint="ws://x"))  # a new start
    assert st.snapshot(5).device_trouble == ()


def test_meters_jump_to_the_loudest_block_then_fall() -> None:
    st = PanelState(meter_fall_db_s=40.0)
    st.snapshot(1.0)
    st.feed(rec(1.00, "local", Local.MIC_AUDIO, rms_db=-40.0, peak_db=-30.0, samples=1200, rate=24000))
    st.feed(rec(1.05, "local", Local.MIC_AUDIO, rms_db=-20.0, peak_db=-10.0, samples=1200, rate=24000))
    st.feed(rec(1.05, "local", Local.SPEAKER_AUDIO, rms_db=-25.0, peak_db=-20.0, samples=1200, rate=24000))
    snap = st.snapshot(1.05)
    assert snap.mic_db == -20.0 and snap.mic_peak_db == -10.0 and snap.speaker_db == -25.0
    # No new audio: the bar falls at 40 dB/s instead of freezing or blinking out.
    snap = st.snapshot(1.15)
    assert snap.mic_db == pytest.approx(-24.0) and snap.speaker_db == pytest.approx(-29.0)
    # A quieter block does not pull the bar down faster than it falls.
    st.feed(rec(1.2, "local", Local.MIC_AUDIO, rms_db=-60.0, peak_db=-50.0))
    assert st.snapshot(1.2).mic_db == pytest.approx(-26.0)
    # A stopped mic ends at the floor.
    snap = st.snapshot(5.0)
    assert snap.mic_db == FLOOR_DB and snap.speaker_db == FLOOR_DB and snap.mic_peak_db == FLOOR_DB
    # Silly values are clamped, never NaN.
    st.feed(rec(5.0, "local", Local.MIC_AUDIO, rms_db=float("-inf"), peak_db=5.0))
    snap = st.snapshot(5.0)
    assert snap.mic_db == FLOOR_DB and snap.mic_peak_db == 0.0


def test_a_turn_fills_the_transcript_in_order() -> None:
    st = PanelState()
    records = one_turn()
    st.feed_many(records[:1])
    snap = st.snapshot(10.1)
    assert snap.user_speaking
    assert [(line.role, line.text) for line in snap.transcript] == [("user", "")]
    st.feed_many(records[1:])
    snap = st.snapshot(14)
    assert not snap.user_speaking and not snap.assistant_speaking
    assert [(line.role, line.text, line.final) for line in snap.transcript] == [
        ("user", "hello there", True),
        ("assistant", "You said hello", True),
    ]
    assert not any(line.interrupted for line in snap.transcript)
    assert snap.counters["output_latency_ms"] == 40.0


def test_barge_in_marks_the_assistant_line_interrupted() -> None:
    st = PanelState()
    st.feed_many(one_turn(cancelled=True))
    snap = st.snapshot(13)
    assistant = [line for line in snap.transcript if line.role == "assistant"]
    assert assistant[0].interrupted and assistant[0].text == "You said"
    assert snap.user_speaking  # the barge-in utterance is still going
    assert snap.counters["last_barge_in_stale_ms"] == 12.5


def test_turns_are_read_only_when_a_response_ended() -> None:
    calls: list[int] = []

    def turns() -> list[str]:
        calls.append(1)
        return ["turn-1"]

    st = PanelState(turns)
    st.snapshot(0)  # first snapshot reads once
    st.snapshot(0.05)
    assert len(calls) == 1
    st.feed_many(one_turn())
    snap = st.snapshot(14)
    assert snap.turns == ("turn-1",) and len(calls) == 2
    st.snapshot(14.05)
    assert len(calls) == 2


def test_broken_turn_source_shows_an_error_not_an_exception() -> None:
    def turns() -> list[Any]:
        raise RuntimeError("tracker exploded")

    snap = PanelState(turns).snapshot(0)
    assert "tracker exploded" in snap.error


def test_vad_change_pending_then_accepted_by_its_own_answer() -> None:
    st = PanelState()
    st.mark_pending(["silence_duration_ms"], "update-1")
    assert st.snapshot(0).fields["silence_duration_ms"].state == "pending"
    session = {"turn_detection": {"type": "server_vad", "silence_duration_ms": 800}}
    st.feed(rec(1, "server", "session.updated", session=session))
    # a session.updated alone settles nothing (it may answer the config re-sent after a reconnect)
    assert st.snapshot(1).fields["silence_duration_ms"].state == "pending"
    assert st.snapshot(1).server_session["turn_detection"]["silence_duration_ms"] == 800
    st.feed(rec(1.01, "local", Local.COMMAND, command="update", id="update-1", ok=True, detail="session.updated"))
    assert st.snapshot(1.01).fields["silence_duration_ms"].state == "ok"


def test_only_the_answer_to_its_command_settles_a_control() -> None:
    st = PanelState()
    st.mark_pending(["threshold"], "update-1")
    st.mark_pending(["silence_duration_ms"], "update-2")
    st.feed(rec(1, "local", Local.COMMAND, command="enable_tool", id="enable_tool-3", ok=True))  # someone else's
    st.feed(rec(1.1, "local", Local.COMMAND, command="update", id="update-2", ok=True))
    snap = st.snapshot(2)
    assert snap.fields["threshold"].state == "pending" and snap.fields["silence_duration_ms"].state == "ok"
    st.feed(rec(1.2, "local", Local.COMMAND, command="update", id="update-1", ok=False, detail="threshold: too high"))
    snap = st.snapshot(2)
    assert snap.fields["threshold"] == FieldStatus("error", "threshold: too high")
    assert snap.fields["silence_duration_ms"].state == "ok"


def test_an_answer_faster_than_the_caller_still_settles_its_controls() -> None:
    st = PanelState()
    st.feed(rec(1, "local", Local.COMMAND, command="update", id="update-7", ok=True))  # before mark_pending
    st.mark_pending(["voice"], "update-7")
    assert st.snapshot(1).fields["voice"] == FieldStatus("ok", "accepted")


def test_vad_change_refused_shows_the_error_next_to_the_control() -> None:
    st = PanelState()
    st.mark_pending(["threshold"], "update-1")
    st.feed(
        rec(
            1,
            "server",
            "error",
            error={
                "type": "invalid_request_error",
                "code": "invalid_value",
                "message": "threshold must be below 1.0",
                "param": "session.turn_detection.threshold",
            },
        )
    )
    assert st.snapshot(1).fields["threshold"].state == "pending"  # the error event is the log's; the answer settles
    detail = "threshold out of range"
    st.feed(rec(1.01, "local", Local.COMMAND, command="update", id="update-1", ok=False, detail=detail))
    snap = st.snapshot(1)
    assert snap.fields["threshold"].state == "error"
    assert "threshold" in snap.fields["threshold"].detail
    assert "threshold" in snap.error


def test_pending_change_fails_when_the_connection_closes() -> None:
    st = PanelState()
    st.mark_pending(["threshold"])
    st.feed(rec(1, "local", Local.CONNECTION, state="closed", endpoint="x"))
    assert st.snapshot(1).fields["threshold"].state == "error"


def test_benign_cancel_error_is_not_shown() -> None:
    st = PanelState()
    st.feed(rec(1, "server", "error", error={"code": "response_cancel_not_active", "message": "no active response"}))
    assert st.snapshot(1).error == ""


def test_event_log_leaves_out_high_rate_types_unless_asked() -> None:
    st = PanelState()
    st.feed(rec(1, "local", Local.MIC_AUDIO, rms_db=-30.0, peak_db=-20.0))
    st.feed(rec(1.5, "server", "input_audio_buffer.speech_started", item_id="u1", audio_start_ms=100))
    snap = st.snapshot(2)
    assert [line.type for line in snap.log] == ["input_audio_buffer.speech_started"]
    assert snap.log[0].t == 0.5
    assert snap.type_counts == {Local.MIC_AUDIO: 1, "input_audio_buffer.speech_started": 1}
    st.set_log_high_rate(True)
    st.feed(rec(2, "local", Local.MIC_AUDIO, rms_db=-30.0, peak_db=-20.0))
    assert st.snapshot(2).log[-1].type == Local.MIC_AUDIO


def test_log_summary_is_short_and_never_carries_audio_payloads() -> None:
    st = PanelState()
    st.feed(rec(1, "server", "response.audio.delta", delta="A" * 5000, response_id="r"))
    st.set_log_high_rate(True)
    st.feed(rec(1, "server", "response.audio.delta", delta="A" * 5000, response_id="r"))
    line = st.snapshot(1).log[-1]
    assert len(line.summary) <= 160 and "AAAA" not in line.summary


def test_counters_keep_numbers_only() -> None:
    st = PanelState()
    st.feed(rec(1, "local", Local.COUNTERS, input_overflows=2, output_underflows=1, note="x", flag=True))
    assert st.snapshot(1).counters == {"input_overflows": 2, "output_underflows": 1}


def test_echo_figures_show_while_the_assistant_speaks_and_then_go() -> None:
    from voicelive_nb.panel.views import echo_html

    st = PanelState()
    assert st.snapshot(1).echo is None and "echo: —" in echo_html(None)
    st.feed(rec(2.0, "local", Local.ECHO, erl_db=2.4, erle_db=35.2, frames=50, enabled=True))
    snap = st.snapshot(2.5)
    assert snap.echo is not None and snap.echo["erle_db"] == 35.2
    html = echo_html(snap.echo)
    assert "ERL <b>2 dB</b>" in html and "removed <b>35 dB</b>" in html and "vlnb-bad" not in html
    assert st.snapshot(4.5).echo is None  # the speaker went quiet 2 s ago: nothing stale on show
    st.feed(rec(5.0, "local", Local.ECHO, erl_db=3.0, erle_db=None, frames=50, enabled=False))
    off = echo_html(st.snapshot(5.1).echo)
    assert "local canceller off" in off and "vlnb-bad" in off  # a loud echo, not cancelled here
    assert all(line.type != Local.ECHO for line in st.snapshot(5.2).log)  # twice a second: not logged


def test_transcript_is_bounded() -> None:
    st = PanelState(max_transcript=3)
    for i in range(10):
        st.feed(rec(i, "server", "input_audio_buffer.speech_started", item_id=f"u{i}", audio_start_ms=0))
    assert [line.item_id for line in st.snapshot(10).transcript] == ["u7", "u8", "u9"]


def test_feeding_from_another_thread_while_snapshotting() -> None:
    st = PanelState()
    stop = threading.Event()

    def produce() -> None:
        i = 0
        while not stop.is_set() and i < 20_000:
            st.feed(rec(i * 0.001, "local", Local.MIC_AUDIO, rms_db=-30.0, peak_db=-20.0))
            i += 1

    worker = threading.Thread(target=produce)
    worker.start()
    try:
        for k in range(200):
            snap = st.snapshot(k * 0.01)
            assert FLOOR_DB <= snap.mic_db <= -30.0
    finally:
        stop.set()
        worker.join()


def test_vad_onset_level_is_the_mic_level_where_speech_began() -> None:
    st = PanelState()
    st.feed(rec(0, "server", "session.updated", session={"turn_detection": {"prefix_padding_ms": 300}}))
    rate, block = 24000, 1200  # 50 ms blocks
    for i in range(40):
        level = -60.0 if i < 20 else -25.0  # speech from 1.0 s on
        st.feed(
            rec(
                i * 0.05,
                "local",
                Local.MIC_AUDIO,
                offset=i * block,
                samples=block,
                rate=rate,
                rms_db=level,
                peak_db=level + 6,
            )
        )
    # The server reports the start moved back by the 300 ms prefix padding.
    st.feed(rec(2.0, "server", "input_audio_buffer.speech_started", audio_start_ms=700, item_id="u1"))
    assert st.snapshot(2.0).vad_onset_db == -25.0


def test_tool_calls_show_in_the_transcript() -> None:
    state = PanelState(lambda: [])
    fc = {"id": "f1", "type": "function_call", "name": "get_weather", "call_id": "c1", "arguments": ""}
    mcp = {"id": "m1", "type": "mcp_call", "server_label": "orders", "name": "lookup_order", "arguments": '{"n":"4"}'}
    state.feed_many(
        [
            rec(1.0, "server", "response.output_item.added", response_id="r1", item=fc),  # no empty assistant line
            rec(1.1, "local", Local.TOOL_CALL, call_id="c1", name="get_weather", arguments='{"city":"Paris"}'),
            rec(
                1.2,
                "local",
                Local.TOOL_RESULT,
                call_id="c1",
                name="get_weather",
                ok=True,
                status="ok",
                output='{"sky":"sunny"}',
                error=None,
                duration_ms=3.2,
            ),
            rec(1.3, "local", Local.TOOL_CALL, call_id="c2", name="get_stock", arguments="{}"),
            rec(
                1.4,
                "local",
                Local.TOOL_RESULT,
                call_id="c2",
                name="get_stock",
                ok=False,
                status="timeout",
                output="{}",
                error="get_stock did not answer within 2 s",
                duration_ms=2000.0,
            ),
            rec(2.0, "server", "conversation.item.created", item={**mcp, "type": "mcp_approval_request", "id": "ap1"}),
            rec(
                2.1,
                "local",
                Local.TOOL_APPROVAL,
                approval_request_id="ap1",
                server_label="orders",
                name="lookup_order",
                arguments='{"n":"4"}',
                approve=True,
                by="user",
            ),
            rec(2.2, "server", "conversation.item.created", item=mcp),
            rec(2.5, "server", "response.output_item.done", response_id="r2", item={**mcp, "output": "shipped"}),
        ]
    )
    lines = state.snapshot(3.0).transcript
    assert [(ln.role, ln.text, ln.error) for ln in lines] == [
        ("tool", 'get_weather({"city":"Paris"}) → {"sky":"sunny"} · 3 ms', False),
        ("tool", "get_stock({}) ✗ timeout: get_stock did not answer within 2 s · 2000 ms", True),
        ("tool", 'orders/lookup_order({"n":"4"}) — approved (user)', False),
        ("tool", 'orders/lookup_order({"n":"4"}) → shipped · 300 ms', False),
    ]
    from voicelive_nb.panel.views import transcript_html

    html = transcript_html(lines)
    assert html.count("vlnb-line vlnb-tool") == 4 and html.count("vlnb-toolerr") == 1 and "&quot;sunny&quot;" in html
