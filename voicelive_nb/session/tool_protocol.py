"""Sans-I/O bookkeeping of tool calls for :class:`~voicelive_nb.session.protocol.SessionProtocol`.

:class:`ToolCalls` knows which function calls each response made, which got their output
and whether the response is done; it returns the client events to send (dicts) and the
actions :class:`RunTool` / :class:`ApproveMcp`.  The rules (Voice Live follows OpenAI
Realtime here):

* every ``response.function_call_arguments.done`` is a call to run (once per ``call_id``);
* each output goes out at once as a ``function_call_output`` item with the call's
  ``call_id`` (the service accepts it while the response is still finishing);
* once every call of a response has its output *and* the response is done, one
  ``response.create`` asks the model to answer with them (parallel calls: one create);
* no ``response.create`` when the user has taken the turn: a response that did not
  complete (``cancelled`` by the user's speech -- ``interrupt_response`` -- or by
  ``response.cancel``; ``incomplete``, ``failed``), or user speech that started after
  the response was created while the server answers turns by itself (turn detection
  with ``create_response``, the default).  The outputs are still sent: they are in the
  conversation when the server's response to the user's new turn is generated, which is
  how the model gets to use them (a create of ours would answer over the user, or race
  that response and be refused with ``conversation_already_has_active_response``).
  Nor while another response already runs;
* a ``conversation_already_has_active_response`` error answering that create is benign;
* an ``mcp_approval_request`` item asks for an approval (:class:`ApproveMcp`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ApproveMcp", "RunTool", "ToolCalls"]


@dataclass(frozen=True, slots=True)
class RunTool:
    """Run the function the model called; report its output to ``SessionProtocol.tool_output``."""

    call_id: str
    name: str
    arguments: str
    response_id: str
    item_id: str


@dataclass(frozen=True, slots=True)
class ApproveMcp:
    """The service asks whether it may call an MCP tool: answer with ``SessionProtocol.mcp_approval``."""

    approval_request_id: str
    server_label: str
    name: str
    arguments: str


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class ToolCalls:
    """See the module docstring.

    Args:
        next_event_id: Makes a fresh client ``event_id``.
    """

    def __init__(self, next_event_id: Callable[[], str]) -> None:
        self._next_id = next_event_id
        self._calls: dict[str, dict[str, bool]] = {}  # response id -> {call_id: output sent}
        self._call_response: dict[str, str] = {}  # call_id -> response id
        self._done: dict[str, str] = {}  # response id -> final status, for responses with calls
        self._creates: set[str] = set()  # event ids of our response.create after tool outputs
        self._user_turn: set[str] = set()  # responses with calls the user spoke after
        self.skipped_creates = 0
        """Responses whose calls all got outputs but no ``response.create`` (the user took the turn)."""
        self.pending = 0
        """Calls whose output was not sent yet."""

    def arguments_done(self, event: Mapping[str, Any], active_response_id: str | None) -> RunTool | str | None:
        """A call to run, None (a repeated event), or a problem in words."""
        call_id = _str(event.get("call_id"))
        name = _str(event.get("name"))
        if call_id is None or name is None:
            return "The server sent a function call without call_id or name; it was ignored."
        if call_id in self._call_response:
            return None
        rid = _str(event.get("response_id")) or active_response_id or "?"
        self._calls.setdefault(rid, {})[call_id] = False
        self._call_response[call_id] = rid
        self.pending += 1
        arguments = event.get("arguments")
        text = arguments if isinstance(arguments, str) else "{}"
        return RunTool(call_id, name, text, rid, _str(event.get("item_id")) or "?")

    def output(self, call_id: str, output: str, active_response_id: str | None) -> list[dict[str, Any]]:
        """The events that send a call's output (nothing for an unknown or answered call)."""
        rid = self._call_response.get(call_id)
        calls = self._calls.get(rid) if rid is not None else None
        if rid is None or calls is None or calls.get(call_id) is not False:
            return []
        calls[call_id] = True
        self.pending = max(0, self.pending - 1)
        item = {"type": "function_call_output", "call_id": call_id, "output": output}
        events = [{"type": "conversation.item.create", "event_id": self._next_id(), "item": item}]
        return events + self._maybe_respond(rid, active_response_id)

    def response_done(self, rid: str, status: Any, active_response_id: str | None) -> list[dict[str, Any]]:
        """A response ended: the ``response.create`` to send if its calls are all answered."""
        if rid not in self._calls:
            return []
        self._done[rid] = str(status or "completed")
        return self._maybe_respond(rid, active_response_id)

    def _maybe_respond(self, rid: str, active_response_id: str | None) -> list[dict[str, Any]]:
        calls = self._calls.get(rid, {})
        status = self._done.get(rid)
        if status is None or not all(calls.values()):
            return []
        for call_id in calls:
            self._call_response.pop(call_id, None)
        del self._calls[rid]
        del self._done[rid]
        user_spoke = rid in self._user_turn
        self._user_turn.discard(rid)
        if status != "completed" or user_spoke:
            self.skipped_creates += 1
            return []
        if active_response_id is not None:
            return []
        event_id = self._next_id()
        self._creates.add(event_id)
        return [{"type": "response.create", "event_id": event_id}]

    def user_spoke(self, server_responds: bool) -> None:
        """``input_audio_buffer.speech_started``: with ``server_responds`` (turn detection
        creates a response at the end of the user's turn), no response whose calls are still
        open gets a ``response.create`` of ours (the server's response answers)."""
        if server_responds:
            self._user_turn.update(self._calls)

    def response_created(self) -> None:
        """A response started: our earlier create (if any) was taken."""
        self._creates.clear()

    def benign_create_error(self, event_id: str | None) -> bool:
        """True if an "already has an active response" error answers our tool-output create."""
        if event_id is not None and event_id in self._creates:
            self._creates.discard(event_id)
            return True
        return False

    def approval_request(self, event: Mapping[str, Any]) -> ApproveMcp | str | None:
        """For ``conversation.item.created``: the approval asked for, if the item is a request."""
        item = event.get("item")
        if not isinstance(item, Mapping) or item.get("type") != "mcp_approval_request":
            return None
        rid = _str(item.get("id"))
        if rid is None:
            return "The server asked to approve an MCP call without an id; it was ignored."
        args = item.get("arguments")
        label = str(item.get("server_label") or "?")
        return ApproveMcp(rid, label, str(item.get("name") or "?"), args if isinstance(args, str) else "")

    def approval_response(self, approval_request_id: str, approve: bool) -> dict[str, Any]:
        """The event answering an MCP approval request."""
        item = {"type": "mcp_approval_response", "approval_request_id": approval_request_id, "approve": bool(approve)}
        return {"type": "conversation.item.create", "event_id": self._next_id(), "item": item}

    def reset(self) -> None:
        """A new connection: forget every call (its conversation does not know them)."""
        self._calls.clear()
        self._call_response.clear()
        self._done.clear()
        self._creates.clear()
        self._user_turn.clear()
        self.pending = 0
