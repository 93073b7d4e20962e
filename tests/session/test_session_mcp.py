"""MCP tools end to end: the emulator is a real MCP client of a real MCP server on loopback;
the session shows the calls and answers approval requests (callback, auto, by hand)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from tests.mcp_server import mcp_server, serve_mcp
from voicelive_nb import SessionConfig, VoiceSession
from voicelive_nb.audio.wav import CaptureSpeaker, WavMic
from voicelive_nb.connection import ConnectionSettings
from voicelive_nb.events import Local


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    with mcp_server() as url:
        yield url


@pytest.fixture(scope="module")
def conn() -> Iterator[ConnectionSettings]:
    from voicelive_nb.emulator import Emulator, EmulatorSettings

    with Emulator(settings=EmulatorSettings(realtime_factor=0, time_to_first_audio_ms=0), asr=False) as emu:
        yield ConnectionSettings(endpoint=emu.endpoint, api_key="test-key")


def orders(url: str, approval: Any, **more: Any) -> dict[str, Any]:
    return {"type": "mcp", "server_label": "orders", "server_url": url, "require_approval": approval, **more}


def ask(session: VoiceSession, text: str) -> str:
    mark = time.monotonic()
    session.send_text(text)
    done = session.wait_for(
        "response.audio_transcript.done", timeout=30, since=mark, predicate=lambda r: bool(r.data.get("transcript"))
    )
    return str(done.data["transcript"])


def listed(session: VoiceSession) -> None:
    session.wait_for("session.updated", timeout=20, since=session.started_at)
    session.wait_for("mcp_list_tools.completed", timeout=30, since=session.started_at)


@pytest.mark.parametrize("approval", ["never", {"never": ["lookup_order"]}])
def test_an_mcp_call_without_approval_completes(conn: ConnectionSettings, mcp_url: str, approval: Any) -> None:
    session = VoiceSession(
        connection=conn,
        mic=WavMic(np.zeros(4800, dtype=np.int16), loop=True),
        speaker=CaptureSpeaker(),
        tools=[orders(mcp_url, approval, allowed_tools=["lookup_order"])],
    )
    with session:
        listed(session)
        answer = ask(session, "Please look up order 42")
        calls = session.records("response.output_item.done")
    assert answer == "Lookup order says: order 42 shipped."
    [item] = [c.data["item"] for c in calls if c.data["item"]["type"] == "mcp_call"]
    assert item["name"] == "lookup_order" and item["output"] == "order 42 shipped" and item["error"] is None
    assert not session.records(Local.TOOL_APPROVAL) and session.tools == {"orders": True}
    (turn,) = session.tracker.turns  # type: ignore[union-attr]
    assert turn.tool_calls == ["lookup_order"] and turn.tool_ms is not None and turn.tool_ms > 0


def test_an_mcp_call_with_approval_completes_and_a_refused_one_is_answered(
    conn: ConnectionSettings, mcp_url: str
) -> None:
    asked: list[dict[str, Any]] = []

    def approve(request: dict[str, Any]) -> bool:
        asked.append(request)
        return request["name"] == "lookup_order"

    session = VoiceSession(
        SessionConfig(parallel_tool_calls=False),  # "order" is in both tools' names: the best one only
        connection=conn,
        mic=WavMic(np.zeros(4800, dtype=np.int16), loop=True),
        speaker=CaptureSpeaker(),
        tools=[orders(mcp_url, "always")],
        mcp_approval=approve,
    )
    with session:
        listed(session)
        looked = ask(session, "Please look up order 7")
        cancelled = ask(session, "Please cancel order 7")
    assert looked == "Lookup order says: order 7 shipped."
    assert cancelled == "Sorry, cancel order failed: the call was not approved."
    assert [(a["name"], a["server_label"]) for a in asked] == [("lookup_order", "orders"), ("cancel_order", "orders")]
    approvals = [r.data for r in session.records(Local.TOOL_APPROVAL)]
    assert [(a["name"], a["approve"], a["by"]) for a in approvals] == [
        ("lookup_order", True, "callback"),
        ("cancel_order", False, "callback"),
    ]
    requests = [
        r.data["item"]["id"]
        for r in session.records("conversation.item.created")
        if r.data["item"]["type"] == "mcp_approval_request"
    ]
    assert [a["approval_request_id"] for a in approvals] == requests
    first, _ = session.tracker.turns  # type: ignore[union-attr]
    assert first.tool_calls == ["lookup_order"] and first.assistant_transcript == looked


def test_an_approval_given_by_hand(conn: ConnectionSettings, mcp_url: str) -> None:
    session = VoiceSession(
        SessionConfig(parallel_tool_calls=False),
        connection=conn,
        mic=WavMic(np.zeros(4800, dtype=np.int16), loop=True),
        speaker=CaptureSpeaker(),
        tools=[orders(mcp_url, "always")],
    )
    with session:
        listed(session)
        mark = time.monotonic()
        session.send_text("Please look up order 9")
        session.wait_for("response.done", timeout=20, since=mark)
        deadline = time.monotonic() + 10
        while not session.pending_approvals and time.monotonic() < deadline:
            time.sleep(0.01)
        [pending] = session.pending_approvals
        assert pending["name"] == "lookup_order" and pending["arguments"] == '{"order_number":"9"}'
        assert session.approve_mcp(pending["approval_request_id"], True).result(10) is True
        assert session.approve_mcp(pending["approval_request_id"], True).result(10) is False  # answered once
        done = session.wait_for("response.audio_transcript.done", timeout=30, since=mark)
    assert done.data["transcript"] == "Lookup order says: order 9 shipped."
    assert [r.data["by"] for r in session.records(Local.TOOL_APPROVAL)] == ["user"]


def test_a_conversation_keeps_one_mcp_session_and_closes_it_on_disconnect(conn: ConnectionSettings) -> None:
    with serve_mcp() as server:
        session = VoiceSession(
            SessionConfig(parallel_tool_calls=False),
            connection=conn,
            mic=WavMic(np.zeros(4800, dtype=np.int16), loop=True),
            speaker=CaptureSpeaker(),
            tools=[orders(server.url, "never")],
        )
        with session:
            listed(session)
            answers = [ask(session, f"Please look up order {n}") for n in (1, 2, 3)]
            assert server.open_connections() >= 1
        deadline = time.monotonic() + 10  # the WebSocket closed: the emulator leaves its MCP session
        while server.open_connections() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.open_connections() == 0, "the emulator kept its connection to the MCP server open"
        methods = list(server.methods)
    assert answers == [f"Lookup order says: order {n} shipped." for n in (1, 2, 3)]
    # one handshake for the listing and the three calls; a call is one request
    assert methods.count("server/discover") + methods.count("initialize") == 1, methods
    assert methods.count("tools/list") == 1 and methods.count("tools/call") == 3, methods
    calls = [r for r in session.records() if r.type in ("response.mcp_call.in_progress", "response.mcp_call.completed")]
    assert [r.type.rsplit(".", 1)[1] for r in calls] == ["in_progress", "completed"] * 3
