"""SessionProtocol: fed event dicts, asserted on actions. No sockets, loops or sleeps."""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from voicelive_nb.session.protocol import (
    CommandDone,
    FinishAudio,
    FlushPlayback,
    PlayAudio,
    ReportError,
    SendEvent,
    SessionProtocol,
    StartAudio,
    explain_error,
    explain_exception,
    is_fatal_exception,
    is_unreachable,
    output_rate,
)


def delta(rid: str, iid: str, samples: int) -> dict[str, Any]:
    pcm = b"\x01\x00" * samples
    return {
        "type": "response.audio.delta",
        "response_id": rid,
        "item_id": iid,
        "delta": base64.b64encode(pcm).decode(),
    }


def configured() -> SessionProtocol:
    p = SessionProtocol()
    p.receive({"type": "session.created", "session": {"id": "s1"}})
    p.receive({"type": "session.updated", "session": {"turn_detection": {"type": "server_vad"}}})
    return p


def start_response(p: SessionProtocol, rid: str = "r1") -> None:
    p.receive({"type": "response.created", "response": {"id": rid, "status": "in_progress"}})


def test_audio_starts_on_first_session_updated_only() -> None:
    p = SessionProtocol()
    assert p.receive({"type": "session.created", "session": {}}) == []
    assert not p.audio_enabled
    assert p.receive({"type": "session.updated", "session": {}}) == [StartAudio()]
    assert p.audio_enabled
    assert p.receive({"type": "session.updated", "session": {}}) == []


def test_delta_is_decoded_and_counted() -> None:
    p = configured()
    start_response(p)
    (action,) = p.receive(delta("r1", "i1", 480))
    assert isinstance(action, PlayAudio)
    assert (len(action.pcm), action.response_id, action.item_id) == (960, "r1", "i1")
    assert p.item_audio_ms("i1") == 20.0


def test_bad_base64_reports_not_raises() -> None:
    p = configured()
    (action,) = p.receive({"type": "response.audio.delta", "delta": "@@not base64@@", "item_id": "i"})
    assert isinstance(action, ReportError)
    assert "base64" in action.message


def test_speech_started_flushes_and_truncates_with_played_ms() -> None:
    p = configured()
    start_response(p)
    for _ in range(10):
        p.receive(delta("r1", "i1", 2400))  # 10 x 100 ms
    assert p.receive({"type": "input_audio_buffer.speech_started", "item_id": "u2"}) == [
        FlushPlayback("speech_started")
    ]
    (send,) = p.playback_flushed("i1", 340.6, "r1")
    assert isinstance(send, SendEvent)
    assert send.event["type"] == "conversation.item.truncate"
    assert send.event["item_id"] == "i1"
    assert send.event["content_index"] == 0
    assert send.event["audio_end_ms"] == 340
    assert send.event["event_id"]


def test_late_deltas_of_interrupted_response_are_dropped_new_response_plays() -> None:
    p = configured()
    start_response(p)
    p.receive(delta("r1", "i1", 480))
    p.receive({"type": "input_audio_buffer.speech_started"})
    assert p.receive(delta("r1", "i1", 480)) == []
    assert p.late_deltas_dropped == 1
    p.receive({"type": "response.done", "response": {"id": "r1", "status": "cancelled"}})
    start_response(p, "r2")
    assert isinstance(p.receive(delta("r2", "i2", 480))[0], PlayAudio)


def test_a_long_session_keeps_bounded_facts_and_still_drops_the_newest_late_deltas() -> None:
    p = configured()
    for k in range(300):  # 300 answers, every third one interrupted
        rid, iid = f"r{k}", f"i{k}"
        start_response(p, rid)
        p.receive(delta(rid, iid, 480))
        if k % 3 == 0:
            p.receive({"type": "input_audio_buffer.speech_started"})
        p.receive({"type": "response.done", "response": {"id": rid}})
    assert len(p._items) <= 64 and len(p._interrupted) <= 64
    assert p.receive(delta("r297", "i297", 480)) == []  # the newest interrupted answer: still dropped
    assert isinstance(p.receive(delta("r298", "i298", 480))[0], PlayAudio)


def test_no_truncate_when_nothing_played_or_fully_played() -> None:
    p = configured()
    start_response(p)
    p.receive(delta("r1", "i1", 2400))
    done = p.receive({"type": "response.audio.done", "item_id": "i1", "response_id": "r1"})
    assert done == [FinishAudio("r1", "i1")]
    assert p.playback_flushed("i1", 0.0) == []
    assert p.playback_flushed("i1", 100.0) == []
    assert p.playback_flushed(None, 50.0) == []


def test_truncate_while_streaming_even_if_queue_played_out() -> None:
    p = configured()
    start_response(p)
    p.receive(delta("r1", "i1", 2400))
    (send,) = p.playback_flushed("i1", 100.0)
    assert isinstance(send, SendEvent) and send.event["audio_end_ms"] == 100


def test_truncate_clamped_to_received_audio() -> None:
    p = configured()
    start_response(p)
    p.receive(delta("r1", "i1", 2400))
    (send,) = p.playback_flushed("i1", 150.0)
    assert isinstance(send, SendEvent) and send.event["audio_end_ms"] == 100


def test_speech_started_ignored_when_interrupt_response_false() -> None:
    p = SessionProtocol()
    td = {"type": "server_vad", "interrupt_response": False}
    p.receive({"type": "session.updated", "session": {"turn_detection": td}})
    assert not p.interrupt_response
    assert p.receive({"type": "input_audio_buffer.speech_started"}) == []


def test_active_response_tracking() -> None:
    p = configured()
    assert p.active_response_id is None
    start_response(p, "r9")
    assert p.active_response_id == "r9"
    p.receive({"type": "response.done", "response": {"id": "other"}})
    assert p.active_response_id == "r9"
    p.receive({"type": "response.done", "response": {"id": "r9"}})
    assert p.active_response_id is None


def test_cancel_sends_cancel_and_swallows_benign_error_once() -> None:
    p = configured()
    start_response(p)
    actions = p.cancel_response()
    assert [type(a) for a in actions] == [SendEvent, FlushPlayback]
    assert isinstance(actions[0], SendEvent) and actions[0].type == "response.cancel"
    benign = {"type": "error", "error": {"code": "response_cancel_not_active", "message": "x"}}
    assert p.receive(benign) == []
    assert p.benign_errors == 1
    # a second one, not after our own cancel, is reported
    (report,) = p.receive(benign)
    assert isinstance(report, ReportError) and "no response to cancel" in report.message


def test_benign_error_recognised_by_message() -> None:
    p = configured()
    start_response(p)
    p.cancel_response()
    msg = {"type": "error", "error": {"message": "Cancellation failed: no active response found"}}
    assert p.receive(msg) == []


def test_cancel_without_active_response_only_flushes() -> None:
    p = configured()
    assert p.cancel_response() == [FlushPlayback("cancel")]


def test_update_session_acknowledged() -> None:
    p = configured()
    (send,) = p.update_session({"turn_detection": {"type": "server_vad", "threshold": 0.7}}, "cmd1")
    assert isinstance(send, SendEvent) and send.type == "session.update"
    session = {"turn_detection": {"type": "server_vad", "threshold": 0.7}}
    (done,) = p.receive({"type": "session.updated", "session": session})
    assert done == CommandDone("cmd1", True, session)


def test_update_session_error_matched_by_event_id() -> None:
    p = configured()
    (send,) = p.update_session({"bogus": 1}, "cmd2")
    assert isinstance(send, SendEvent)
    err = {
        "type": "error",
        "error": {"code": "unknown_parameter", "param": "session.bogus", "event_id": send.event["event_id"]},
    }
    done, report = p.receive(err)
    assert isinstance(done, CommandDone) and done.command_id == "cmd2" and not done.ok
    assert "session.bogus" in done.detail
    assert isinstance(report, ReportError) and report.code == "unknown_parameter"


def test_update_session_error_without_event_id_matched_by_param() -> None:
    p = configured()
    p.update_session({"bogus": 1}, "cmd3")
    done, _ = p.receive({"type": "error", "error": {"code": "invalid_type", "param": "session.x"}})
    assert isinstance(done, CommandDone) and done.command_id == "cmd3" and not done.ok


def test_connection_reset_fails_pending_and_regates_audio() -> None:
    p = configured()
    start_response(p)
    p.update_session({}, "c")
    p.receive(delta("r1", "i1", 480))
    done, finish = p.connection_reset()
    assert isinstance(done, CommandDone) and not done.ok
    assert finish == FinishAudio("r1", "i1")  # what arrived of the cut response plays out
    assert not p.audio_enabled and p.active_response_id is None
    assert p.receive({"type": "session.updated", "session": {}}) == [StartAudio()]
    assert p.receive(delta("r1", "i1", 10)) == []  # the old response never plays again


def test_send_text() -> None:
    p = configured()
    a, b = p.send_text("hello")
    assert isinstance(a, SendEvent) and a.event["item"]["content"][0]["text"] == "hello"
    assert isinstance(b, SendEvent) and b.type == "response.create"
    assert len(p.send_text("x", respond=False)) == 1


def test_output_rate_from_session() -> None:
    p = SessionProtocol()
    p.receive({"type": "session.updated", "session": {"output_audio_format": "pcm16_16000hz"}})
    assert p.rate == 16000
    assert output_rate(None) == 24000


def test_explain_error_plain_words() -> None:
    assert "still answering" in explain_error({"code": "conversation_already_has_active_response"})
    assert "foo" in explain_error({"message": "foo"})
    assert "session.x" in explain_error({"code": "unknown_parameter", "param": "session.x"})
    assert explain_error("weird")
    assert "credentials" in explain_exception(RuntimeError("401 Unauthorized"))
    assert "reach" in explain_exception(OSError("Cannot connect to host"))

    class CredentialUnavailableError(Exception):  # azure-identity's, matched by name
        pass

    assert "az login" in explain_exception(CredentialUnavailableError("Azure CLI not found on path"))
    assert is_fatal_exception(RuntimeError("wrapped")) is False
    wrapped = RuntimeError("connect failed")
    wrapped.__cause__ = CredentialUnavailableError("no token")
    assert is_fatal_exception(wrapped)


def test_connect_failures_are_one_line_with_the_cause() -> None:
    import socket
    from types import SimpleNamespace

    import aiohttp
    from azure.identity import CredentialUnavailableError

    # DefaultAzureCredential lists every credential it tried: the message keeps the first line
    chain = CredentialUnavailableError(
        "DefaultAzureCredential failed to retrieve a token from the included credentials.\n"
        "Attempted credentials:\n\tEnvironmentCredential: unavailable.\n\tAzureCliCredential: not found"
    )
    wrapped = RuntimeError("connect failed")
    wrapped.__cause__ = chain
    text = explain_exception(wrapped)
    assert "\n" not in text and "DefaultAzureCredential failed" in text and "AZURE_VOICELIVE_API_KEY" in text
    assert "EnvironmentCredential" not in text

    def connector_error(cause: OSError, host: str) -> Exception:
        key = SimpleNamespace(host=host, port=443, ssl=True)
        inner = aiohttp.ClientConnectorError(key, cause)  # type: ignore[arg-type]
        inner.__cause__ = cause
        outer = ConnectionError(f"Failed to establish WebSocket connection: {inner}")
        outer.__cause__ = inner
        return outer

    dns = connector_error(socket.gaierror(-2, "Name or service not known"), "nonexistent.invalid")
    assert explain_exception(dns).startswith("Cannot resolve the host name nonexistent.invalid (DNS")
    refused = connector_error(ConnectionRefusedError(111, "Connect call failed"), "127.0.0.1")
    assert "127.0.0.1:443 (connection refused)" in explain_exception(refused)
    assert is_unreachable(dns) and is_unreachable(refused)
    assert not is_unreachable(RuntimeError("503 Service Unavailable")) and not is_unreachable(TimeoutError())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
field_names = st.sampled_from(["session", "response", "error", "delta", "item_id", "response_id", "x", "id", "code"])
event_types = st.sampled_from(
    [
        "session.created",
        "session.updated",
        "response.created",
        "response.done",
        "response.audio.delta",
        "response.audio.done",
        "input_audio_buffer.speech_started",
        "error",
        "unknown.thing",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(event_types, st.dictionaries(field_names, json_values, max_size=4))))
def test_never_raises_on_arbitrary_events(events: list[tuple[str, dict[str, Any]]]) -> None:
    p = SessionProtocol()
    p.update_session({}, "c")
    for etype, fields in events:
        p.receive({**fields, "type": etype})
        p.playback_flushed(fields.get("item_id") if isinstance(fields.get("item_id"), str) else None, 5.0)
    p.receive("not a dict")
    p.receive(None)


def test_each_session_updated_answers_its_own_update_in_order() -> None:
    """The config sent on (re)connect is answered first: its answer is not taken for a command."""
    p = SessionProtocol()
    p.update_session({"voice": "alloy"})  # the config on connect: nobody awaits it
    p.update_session({"turn_detection": {"type": "server_vad", "silence_duration_ms": 800}}, "vad1")
    first = p.receive({"type": "session.updated", "session": {"voice": "alloy"}})
    assert first == [StartAudio()]  # audio starts; no command is settled by the connect's answer
    session = {"voice": "alloy", "turn_detection": {"type": "server_vad", "silence_duration_ms": 800}}
    (done,) = p.receive({"type": "session.updated", "session": session})
    assert done == CommandDone("vad1", True, session)
    assert p.receive({"type": "session.updated", "session": session}) == []  # the server's own: settles nothing


def test_a_timed_out_update_whose_answer_was_lost_does_not_take_the_next_answer() -> None:
    p = configured()
    p.update_session({"voice": "echo"}, "lost")
    p.forget_command("lost")  # the caller gave up waiting: the server never answered
    p.update_session({"voice": "sage"}, "next")
    (done,) = p.receive({"type": "session.updated", "session": {"voice": "sage"}})
    assert done == CommandDone("next", True, {"voice": "sage"})
