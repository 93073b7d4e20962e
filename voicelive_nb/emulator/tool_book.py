"""The conversation's tool state, sans-I/O: calls made, outputs given, MCP servers and approvals.

:class:`ToolBook` is owned by :class:`~voicelive_nb.emulator.core.Conversation`.  It
checks the client's ``function_call_output`` and ``mcp_approval_response`` items the way
the service does (raising :class:`ToolItemError`, which the core turns into an ``error``
event), turns the responder's :class:`~voicelive_nb.emulator.tools.ToolCall` objects into
output items of a response, and keeps what the MCP servers listed.

Errors (codes as OpenAI Realtime gives them; Voice Live documents none):

* ``function_call_output`` whose ``call_id`` no ``function_call`` item of the
  conversation carries: ``invalid_tool_call_id`` "Tool call ID '...' not found in
  conversation.";
* a second output for a call (the call is not pending): ``invalid_tool_call_id``
  "... already has an output" (an assumption: the service's wording is not documented);
* ``mcp_approval_response`` for an unknown or already answered request: ``invalid_value``
  on ``item.approval_request_id``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from voicelive_nb.emulator.tools import ToolCall, function_tools
from voicelive_nb.emulator.wire import Ids

__all__ = ["CallRecord", "ToolBook", "ToolItemError", "mcp_servers", "needs_approval"]


class ToolItemError(ValueError):
    """A tool-related client item is wrong (code, message, param as in an ``error`` event)."""

    def __init__(self, code: str, message: str, param: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param


@dataclass
class CallRecord:
    """One ``function_call`` the emulated model made."""

    call_id: str
    item_id: str
    name: str
    arguments: str
    output: str | None = None


@dataclass
class ToolBook:
    """See the module docstring."""

    ids: Ids
    calls: dict[str, CallRecord] = field(default_factory=dict)
    approvals: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Approval requests by id: ``server_label``, ``name``, ``arguments``, ``approve`` (None: pending)."""
    answered_approvals: list[dict[str, Any]] = field(default_factory=list)
    """Approval answers not yet acted on by a response."""
    listed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """MCP tools by server label (after ``allowed_tools``)."""
    list_items: dict[str, str] = field(default_factory=dict)
    """``mcp_list_tools`` item id by server label."""

    # --- MCP servers ---------------------------------------------------------------------------

    def servers_to_list(self, session: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """(new item id, server) for each MCP server of ``session`` not listed yet."""
        out = []
        for server in mcp_servers(session):
            label = str(server["server_label"])
            if label in self.list_items:
                continue
            item_id = self.ids.new("item")
            self.list_items[label] = item_id
            out.append((item_id, server))
        return out

    def list_item(self, item_id: str) -> dict[str, Any] | None:
        """The ``mcp_list_tools`` item with this id, tools as listed so far."""
        label = next((lbl for lbl, iid in self.list_items.items() if iid == item_id), None)
        if label is None:
            return None
        tools = [{k: v for k, v in t.items() if k != "server_label"} for t in self.listed.get(label, [])]
        return {
            "id": item_id,
            "object": "realtime.item",
            "type": "mcp_list_tools",
            "server_label": label,
            "tools": tools,
        }

    def tools_listed(self, item_id: str, tools: list[dict[str, Any]], session: Mapping[str, Any]) -> None:
        """Keep the tools a server listed (only its ``allowed_tools``, when given)."""
        label = next((lbl for lbl, iid in self.list_items.items() if iid == item_id), None)
        server = next((s for s in mcp_servers(session) if s["server_label"] == label), None)
        if label is None or server is None:
            return
        allowed = server.get("allowed_tools")
        keep = [t for t in tools if not allowed or t.get("name") in allowed]
        self.listed[label] = [{**t, "server_label": label} for t in keep]

    def mcp_tools(self, session: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The listed tools of the MCP servers the session still has, in server order."""
        return [t for s in mcp_servers(session) for t in self.listed.get(str(s["server_label"]), [])]

    # --- calls the model makes -------------------------------------------------------------------

    def resolve(self, calls: list[ToolCall], session: Mapping[str, Any]) -> list[tuple[str, ToolCall, Any]]:
        """Sort a responder's calls into ``("function" | "mcp" | "approval", call, server)``.

        Raises ValueError naming a tool the session does not have.
        """
        functions = {str(t["name"]) for t in function_tools(session)}
        servers = {str(s["server_label"]): s for s in mcp_servers(session)}
        out: list[tuple[str, ToolCall, Any]] = []
        for call in calls:
            if call.server_label is None and call.name in functions:
                out.append(("function", call, None))
                continue
            label = call.server_label or next(
                (lbl for lbl, tools in self.listed.items() if any(t.get("name") == call.name for t in tools)), None
            )
            server = servers.get(label) if label else None
            if server is None:
                known = sorted(functions) + [t["name"] for t in self.mcp_tools(session)]
                raise ValueError(f"the responder called {call.name!r}, which the session does not offer {known}")
            call = ToolCall(call.name, call.arguments, str(label), call.approval_request_id)
            approved = call.approval_request_id is not None
            kind = "approval" if needs_approval(server, call.name) and not approved else "mcp"
            out.append((kind, call, server))
        return out

    def new_call(self, item_id: str, call: ToolCall) -> CallRecord:
        """Note a function call the model makes; returns its record (with a fresh call_id)."""
        record = CallRecord(self.ids.new("call", 16), item_id, call.name, call.arguments_json)
        self.calls[record.call_id] = record
        return record

    def new_approval(self, item_id: str, call: ToolCall) -> None:
        """Note an approval request the model makes."""
        self.approvals[item_id] = {
            "server_label": call.server_label,
            "name": call.name,
            "arguments": call.arguments_json,
            "approve": None,
        }

    # --- client items ------------------------------------------------------------------------------

    def function_output(self, item: Mapping[str, Any]) -> CallRecord:
        """Check and note a ``function_call_output`` item; returns the call it answers."""
        call_id = item.get("call_id")
        if not isinstance(call_id, str) or not call_id:
            raise ToolItemError("missing_required_parameter", "function_call_output needs a 'call_id'.", "item.call_id")
        output = item.get("output")
        if not isinstance(output, str):
            raise ToolItemError("invalid_type", "function_call_output 'output' must be a string.", "item.output")
        record = self.calls.get(call_id)
        if record is None:
            raise ToolItemError(
                "invalid_tool_call_id", f"Tool call ID '{call_id}' not found in conversation.", "item.call_id"
            )
        if record.output is not None:
            raise ToolItemError(
                "invalid_tool_call_id",
                f"Tool call ID '{call_id}' already has an output; the call is not pending.",
                "item.call_id",
            )
        record.output = output
        return record

    def approval_response(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """Check and note an ``mcp_approval_response`` item; returns the answered request."""
        rid = item.get("approval_request_id")
        approve = item.get("approve")
        if not isinstance(approve, bool):
            raise ToolItemError(
                "invalid_type", "mcp_approval_response 'approve' must be true or false.", "item.approve"
            )
        request = self.approvals.get(rid) if isinstance(rid, str) else None
        if request is None or request["approve"] is not None:
            state = "not found" if request is None else "already answered"
            raise ToolItemError(
                "invalid_value",
                f"MCP approval request {rid!r} {state}; answer each mcp_approval_request item once.",
                "item.approval_request_id",
            )
        request["approve"] = approve
        answer = {**request, "approval_request_id": rid}
        self.answered_approvals.append(answer)
        return answer

    def take_approvals(self) -> list[dict[str, Any]]:
        """The approval answers a new response acts on (each once)."""
        out, self.answered_approvals = self.answered_approvals, []
        return out

    def outputs_for(self, items: list[Any]) -> list[dict[str, Any]]:
        """Function outputs among ``items`` (the conversation after the last user item)."""
        out = []
        for it in items:
            data = it.data
            if data.get("type") == "function_call_output":
                record = self.calls.get(str(data.get("call_id")))
                out.append(
                    {
                        "call_id": data.get("call_id"),
                        "name": record.name if record else None,
                        "arguments": record.arguments if record else None,
                        "output": data.get("output"),
                    }
                )
        return out

    def forget(self, keep_item_ids: set[str]) -> None:
        """Drop calls whose items were forgotten (bounded memory)."""
        for cid, rec in list(self.calls.items()):
            if rec.item_id not in keep_item_ids:
                del self.calls[cid]
        for rid in list(self.approvals):
            if rid not in keep_item_ids and self.approvals[rid]["approve"] is not None:
                del self.approvals[rid]


def mcp_servers(session: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The session's ``mcp`` tool entries (with a label and a URL), in order."""
    tools = session.get("tools") or []
    return [
        dict(t)
        for t in tools
        if isinstance(t, Mapping) and t.get("type") == "mcp" and t.get("server_label") and t.get("server_url")
    ]


def needs_approval(server: Mapping[str, Any], name: str) -> bool:
    """Whether calling ``name`` on ``server`` waits for the client's approval.

    ``require_approval``: ``"always"`` (the default, as Voice Live documents), ``"never"``,
    or a per-tool dict ``{"always": [names], "never": [names]}`` (tools in neither list: always).
    """
    rule = server.get("require_approval", "always")
    if rule is None or rule == "always":
        return True
    if rule == "never":
        return False
    if isinstance(rule, Mapping):
        never = rule.get("never") or []
        if isinstance(never, Mapping):  # OpenAI's {"never": {"tool_names": [...]}}
            never = never.get("tool_names") or []
        return name not in never
    return True


def parse_arguments(text: str) -> dict[str, Any]:
    """A call's JSON arguments as a dict ({} when not an object)."""
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
