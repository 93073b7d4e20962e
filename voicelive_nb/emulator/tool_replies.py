"""The I/O half of tool calls in the emulator: MCP listings and calls, and replies that call tools.

MCP operations go through the connection's :class:`~voicelive_nb.emulator.mcp_client.McpSessions`
(one client session per server, reused for the conversation, closed with it).

Used by the server's connection (:mod:`voicelive_nb.emulator.server`); the decisions
(which items, which events, which errors) are the sans-I/O core's.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from voicelive_nb.emulator.effects import CallMcp, Generate, ListMcpTools
from voicelive_nb.emulator.tools import ToolCall, answer_from_outputs

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.emulator.connection import Connection

__all__ = ["as_calls", "list_mcp", "tool_reply"]


def as_calls(reply: Any) -> list[ToolCall] | None:
    """The tool calls of a responder's reply, or None when it is words."""
    if isinstance(reply, ToolCall):
        return [reply]
    if isinstance(reply, (list, tuple)) and reply and all(isinstance(r, ToolCall) for r in reply):
        return list(reply)
    return None


def approved_calls(approvals: list[dict[str, Any]]) -> tuple[list[ToolCall], list[dict[str, Any]]]:
    """The MCP calls the client approved, and an output for each refused one."""
    calls, refused = [], []
    for a in approvals:
        if a.get("approve"):
            calls.append(
                ToolCall(
                    str(a["name"]), str(a.get("arguments") or "{}"), a.get("server_label"), a["approval_request_id"]
                )
            )
        else:
            refused.append({"name": a.get("name"), "output": None, "error": "the call was not approved"})
    return calls, refused


async def list_mcp(conn: Connection, job: ListMcpTools) -> None:
    """List an MCP server's tools and report the outcome to the core."""
    tools, error = await conn.mcp.list_tools(job.server)
    if error:
        conn.log_warning(error)
    if not conn.closed:
        conn.dispatch(await conn.core(conn.conv.mcp_tools_listed, job.item_id, tools, error))


async def tool_reply(
    conn: Connection, job: Generate, reply: Any, transcript: str | None, session: dict[str, Any]
) -> str | None:
    """Carry out a reply that calls tools (or acts on MCP approvals).

    Returns the words to speak next in the same response, or None when the response is
    over (it made function calls or approval requests: the client answers first).
    """
    calls = as_calls(reply) or []
    refused: list[dict[str, Any]] = []
    if job.approvals:
        calls, refused = approved_calls(job.approvals)
        if not calls:
            return answer_from_outputs(refused)
    outputs = await conn.core(conn.conv.set_response_calls, job.response_id, calls)
    mcp_jobs = [o for o in outputs if isinstance(o, CallMcp)]
    conn.dispatch([o for o in outputs if not isinstance(o, CallMcp)])
    if not mcp_jobs:
        return None
    results = await asyncio.gather(*(conn.mcp.call_tool(j.server, j.name, j.arguments) for j in mcp_jobs))
    tool_outputs = list(refused)
    for j, (output, error) in zip(mcp_jobs, results, strict=True):
        conn.dispatch(await conn.core(conn.conv.mcp_call_result, job.response_id, j.item_id, output, error))
        tool_outputs.append({"name": j.name, "arguments": json.dumps(j.arguments), "output": output, "error": error})
    if not await conn.core(conn.conv.response_speaks_after_calls, job.response_id):
        conn.dispatch(await conn.core(conn.conv.finish_calls, job.response_id))
        return None
    emu = {**session.get("emulator", {}), "tool_outputs": tool_outputs}
    answer = await conn.loop.run_in_executor(
        conn.emu._work_pool, conn.emu.responder, transcript, {**session, "emulator": emu}
    )
    return answer if isinstance(answer, str) else answer_from_outputs(tool_outputs)
