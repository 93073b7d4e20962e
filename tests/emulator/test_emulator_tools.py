"""Function calls in the emulator: the default rule, the event sequence (parsed by the SDK),
outputs and their errors, sans-I/O and over the real SDK."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from azure.ai.voicelive import models as m
from azure.ai.voicelive.models import ServerEvent

from tests.emulator.client import session
from tests.emulator.test_emulator_core import EXPECTED_CLASS, Driver, types
from voicelive_nb.emulator import Emulator, EmulatorSettings
from voicelive_nb.emulator.core import Conversation
from voicelive_nb.emulator.responder import default_responder
from voicelive_nb.emulator.settings import EmulatorSettings as Settings
from voicelive_nb.emulator.tools import ToolCall, answer_from_outputs, choose_calls, fill_arguments, name_words
from voicelive_nb.emulator.vad import EnergyModel
from voicelive_nb.emulator.wire import Ids

TOOL_CLASSES = {
    **EXPECTED_CLASS,
    "response.function_call_arguments.delta": m.ServerEventResponseFunctionCallArgumentsDelta,
    "response.function_call_arguments.done": m.ServerEventResponseFunctionCallArgumentsDone,
}

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city"],
    },
}
TIME = {
    "type": "function",
    "name": "get_time",
    "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]},
}


def ask(d: Driver, text: str) -> None:
    d.send(
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]},
        }
    )
    d.send({"type": "response.create", "event_id": "evt_ask"})


def respond(d: Driver) -> list[dict[str, Any]]:
    """Serve the oldest pending Generate the way the server does, with the default responder."""
    job = d.pending.pop(0)
    session = {**job.session, "emulator": {"tool_outputs": job.tool_outputs, "mcp_tools": job.mcp_tools}}
    reply = default_responder(job.known_text, session)
    if isinstance(reply, list):
        return d.handle(d.conv.set_response_calls(job.response_id, reply))
    d.pending.insert(0, job)
    return d.generate(text=str(reply))


@pytest.fixture
def d() -> Driver:
    conv = Conversation(Settings(), EnergyModel(), ids=Ids(7))
    drv = Driver(conv)
    drv.send({"type": "session.update", "session": {"tools": [WEATHER, TIME], "turn_detection": None}})
    return drv


def test_a_question_leads_to_a_call_and_the_output_to_a_spoken_answer(d: Driver) -> None:
    ask(d, "What's the weather in Paris?")
    events = respond(d)
    deltas = types(events).count("response.function_call_arguments.delta")
    assert deltas >= 1 and types(events) == [
        "response.output_item.added",
        "conversation.item.created",
        *["response.function_call_arguments.delta"] * deltas,
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.done",
    ]
    for ev in d.events:  # every event, old and new, is what the SDK expects
        assert type(ServerEvent._deserialize(ev, [])) is TOOL_CLASSES[ev["type"]], ev["type"]
    done = events[-3]
    assert done["name"] == "get_weather" and json.loads(done["arguments"]) == {"city": "Paris"}
    assert "".join(e["delta"] for e in events if e["type"].endswith("arguments.delta")) == done["arguments"]
    response = events[-1]["response"]
    assert response["status"] == "completed" and [o["type"] for o in response["output"]] == ["function_call"]
    assert response["output"][0]["call_id"] == done["call_id"] and d.conv.active is None
    typed = ServerEvent._deserialize(events[-1], [])
    assert isinstance(typed.response.output[0], m.ResponseFunctionCallItem)

    output = {"type": "function_call_output", "call_id": done["call_id"], "output": '{"sky": "sunny", "c": 21}'}
    created = d.send({"type": "conversation.item.create", "item": output})
    assert types(created) == ["conversation.item.created"] and created[0]["item"]["call_id"] == done["call_id"]
    d.send({"type": "response.create"})
    assert d.pending[0].tool_outputs == [
        {"call_id": done["call_id"], "name": "get_weather", "arguments": '{"city":"Paris"}', "output": output["output"]}
    ]
    spoken = respond(d)
    transcript = next(e["transcript"] for e in spoken if e["type"] == "response.audio_transcript.done")
    assert transcript == "Get weather says: sky sunny, c 21."
    assert spoken[-1]["response"]["output"][0]["type"] == "message"


def test_output_errors_and_a_second_response(d: Driver) -> None:
    ask(d, "weather in Oslo")
    call_id = respond(d)[-3]["call_id"]
    unknown = d.send(
        {
            "type": "conversation.item.create",
            "event_id": "e1",
            "item": {"type": "function_call_output", "call_id": "call_nope", "output": "x"},
        }
    )
    assert unknown[0]["error"]["code"] == "invalid_tool_call_id" and unknown[0]["error"]["event_id"] == "e1"
    assert "call_nope" in unknown[0]["error"]["message"]
    bad = d.send({"type": "conversation.item.create", "item": {"type": "function_call_output", "call_id": call_id}})
    assert bad[0]["error"]["param"] == "item.output"
    ok = d.send(
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": call_id, "output": "rain"},
        }
    )
    assert types(ok) == ["conversation.item.created"]
    again = d.send(
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": call_id, "output": "x"},
        }
    )
    assert again[0]["error"]["code"] == "invalid_tool_call_id" and "not pending" in again[0]["error"]["message"]
    d.send({"type": "response.create"})
    second = d.send({"type": "response.create", "event_id": "e2"})
    assert second[0]["error"]["code"] == "conversation_already_has_active_response"
    assert second[0]["error"]["event_id"] == "e2"


@pytest.mark.parametrize(
    ("choice", "parallel", "text", "called"),
    [
        ("auto", None, "weather and time please", ["get_weather", "get_time"]),
        ("auto", False, "weather and time please", ["get_weather"]),
        ("auto", None, "tell me a joke", []),
        ("none", None, "weather in Rome", []),
        ("required", None, "tell me a joke", ["get_weather"]),
        ({"type": "function", "name": "get_time"}, None, "weather in Rome", ["get_time"]),
    ],
)
def test_the_rule_follows_tool_choice_and_parallel_calls(
    choice: Any, parallel: bool | None, text: str, called: list[str]
) -> None:
    session: dict[str, Any] = {"tools": [WEATHER, TIME], "tool_choice": choice}
    if parallel is not None:
        session["parallel_tool_calls"] = parallel
    assert [c.name for c in choose_calls(text, session)] == called


def test_arguments_are_filled_from_the_words() -> None:
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer"},
            "metric": {"type": "boolean"},
        },
        "required": ["city", "days"],
    }
    assert fill_arguments(schema, "Forecast for New York in fahrenheit for three days. Thanks") == {
        "city": "three days",
        "unit": "fahrenheit",
        "days": 3,
        "metric": True,
    }
    assert fill_arguments(schema, "city Lisbon, 5 days, not metric") == {
        "city": "Lisbon 5 days not metric",
        "days": 5,
        "metric": False,
    }
    assert name_words("getWeatherForecast") == ["weather", "forecast"] and name_words("set_alarm") == ["alarm"]
    assert (
        answer_from_outputs([{"name": "get_weather", "output": '{"error": "boom"}'}])
        == "Sorry, get weather failed: boom."
    )


def test_calls_from_a_responder_over_the_sdk() -> None:
    seen: list[dict[str, Any]] = []

    def responder(transcript: str | None, session: dict[str, Any]) -> Any:
        seen.append(session["emulator"])
        if session["emulator"]["tool_outputs"]:
            return "It is " + session["emulator"]["tool_outputs"][0]["output"]
        return ToolCall("get_time", {"zone": "UTC"})

    settings = EmulatorSettings(realtime_factor=0, time_to_first_audio_ms=0)
    with Emulator(settings=settings, asr=False, responder=responder) as emu:

        async def run() -> None:
            async with session(emu.endpoint) as c:
                await c.update(tools=[WEATHER, TIME], turn_detection=None)
                await c.conn.conversation.item.create(
                    item=m.MessageItem(role="user", content=[m.InputTextContentPart(text="hi")])
                )
                await c.conn.response.create()
                done = (await c.wait_for("response.function_call_arguments.done")).event
                assert isinstance(done, m.ServerEventResponseFunctionCallArgumentsDone)
                assert done.name == "get_time" and json.loads(done.arguments) == {"zone": "UTC"}
                first = await c.wait_for("response.done")
                assert first.event.response.output[0].call_id == done.call_id
                await c.conn.conversation.item.create(
                    item=m.FunctionCallOutputItem(call_id=done.call_id, output="noon")
                )
                await c.conn.response.create()
                text = await c.wait_for("response.audio_transcript.done", after=c.types().index("response.done") + 1)
                assert text.event.transcript == "It is noon"

        asyncio.run(asyncio.wait_for(run(), 60))
    assert seen[1]["tool_outputs"][0]["name"] == "get_time" and seen[1]["tool_outputs"][0]["output"] == "noon"
