"""Conversation items and tool calls of the emulated session (a mixin of the core).

:class:`ItemsMixin` holds the :class:`~voicelive_nb.emulator.core.Conversation` handlers of
``conversation.item.*`` client events (including ``function_call_output`` and
``mcp_approval_response`` items, checked by :class:`~voicelive_nb.emulator.tool_book.ToolBook`)
and the entry points the I/O shell calls with a response's tool calls and MCP results.
Sans-I/O like the core: events and effects out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from voicelive_nb.emulator.effects import CallMcp, ListMcpTools, Output
from voicelive_nb.emulator.responses import ResponseRun
from voicelive_nb.emulator.tool_book import ToolBook, ToolItemError, parse_arguments
from voicelive_nb.emulator.tools import ToolCall
from voicelive_nb.emulator.wire import Ids


@dataclass
class _Item:
    id: str
    role: str
    data: dict[str, Any]
    audio_ms: float = 0.0
    text: str | None = None
    run: ResponseRun | None = None


class ItemsMixin:
    """Item handlers and tool-call entry points of :class:`~voicelive_nb.emulator.core.Conversation`."""

    ids: Ids
    items: list[_Item]
    runs: dict[str, ResponseRun]
    active: ResponseRun | None
    session: dict[str, Any]
    book: ToolBook

    if TYPE_CHECKING:  # provided by Conversation

        def _stamp(self, events: list[dict[str, Any]]) -> list[Output]: ...

        def _error(self, code: str, message: str, param: str | None = None, client_id: str | None = None) -> Output: ...

        def _create_response(self, params: dict[str, Any], cid: str | None) -> list[Output]: ...

        def _finish_active(self, events: list[dict[str, Any]]) -> list[Output]: ...

        def fail_response(self, response_id: str, code: str, message: str) -> list[Output]: ...

    # --- MCP servers ---------------------------------------------------------------------------

    def _list_new_mcp_servers(self) -> list[Output]:
        """For each MCP server the session gained: its ``mcp_list_tools`` item, in progress."""
        out: list[Output] = []
        for item_id, server in self.book.servers_to_list(self.session):
            item = self.book.list_item(item_id)
            previous = self.items[-1].id if self.items else None
            out += self._stamp(
                [
                    {"type": "conversation.item.created", "previous_item_id": previous, "item": item},
                    {"type": "mcp_list_tools.in_progress", "item_id": item_id},
                ]
            )
            out.append(ListMcpTools(item_id, server))
        return out

    def mcp_tools_listed(
        self, item_id: str, tools: list[dict[str, Any]] | None, error: str | None = None
    ) -> list[Output]:
        """The outcome of a :class:`ListMcpTools` effect: the tools, or None and an error."""
        if tools is None:
            return self._stamp([{"type": "mcp_list_tools.failed", "item_id": item_id}])
        self.book.tools_listed(item_id, tools, self.session)
        return self._stamp([{"type": "mcp_list_tools.completed", "item_id": item_id}])

    def set_response_calls(self, response_id: str, calls: list[ToolCall]) -> list[Output]:
        """The responder's tool calls become output items of response ``response_id``.

        Function calls and approval requests are emitted at once; MCP calls that need no
        approval come back as :class:`CallMcp` effects.  With no MCP call running the
        response ends (``response.done``).  A call to a tool the session does not offer
        fails the response.
        """
        run = self.runs.get(response_id)
        if run is None or not run.active:
            return []
        try:
            resolved = self.book.resolve(calls, self.session)
        except ValueError as exc:
            return self.fail_response(response_id, "server_error", f"tool call failed: {exc}")
        self.items = [it for it in self.items if it.id != run.item_id]  # no message (yet)
        events: list[dict[str, Any]] = []
        effects: list[Output] = []
        for kind, call, server in resolved:
            item_id = self.ids.new("item")
            if kind == "function":
                record = self.book.new_call(item_id, call)
                events += run.function_call_events(item_id, record.call_id, call.name, record.arguments)
            elif kind == "approval":
                self.book.new_approval(item_id, call)
                events += run.approval_request_events(item_id, str(call.server_label), call.name, call.arguments_json)
            else:
                events += run.mcp_call_start_events(
                    item_id, str(call.server_label), call.name, call.arguments_json, call.approval_request_id
                )
                effects.append(CallMcp(response_id, item_id, server, call.name, parse_arguments(call.arguments_json)))
            self.items.append(_Item(item_id, "assistant", events[-1].get("item") or {"id": item_id}))
        self.items.append(_Item(run.item_id, "assistant", {}, run=run))
        out: list[Output] = [*self._stamp(events), *effects]
        if not effects:
            out += self._finish_active(run.complete())
        return out

    def mcp_call_result(self, response_id: str, item_id: str, output: str | None, error: str | None) -> list[Output]:
        """The outcome of a :class:`CallMcp` effect (the output text, or an error)."""
        run = self.runs.get(response_id)
        if run is None:
            return []
        return self._stamp(run.mcp_call_end_events(item_id, output, error))

    def response_speaks_after_calls(self, response_id: str) -> bool:
        """After its MCP calls: True if the response goes on to speak (it made no function
        call and no approval request, which the client must answer first)."""
        run = self.runs.get(response_id)
        if run is None or not run.active:
            return False
        return all(o.get("type") == "mcp_call" for o in run.outputs)

    def finish_calls(self, response_id: str) -> list[Output]:
        """End a response that made tool calls without speaking."""
        run = self.runs.get(response_id)
        return self._finish_active(run.complete()) if run is not None else []

    # --- conversation items --------------------------------------------------------------------

    def _find(self, item_id: Any) -> _Item | None:
        return next((it for it in self.items if it.id == item_id), None)

    def _item_create(self, event: dict[str, Any], cid: str | None) -> list[Output]:
        item = event.get("item")
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            return [
                self._error(
                    "invalid_type", "conversation.item.create needs an 'item' object with a 'type'.", "item", cid
                )
            ]
        if item["type"] in ("function_call_output", "mcp_approval_response"):
            return self._tool_item_create(event, item, cid)
        role = str(item.get("role", "user"))
        if item["type"] == "message" and role not in ("user", "assistant", "system"):
            return [
                self._error(
                    "invalid_value", f"item.role must be user, assistant or system, got {role!r}.", "item.role", cid
                )
            ]
        texts = [c.get("text") or c.get("transcript") or "" for c in item.get("content") or [] if isinstance(c, dict)]
        item_id: str = item["id"] if isinstance(item.get("id"), str) else self.ids.new("item")
        data = {**item, "id": item_id, "object": "realtime.item", "status": "completed", "role": role}
        prev = event.get("previous_item_id") or (self.items[-1].id if self.items else None)
        self.items.append(_Item(item_id, role, data, text=" ".join(t for t in texts if t)))
        return self._stamp([{"type": "conversation.item.created", "previous_item_id": prev, "item": data}])

    def _tool_item_create(self, event: dict[str, Any], item: dict[str, Any], cid: str | None) -> list[Output]:
        approval = None
        try:
            if item["type"] == "function_call_output":
                self.book.function_output(item)
            else:
                approval = self.book.approval_response(item)
        except ToolItemError as exc:
            return [self._error(exc.code, exc.message, exc.param, cid)]
        item_id: str = item["id"] if isinstance(item.get("id"), str) else self.ids.new("item")
        data = {**item, "id": item_id, "object": "realtime.item"}
        if item["type"] == "function_call_output":
            data["status"] = "completed"
        prev = event.get("previous_item_id") or (self.items[-1].id if self.items else None)
        self.items.append(_Item(item_id, "tool", data, text=str(item.get("output") or "")))
        out = self._stamp([{"type": "conversation.item.created", "previous_item_id": prev, "item": data}])
        if approval is not None and self.active is None:  # the service acts on the answer at once
            out += self._create_response({}, None)
        return out

    def _item_truncate(self, event: dict[str, Any], cid: str | None) -> list[Output]:
        item = self._find(event.get("item_id"))
        end = event.get("audio_end_ms")
        if item is None or item.run is None:
            return [
                self._error(
                    "item_not_found", f"No assistant audio item with id {event.get('item_id')!r}.", "item_id", cid
                )
            ]
        if isinstance(end, bool) or not isinstance(end, int):
            return [self._error("invalid_type", f"audio_end_ms must be an integer, got {end!r}.", "audio_end_ms", cid)]
        if event.get("content_index", 0) != 0:
            return [
                self._error("invalid_value", "content_index must be 0 (one audio part per item).", "content_index", cid)
            ]
        try:
            kept = item.run.truncate(end)
        except ValueError as exc:
            return [self._error("invalid_value", f"Audio content of {exc}", "audio_end_ms", cid)]
        item.text = kept
        echo = getattr(self, "echo", None)  # the conversation's server_echo_cancellation
        if echo is not None:
            echo.truncate(item.id, end)
        return self._stamp(
            [{"type": "conversation.item.truncated", "item_id": item.id, "content_index": 0, "audio_end_ms": end}]
        )

    def _item_delete(self, event: dict[str, Any], cid: str | None) -> list[Output]:
        item = self._find(event.get("item_id"))
        if item is None:
            return [self._error("item_not_found", f"No item with id {event.get('item_id')!r}.", "item_id", cid)]
        self.items.remove(item)
        return self._stamp([{"type": "conversation.item.deleted", "item_id": item.id}])

    def _item_retrieve(self, event: dict[str, Any], cid: str | None) -> list[Output]:
        listed = self.book.list_item(str(event.get("item_id")))
        if listed is not None:
            return self._stamp([{"type": "conversation.item.retrieved", "item": listed}])
        item = self._find(event.get("item_id"))
        if item is None:
            return [self._error("item_not_found", f"No item with id {event.get('item_id')!r}.", "item_id", cid)]
        data = (
            item.data
            if item.run is None
            else {
                "id": item.id,
                "type": "message",
                "role": "assistant",
                "status": item.run.status,
                "object": "realtime.item",
            }
        )
        return self._stamp([{"type": "conversation.item.retrieved", "item": data}])

    def _output_clear(self, event: dict[str, Any], cid: str | None) -> list[Output]:
        return self._stamp([{"type": "output_audio_buffer.cleared"}])
