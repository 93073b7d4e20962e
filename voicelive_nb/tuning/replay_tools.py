"""Tool calls in a replay: answered from the recording, or run again by live functions.

A recording keeps each function call the model made (``tool.call``: name, arguments) and
how it was answered (``tool.result``: output, status, error).  A recording's config keeps
only the tools' definitions, not the Python functions, so a replay
(:func:`voicelive_nb.tuning.replay.replay`) answers the calls the new session's model makes
from the recording, by default:

* a call is matched to a recorded call of the **same tool name** with **the same
  arguments** (compared as JSON values: key order and spacing do not matter), the first
  one not used yet (``matched: "arguments"``);
* else to the **next recorded call of that name not used yet, in the order the calls were
  made** (``matched: "order"``: the replay's model asked with other arguments, e.g. the
  question was cut differently);
* else, every recorded call of that name being used, the one with the same arguments or,
  failing that, the last one is repeated (``matched: "repeat"``);
* a name the recording never called gets no answer: the call gets the usual error output
  ("no tool named X is available here").

The answer is the recorded output as it was sent (an error output stays an error, with
its status: ``error``, ``timeout`` ...); the new recording's ``tool.result`` says
``source: "recording"`` and ``origin`` (the recorded ``call_id`` and how it matched).
Recorded outputs are cut at 4000 characters (as ``tool.result`` stores them); a longer
output is replayed cut.  MCP calls are not the client's to answer: the service (or the
emulator) calls the MCP server again.

``replay(..., tools=[fn, ...])`` re-runs those functions instead (their definitions replace
the recorded ones of the same name; new names are added); calls to other recorded tools
are still answered from the recording unless ``recorded_answers=False``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from voicelive_nb.events import Local
from voicelive_nb.session.tools import ToolOutcome

if TYPE_CHECKING:
    from voicelive_nb.config import SessionConfig
    from voicelive_nb.recording.recording import Recording

__all__ = ["RecordedAnswers", "RecordedCall", "recorded_calls", "with_live_tools"]


@dataclass(frozen=True)
class RecordedCall:
    """One function call of a recording and how it was answered."""

    call_id: str
    name: str
    arguments: str
    output: str
    status: str
    error: str | None


def recorded_calls(events: Iterable[Mapping[str, Any]]) -> list[RecordedCall]:
    """The answered function calls of a recording's records (``Recording.other_events``), in
    the order the model made them (a call without its ``tool.call`` record: after, in the
    order of the answers)."""
    arguments: dict[str, tuple[int, str]] = {}  # call_id -> (order of the call, arguments)
    answered: list[tuple[int, RecordedCall]] = []
    for event in events:
        data = event.get("data") or {}
        call_id = data.get("call_id")
        if not isinstance(call_id, str):
            continue
        if event.get("type") == Local.TOOL_CALL and data.get("kind", "function") == "function":
            args = data.get("arguments")
            arguments.setdefault(call_id, (len(arguments), args if isinstance(args, str) else "{}"))
        elif event.get("type") == Local.TOOL_RESULT:
            order, args = arguments.get(call_id, (len(arguments) + len(answered) + 1_000_000, "{}"))
            error = data.get("error")
            call = RecordedCall(
                call_id,
                str(data.get("name") or "?"),
                args,
                str(data.get("output") or ""),
                str(data.get("status") or ("ok" if data.get("ok") else "error")),
                str(error) if error is not None else None,
            )
            answered.append((order, call))
    answered.sort(key=lambda pair: pair[0])
    return [call for _, call in answered]


def _canonical(arguments: str) -> Any:
    try:
        return json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return arguments.strip()


class RecordedAnswers:
    """Answers a replay's function calls from a recording's calls (the module docstring has
    the matching rules); a :class:`~voicelive_nb.session.tools.ToolAnswers`.

    Args:
        calls: The recorded calls, in the order they were made.
    """

    def __init__(self, calls: Iterable[RecordedCall]) -> None:
        self.calls = list(calls)
        self._keys = [_canonical(c.arguments) for c in self.calls]
        self._used = [False] * len(self.calls)
        self.answered: list[tuple[str, str]] = []
        """(recorded call_id, matched) of every answer given, in order."""

    @classmethod
    def from_recording(cls, recording: Recording) -> RecordedAnswers:
        """The answers of a loaded recording."""
        return cls(recorded_calls(recording.other_events))

    @property
    def names(self) -> list[str]:
        """The tools the recording called, each once, in order."""
        return list(dict.fromkeys(c.name for c in self.calls))

    def answer(self, name: str, arguments: str) -> ToolOutcome | None:
        """The recorded outcome for this call, or None if the recording never called ``name``."""
        same = [i for i, c in enumerate(self.calls) if c.name == name]
        if not same:
            return None
        key = _canonical(arguments)
        fresh = [i for i in same if not self._used[i]]
        exact = [i for i in same if self._keys[i] == key]
        pick = next((i for i in fresh if i in exact), None)
        matched = "arguments"
        if pick is None and fresh:
            pick, matched = fresh[0], "order"
        if pick is None:
            pick, matched = (exact or same)[-1], "repeat"
        self._used[pick] = True
        call = self.calls[pick]
        self.answered.append((call.call_id, matched))
        now = time.monotonic()
        origin = {"call_id": call.call_id, "matched": matched}
        return ToolOutcome(call.output, call.status, call.error, now, now, source="recording", origin=origin)


def with_live_tools(config: SessionConfig, tools: Sequence[Any]) -> SessionConfig:
    """``config`` whose tools of the same names are replaced by ``tools`` (functions, ``@tool``
    objects or tool dicts), the others added after them."""
    from voicelive_nb.tool_config import tool_definition, tool_name

    live = {tool_name(tool_definition(t)): t for t in tools}
    kept = []
    for t in config.tools:
        name = tool_name(tool_definition(t))
        kept.append(live.pop(name, t))
    return config.replace(tools=(*kept, *live.values()))
