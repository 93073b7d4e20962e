"""Tool calls in replays: answered from the recording by default, or re-run by live functions.

End to end over the real SDK against the emulator (its default rule calls get_weather when
"weather" is said; ASR on): a session with a function call is recorded, then replayed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.speech import speech_pcm
from voicelive_nb import SessionConfig, VoiceSession
from voicelive_nb.audio.wav import CaptureSpeaker, WavMic
from voicelive_nb.connection import ConnectionSettings
from voicelive_nb.events import Local
from voicelive_nb.recording import Recording
from voicelive_nb.session.tools import ToolRunner
from voicelive_nb.tuning.replay import replay
from voicelive_nb.tuning.replay_tools import RecordedAnswers, RecordedCall, recorded_calls, with_live_tools

CALLS: list[dict[str, Any]] = []


def get_weather(city: str) -> dict[str, Any]:
    """The weather now in a city.

    Args:
        city: The city, e.g. Paris.
    """
    CALLS.append({"city": city, "fn": "recorded"})
    return {"sky": "sunny", "temperature": 21, "city": city}


def call(call_id: str, name: str, arguments: str, output: str, status: str = "ok") -> RecordedCall:
    return RecordedCall(call_id, name, arguments, output, status, None if status == "ok" else output)


# ---------------------------------------------------------------- matching (no session)


def test_answers_match_name_and_arguments_then_order_then_repeat() -> None:
    answers = RecordedAnswers(
        [
            call("c1", "get_weather", '{"city": "Paris"}', "paris sunny"),
            call("c2", "get_weather", '{"city": "Oslo"}', "oslo snow"),
            call("c3", "get_time", '{"zone": "CET"}', '{"error": "down"}', "error"),
        ]
    )
    oslo = answers.answer("get_weather", '{ "city":"Oslo" }')  # same value, other spacing: the 2nd call
    paris = answers.answer("get_weather", '{"city": "Rome"}')  # no such arguments: next unused in order
    again = answers.answer("get_weather", '{"city": "Oslo"}')  # all used: the same arguments again
    last = answers.answer("get_weather", '{"city": "Lima"}')  # all used, no match: the last one
    failed = answers.answer("get_time", '{"zone": "UTC"}')
    assert answers.answer("get_stock", "{}") is None  # never called in the recording
    assert oslo is not None and paris is not None and again is not None and last is not None and failed is not None
    assert [oslo.output, paris.output, again.output, last.output] == [
        "oslo snow",
        "paris sunny",
        "oslo snow",
        "oslo snow",
    ]
    assert [a.origin["matched"] for a in (oslo, paris, again, last)] == ["arguments", "order", "repeat", "repeat"]  # type: ignore[index]
    assert oslo.source == "recording" and oslo.ok and oslo.duration_ms == 0
    assert failed.status == "error" and failed.error == '{"error": "down"}' and not failed.ok  # as recorded
    assert answers.answered[:2] == [("c2", "arguments"), ("c1", "order")] and answers.names == [
        "get_weather",
        "get_time",
    ]


def test_recorded_calls_follow_the_order_the_calls_were_made() -> None:
    def ev(type_: str, **data: Any) -> dict[str, Any]:
        return {"type": type_, "data": data}

    events = [
        ev(Local.TOOL_CALL, call_id="a", name="f", arguments='{"x": 1}', kind="function"),
        ev(Local.TOOL_CALL, call_id="b", name="g", arguments='{"y": 2}', kind="function"),
        ev(Local.TOOL_RESULT, call_id="b", name="g", output="G", status="ok", ok=True, error=None),  # faster
        ev(Local.TOOL_RESULT, call_id="a", name="f", output='{"error": "t"}', status="timeout", ok=False, error="t"),
        ev(Local.TOOL_CALL, call_id="m", name="lookup", arguments="{}", kind="mcp"),  # not the client's
        ev(Local.TOOL_CALL, call_id="c", name="f", arguments="{}", kind="function"),  # never answered
    ]
    calls = recorded_calls(events)
    assert [(c.call_id, c.arguments, c.output, c.status) for c in calls] == [
        ("a", '{"x": 1}', '{"error": "t"}', "timeout"),
        ("b", '{"y": 2}', "G", "ok"),
    ]


def test_the_runner_asks_the_answers_only_for_tools_without_a_function() -> None:
    class Broken:
        def answer(self, name: str, arguments: str) -> None:
            raise KeyError(name)

    answers = RecordedAnswers([call("c1", "get_weather", '{"city": "Paris"}', "recorded"), call("c2", "f", "{}", "F")])
    runner = ToolRunner(
        [get_weather, {"type": "function", "name": "f", "parameters": {"type": "object"}}], answers=answers
    )
    CALLS.clear()

    async def run() -> list[Any]:
        return [
            await runner.run("get_weather", '{"city": "Paris"}'),  # a live function: it runs
            await runner.run("f", "{}"),  # a definition only: the recording answers
            await runner.run("f", "{}", enabled=False),  # switched off stays off
            await runner.run("nope", "{}"),
        ]

    try:
        live, recorded, off, unknown = asyncio.run(run())
    finally:
        runner.close()
    assert live.source == "function" and json.loads(live.output)["sky"] == "sunny" and len(CALLS) == 1
    assert (recorded.source, recorded.output, recorded.origin) == (
        "recording",
        "F",
        {"call_id": "c2", "matched": "arguments"},
    )
    assert off.status == "disabled" and unknown.status == "unknown" and "no tool named nope" in str(unknown.error)
    broken = ToolRunner([{"type": "function", "name": "f", "parameters": {"type": "object"}}], answers=Broken())
    outcome = asyncio.run(broken.run("f", "{}"))
    assert outcome.status == "error" and "answering f failed: KeyError" in str(outcome.error)
    with pytest.raises(ValueError, match="answer"):
        ToolRunner(answers=object())  # type: ignore[arg-type]


def test_live_tools_replace_the_recorded_definitions() -> None:
    recorded = {"type": "function", "name": "get_weather", "description": "old", "parameters": {"type": "object"}}
    other = {"type": "function", "name": "get_time", "parameters": {"type": "object"}}

    def get_news(topic: str) -> str:
        """News."""
        return ""

    config = with_live_tools(SessionConfig(tools=(recorded, other)), [get_weather, get_news])
    assert config.tool_names == ("get_weather", "get_time", "get_news")
    assert config.to_dict()["tools"][0]["description"] == "The weather now in a city."


# ---------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def tool_emulator() -> Iterator[ConnectionSettings]:
    from voicelive_nb.emulator import Emulator
    from voicelive_nb.emulator.settings import EmulatorSettings

    with Emulator(settings=EmulatorSettings(realtime_factor=8.0)) as emu:  # default responder: the tool rule
        yield ConnectionSettings(endpoint=emu.endpoint, api_key="test-key")


@pytest.fixture(scope="module")
def recorded(tool_emulator: ConnectionSettings, tmp_path_factory: pytest.TempPathFactory) -> Recording:
    """A recorded session: a spoken weather question, the call, its output, the spoken answer."""
    pcm, _ = speech_pcm([0.3, "What is the weather in Paris?", 3.0])
    folder = tmp_path_factory.mktemp("tools") / "original"
    config = SessionConfig(transcription_model="whisper-1")
    session = VoiceSession(config, connection=tool_emulator, mic=WavMic(pcm), speaker=CaptureSpeaker(),
                           tools=[get_weather], record=folder)  # fmt: skip
    with session:
        result = session.wait_for(Local.TOOL_RESULT, timeout=40, since=0)
        answer = session.wait_for("response.audio_transcript.done", timeout=30, since=result.t,
                                  predicate=lambda r: bool(r.data.get("transcript")))  # fmt: skip
        session.wait_for(Local.PLAYBACK_STOPPED, timeout=30, since=answer.t)
    assert "sunny" in answer.data["transcript"] and result.data["source"] == "function"
    return Recording.load(folder)


def spoken(rec: Recording) -> list[str]:
    return [str(e["data"].get("transcript")) for e in rec.other_events if e["type"] == "response.audio_transcript.done"]


def results(rec: Recording) -> list[dict[str, Any]]:
    return [e["data"] for e in rec.other_events if e["type"] == Local.TOOL_RESULT]


def sent_outputs(rec: Recording) -> list[dict[str, Any]]:
    items = [e["data"]["item"] for e in rec.other_events if e["type"] == "conversation.item.create"]
    return [i for i in items if i.get("type") == "function_call_output"]


def test_a_replay_answers_the_call_from_the_recording(
    recorded: Recording, tool_emulator: ConnectionSettings, tmp_path: Path
) -> None:
    [original] = results(recorded)
    CALLS.clear()
    result = replay(recorded, connection=tool_emulator, out=tmp_path / "replay")
    [answered] = results(result)
    [output] = sent_outputs(result)
    # the replay's own call (its own call_id) got the recorded output; no function ran
    assert answered["source"] == "recording" and answered["status"] == "ok" and CALLS == []
    assert answered["origin"] == {"call_id": original["call_id"], "matched": "arguments"}
    assert output["call_id"] == answered["call_id"] != original["call_id"]
    assert (
        json.loads(output["output"])
        == json.loads(original["output"])
        == {"sky": "sunny", "temperature": 21, "city": "Paris"}
    )
    # and the spoken answer uses it
    assert any("sunny" in text and "21" in text for text in spoken(result)), spoken(result)
    assert not [e for e in result.other_events if e["type"] == Local.ERROR and e["data"].get("where") == "tool"]
    note = json.loads((tmp_path / "replay" / "session.json").read_text())["replay"]["tools"]
    assert note == {"live": [], "recorded_answers": True, "answered": [answered["origin"]]}


def test_a_replay_can_rerun_the_calls_with_live_functions(
    recorded: Recording, tool_emulator: ConnectionSettings, tmp_path: Path
) -> None:
    ran: list[str] = []

    def get_weather(city: str) -> dict[str, Any]:
        """The weather now in a city."""
        ran.append(city)
        return {"sky": "rainy", "temperature": 9, "city": city}

    result = replay(recorded, connection=tool_emulator, out=tmp_path / "live", tools=[get_weather])
    [answered] = results(result)
    assert ran == ["Paris"] and answered["source"] == "function" and "origin" not in answered
    assert json.loads(answered["output"])["sky"] == "rainy"
    assert any("rainy" in text and "9" in text for text in spoken(result)), spoken(result)
    # without recorded answers and without a function, the model is told no tool is there
    bare = replay(recorded, connection=tool_emulator, out=tmp_path / "bare", recorded_answers=False)
    [refused] = results(bare)
    assert refused["status"] == "unknown" and "no tool named get_weather" in refused["error"]
