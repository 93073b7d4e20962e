"""Python functions as tools, end to end: VoiceSession over the real SDK against the emulator.

The emulator's default rule calls a tool whose name's word is said ("weather" ->
get_weather) with arguments from the words; the session runs the function off its loop,
sends ``function_call_output`` with the call's call_id and then ``response.create``; the
emulator's answer says the output.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from tests.session.conftest import clip
from voicelive_nb import SessionConfig, VoiceSession
from voicelive_nb.audio.wav import CaptureSpeaker, WavMic
from voicelive_nb.connection import ConnectionSettings
from voicelive_nb.events import EventRecord, Local
from voicelive_nb.session.tools import tool
from voicelive_nb.speech.prompts import PromptMic

CALLS: list[tuple[str, dict[str, Any], str]] = []


def get_weather(city: str) -> dict[str, Any]:
    """The weather now in a city.

    Args:
        city: The city, e.g. Paris.
    """
    CALLS.append(("get_weather", {"city": city}, threading.current_thread().name))
    return {"sky": "sunny", "temperature": 21, "city": city}


def get_stock(symbol: str) -> str:
    """Quote of a share."""
    raise RuntimeError("the stock service is down")


@tool(timeout_s=0.5)
def get_traffic(road: str) -> str:
    """Traffic on a road (slow)."""
    time.sleep(3.0)
    return "clear"


@pytest.fixture(scope="module")
def tool_emulator() -> Iterator[Any]:
    from voicelive_nb.emulator import Emulator
    from voicelive_nb.emulator.settings import EmulatorSettings

    with Emulator(settings=EmulatorSettings(realtime_factor=8.0)) as emu:  # default responder: the tool rule
        yield emu


@pytest.fixture
def conn(tool_emulator: Any) -> ConnectionSettings:
    return ConnectionSettings(endpoint=tool_emulator.endpoint, api_key="test-key")


def quiet_mic() -> WavMic:
    return WavMic(np.zeros(4800, dtype=np.int16), loop=True)


def answers(session: VoiceSession) -> list[str]:
    return [r.data.get("transcript", "") for r in session.records("response.audio_transcript.done")]


def wait_answer(session: VoiceSession, since: float, timeout: float = 30.0) -> EventRecord:
    return session.wait_for(
        "response.audio_transcript.done",
        timeout=timeout,
        since=since,
        predicate=lambda r: bool(r.data.get("transcript")),
    )


def test_a_spoken_question_calls_the_function_and_the_answer_says_its_output(conn: ConnectionSettings) -> None:
    CALLS.clear()
    pcm, _ = clip(0.3, "What is the weather in Paris?", 3.0)
    config = SessionConfig(transcription_model="whisper-1")
    session = VoiceSession(config, connection=conn, mic=WavMic(pcm), speaker=CaptureSpeaker(), tools=[get_weather])
    with session:
        call = session.wait_for("response.function_call_arguments.done", timeout=40, since=0)
        result = session.wait_for(Local.TOOL_RESULT, timeout=10, since=0)
        answer = wait_answer(session, since=result.t)
        session.wait_for(Local.PLAYBACK_STOPPED, timeout=30, since=answer.t)
    # the function ran, off the session's loop, with the argument taken from the words
    assert call.data["name"] == "get_weather" and json.loads(call.data["arguments"]) == {"city": "Paris"}
    assert [("get_weather", {"city": "Paris"}, CALLS[0][2])] == CALLS and CALLS[0][2].startswith("voicelive-tool")
    # its output went back with the call's call_id, then response.create
    sent = [r for r in session.records("conversation.item.create") if r.data["item"]["type"] == "function_call_output"]
    assert [r.data["item"]["call_id"] for r in sent] == [call.data["call_id"]]
    assert json.loads(sent[0].data["item"]["output"]) == {"sky": "sunny", "temperature": 21, "city": "Paris"}
    creates = [r for r in session.records("response.create") if r.t >= sent[0].t]
    assert len(creates) == 1
    # the spoken answer uses the output, and it was heard
    assert "sunny" in answer.data["transcript"] and "21" in answer.data["transcript"]
    assert result.data["status"] == "ok" and result.data["call_id"] == call.data["call_id"]
    assert 0 <= result.data["overhead_ms"] < 1000 and result.data["duration_ms"] >= 0
    (turn,) = session.tracker.turns  # type: ignore[union-attr]
    assert turn.tool_calls == ["get_weather"] and turn.tool_ms is not None and turn.tool_to_audio_ms is not None
    assert turn.response_latency_ms is not None and turn.assistant_transcript == answer.data["transcript"]


@pytest.mark.parametrize(
    ("question", "fn", "status", "said"),
    [
        ("What is the stock price of Contoso?", get_stock, "error", "the stock service is down"),
        ("How is the traffic on the ring road?", get_traffic, "timeout", "did not answer within 0.5 s"),
    ],
)
def test_an_exception_or_a_timeout_ends_in_an_answer(
    conn: ConnectionSettings, question: str, fn: Any, status: str, said: str
) -> None:
    session = VoiceSession(connection=conn, mic=quiet_mic(), speaker=CaptureSpeaker(), tools=[fn])
    with session:
        session.wait_for("session.updated", timeout=20, since=session.started_at)
        session.send_text(question)
        result = session.wait_for(Local.TOOL_RESULT, timeout=20, since=0)
        answer = wait_answer(session, since=result.t)
        errors = session.records(Local.ERROR)
    assert result.data["status"] == status and said in result.data["error"]
    assert json.loads(result.data["output"]) == {"error": result.data["error"]}
    assert "Sorry" in answer.data["transcript"] and said in answer.data["transcript"]
    assert any(e.data["where"] == "tool" and status in e.data["message"] for e in errors)
    assert session.state == "closed"


def test_a_tool_switched_off_live_is_no_longer_called(conn: ConnectionSettings) -> None:
    CALLS.clear()
    session = VoiceSession(connection=conn, mic=quiet_mic(), speaker=CaptureSpeaker(), tools=[get_weather])
    with session:
        session.wait_for("session.updated", timeout=20, since=session.started_at)
        assert session.tools == {"get_weather": True}
        session.send_text("What is the weather in Oslo?")
        first = wait_answer(session, since=0)
        assert "sunny" in first.data["transcript"]
        result = session.enable_tool("get_weather", False).result(10)
        assert result.ok and session.tools == {"get_weather": False}
        assert session.config.to_dict()["tools"] == []
        mark = time.monotonic()
        session.send_text("What is the weather in Rome?")
        second = wait_answer(session, since=mark)
        assert session.enable_tool("get_weather", True).result(10).ok
        mark = time.monotonic()
        session.send_text("And the weather in Rome now?")
        third = wait_answer(session, since=mark)
    assert [c[1]["city"] for c in CALLS] == ["Oslo", "Rome now"]
    assert second.data["transcript"] == "You said: What is the weather in Rome?"
    assert "sunny" in third.data["transcript"]
    commands = [r.data for r in session.records(Local.COMMAND)]
    assert [(c["command"], c["ok"]) for c in commands] == [("enable_tool", True), ("enable_tool", True)]


def test_the_user_speaking_while_a_function_runs_gets_the_server_response_not_ours(conn: ConnectionSettings) -> None:
    """Turn detection answers the user's new turn itself (create_response): the output is sent
    for the call's call_id and accepted, but no response.create of ours follows it (it would
    answer over the user, or race the server's response); exactly one answer comes after."""
    started, release = threading.Event(), threading.Event()

    def get_weather(city: str) -> str:
        """The weather now in a city."""
        started.set()
        release.wait(20)
        return "sunny"

    question, _ = clip(0.2, "What is the weather in Paris?", 0.2)
    thanks, _ = clip(0.2, "Thank you very much.", 0.2)
    mic = PromptMic()
    config = SessionConfig(transcription_model="whisper-1")
    session = VoiceSession(config, connection=conn, mic=mic, speaker=CaptureSpeaker(), tools=[get_weather])
    with session:
        session.wait_for("session.updated", timeout=20, since=session.started_at)
        mic.say(question)
        assert started.wait(40), "the function was not called"
        call = session.wait_for("response.done", timeout=10, since=0)  # the function-call response
        mark = time.monotonic()
        mic.say(thanks)  # the user goes on talking while the function runs
        session.wait_for("input_audio_buffer.speech_started", timeout=20, since=mark)
        release.set()  # the output goes out while the user speaks
        result = session.wait_for(Local.TOOL_RESULT, timeout=10, since=0)
        answer = wait_answer(session, since=result.t)
        session.wait_for(Local.PLAYBACK_STOPPED, timeout=30, since=answer.t)
        records = session.records()  # a create of ours would have been sent before the tool.result record
    outputs = [
        r for r in records if r.type == "conversation.item.create" and r.data["item"]["type"] == "function_call_output"
    ]
    assert [o.data["item"]["call_id"] for o in outputs] == [result.data["call_id"]]
    assert [r for r in records if r.type == "response.create" and r.t >= outputs[0].t] == []  # none of ours
    assert not [r for r in records if r.type == "error"]  # the output was accepted; no refused create
    after = [r for r in records if r.type == "response.created" and r.t > call.t]
    assert len(after) == 1  # the server's response to "Thank you very much."
    assert [a for a in answers(session) if a] == [answer.data["transcript"]]
