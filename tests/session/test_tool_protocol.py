"""The protocol's tool-call decisions, sans-I/O: when outputs go out and when a
``response.create`` follows them (and when the user has taken the turn instead)."""

from __future__ import annotations

from typing import Any

import pytest

from voicelive_nb.session.protocol import SendEvent, SessionProtocol
from voicelive_nb.session.tool_protocol import RunTool


def configured(turn_detection: dict[str, Any] | None = None) -> SessionProtocol:
    p = SessionProtocol()
    p.receive({"type": "session.created", "session": {"id": "s1"}})
    td = {"type": "server_vad"} if turn_detection is None else turn_detection
    p.receive({"type": "session.updated", "session": {"turn_detection": td or None}})
    return p


def call(p: SessionProtocol, rid: str, call_id: str, name: str = "get_weather") -> RunTool:
    done = {"type": "response.function_call_arguments.done", "response_id": rid, "item_id": f"item_{call_id}",
            "call_id": call_id, "name": name, "arguments": "{}"}  # fmt: skip
    [run] = [a for a in p.receive(done) if isinstance(a, RunTool)]
    return run


def created(p: SessionProtocol, rid: str) -> None:
    p.receive({"type": "response.created", "response": {"id": rid, "status": "in_progress"}})


def done(p: SessionProtocol, rid: str, status: str = "completed") -> list[str]:
    return sent(p.receive({"type": "response.done", "response": {"id": rid, "status": status}}))


def sent(actions: list[Any]) -> list[str]:
    return [a.type for a in actions if isinstance(a, SendEvent)]


def output(p: SessionProtocol, call_id: str) -> list[str]:
    return sent(p.tool_output(call_id, '{"sky": "sunny"}'))


def test_outputs_then_one_create_after_the_response_and_all_its_calls() -> None:
    p = configured()
    created(p, "r1")
    call(p, "r1", "c1")
    call(p, "r1", "c2", "get_time")  # parallel calls
    assert output(p, "c1") == ["conversation.item.create"]  # at once, while the response finishes
    assert done(p, "r1") == []  # c2 still runs
    assert output(p, "c2") == ["conversation.item.create", "response.create"]
    assert output(p, "c2") == []  # answered once
    # the other order: the response ends after the outputs went out
    created(p, "r2")
    call(p, "r2", "c3")
    assert output(p, "c3") == ["conversation.item.create"]
    assert done(p, "r2") == ["response.create"]
    assert p.tools.skipped_creates == 0


@pytest.mark.parametrize("status", ["cancelled", "incomplete", "failed"])
def test_a_response_that_did_not_complete_gets_outputs_but_no_create(status: str) -> None:
    p = configured()
    created(p, "r1")
    call(p, "r1", "c1")
    p.receive({"type": "input_audio_buffer.speech_started", "audio_start_ms": 100})  # the user cuts in
    assert done(p, "r1", status) == []
    assert output(p, "c1") == ["conversation.item.create"]  # the call still gets its output
    assert p.tools.skipped_creates == 1 and p.tools.pending == 0


@pytest.mark.parametrize(
    ("turn_detection", "creates"),
    [
        ({"type": "server_vad"}, False),  # the server answers the user's turn itself
        ({"type": "azure_semantic_vad", "create_response": True, "interrupt_response": False}, False),
        ({"type": "server_vad", "create_response": False}, True),  # nobody else would answer
        ({}, True),  # no turn detection: the app drives responses
    ],
)
def test_user_speech_while_the_function_runs(turn_detection: dict[str, Any], creates: bool) -> None:
    p = configured(turn_detection)
    created(p, "r1")
    call(p, "r1", "c1")
    assert done(p, "r1") == []
    p.receive({"type": "input_audio_buffer.speech_started", "audio_start_ms": 900})  # the function still runs
    expected = ["conversation.item.create", "response.create"] if creates else ["conversation.item.create"]
    assert output(p, "c1") == expected
    assert p.tools.skipped_creates == (0 if creates else 1)
    # a later call, after that speech, gets its create again
    created(p, "r2")
    call(p, "r2", "c2")
    assert done(p, "r2") == []
    assert output(p, "c2") == ["conversation.item.create", "response.create"]


def test_no_create_while_another_response_runs_and_its_refusal_is_benign() -> None:
    p = configured()
    created(p, "r1")
    call(p, "r1", "c1")
    assert done(p, "r1") == []
    created(p, "r2")  # e.g. the app's own response.create
    assert output(p, "c1") == ["conversation.item.create"]
    assert done(p, "r2") == []
    created(p, "r3")
    call(p, "r3", "c2")
    assert done(p, "r3") == []
    [_item, create] = [a for a in p.tool_output("c2", "{}") if isinstance(a, SendEvent)]
    assert create.type == "response.create"
    message = "Conversation already has an active response"
    code = "conversation_already_has_active_response"
    refusal = {"type": "error", "error": {"code": code, "message": message, "event_id": create.event["event_id"]}}
    assert p.receive(refusal) == [] and p.benign_errors == 1
