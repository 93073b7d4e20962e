"""The engine's tool half: runs the calls the protocol asks for and answers MCP approvals.

:class:`ToolDispatch` is the I/O shell around the protocol's sans-I/O tool bookkeeping
(:mod:`voicelive_nb.session.tool_protocol`), on the session loop: each :class:`RunTool`
becomes a task that runs the function off the loop (:class:`~voicelive_nb.session.tools.
ToolRunner`), sends its ``function_call_output`` at once (then whatever the protocol adds:
the ``response.create``) and publishes ``tool.call`` / ``tool.result``; each
:class:`ApproveMcp` is answered as ``mcp_approval`` says or kept for :meth:`approve`
(``tool.approval`` records).  Nothing raises into the session: failures become
``local.error`` records (``where: tool``) and outputs the model can read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from voicelive_nb.events import Local
from voicelive_nb.session.actions import Action, SendEvent
from voicelive_nb.session.protocol import SessionProtocol
from voicelive_nb.session.tool_protocol import ApproveMcp, RunTool

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.session.tools import ToolRunner

__all__ = ["McpApproval", "ToolDispatch"]

McpApproval = bool | Callable[[dict[str, Any]], bool] | None
"""How MCP approval requests are answered: True/False (always), a callable given the request
(``approval_request_id``, ``server_label``, ``name``, ``arguments``), or None (wait for
:meth:`ToolDispatch.approve`, e.g. from the panel)."""


def request_info(request: ApproveMcp) -> dict[str, Any]:
    """What an approval request asks, as the callback, the records and the panel see it."""
    return {
        "approval_request_id": request.approval_request_id,
        "server_label": request.server_label,
        "name": request.name,
        "arguments": request.arguments,
    }


class ToolDispatch:
    """See the module docstring.

    Args:
        runner: Runs the functions (None: one without tools is made on the first call,
            so every call is answered with an error output).
        mcp_approval: See :data:`McpApproval`.
        protocol: The session's protocol core (gives the events that send an output or
            an approval answer).
        enabled: The names of the tools switched on now (the session's current config).
        emit: Publishes a record: ``emit(kind, type, data, t=...)``.
        send: Sends one client event (True when it went out).
        run: Carries out other actions of the protocol.
        error: Reports a problem: ``error(message, where)``.
    """

    def __init__(
        self,
        runner: ToolRunner | None,
        mcp_approval: McpApproval,
        *,
        protocol: SessionProtocol,
        enabled: Callable[[], tuple[str, ...]],
        emit: Callable[..., None],
        send: Callable[[dict[str, Any]], Awaitable[bool]],
        run: Callable[[list[Action]], Awaitable[None]],
        error: Callable[[str, str], None],
    ) -> None:
        self.runner = runner
        self.mcp_approval = mcp_approval
        self.pending: dict[str, ApproveMcp] = {}
        """MCP approval requests waiting for :meth:`approve`."""
        self._protocol = protocol
        self._enabled = enabled
        self._emit = emit
        self._send = send
        self._run = run
        self._error = error
        self._tasks: set[asyncio.Task[None]] = set()

    def start_call(self, call: RunTool, args_done_t: float) -> None:
        """Run ``call`` in a task of its own (``args_done_t``: when its arguments arrived)."""
        self._spawn(self._call(call, args_done_t))

    def start_approval(self, request: ApproveMcp) -> None:
        """Answer (or keep) an approval request in a task of its own."""
        self._spawn(self._ask(request))

    async def approve(self, approval_request_id: str, approve: bool, by: str = "user") -> bool:
        """Answer a pending MCP approval request; False if there is none with that id."""
        request = self.pending.pop(approval_request_id, None)
        if request is None:
            return False
        await self._run(self._protocol.mcp_approval(approval_request_id, approve))
        self._emit("local", Local.TOOL_APPROVAL, {**request_info(request), "approve": bool(approve), "by": by})
        return True

    async def stop(self) -> None:
        """Cancel the calls and approvals still running (the session is ending)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _call(self, call: RunTool, args_done_t: float) -> None:
        """Run one call off the loop, send its output; records ``tool.call`` and ``tool.result``."""
        ids = {"call_id": call.call_id, "name": call.name, "response_id": call.response_id, "item_id": call.item_id}
        self._emit("local", Local.TOOL_CALL, {**ids, "arguments": call.arguments, "kind": "function"}, t=args_done_t)
        enabled = call.name in self._enabled()
        if self.runner is None:
            from voicelive_nb.session.tools import ToolRunner

            self.runner = ToolRunner()
        outcome = await self.runner.run(call.name, call.arguments, enabled=enabled)
        sent = False
        sent_t = 0.0
        for action in self._protocol.tool_output(call.call_id, outcome.output):
            if isinstance(action, SendEvent) and action.type == "conversation.item.create":
                sent = await self._send(action.event)
                sent_t = time.monotonic()
            else:
                await self._run([action])
        if not sent:
            sent_t = time.monotonic()
        run_s = outcome.finished_t - outcome.started_t
        data: dict[str, Any] = {
            **ids,
            "status": outcome.status,
            "ok": outcome.ok,
            "output": outcome.output[:4000],
            "error": outcome.error,
            "duration_ms": round(run_s * 1000.0, 3),
            "overhead_ms": round(((sent_t - args_done_t) - run_s) * 1000.0, 3),
            "args_done_t": args_done_t,
            "started_t": outcome.started_t,
            "finished_t": outcome.finished_t,
            "sent": sent,
            "source": outcome.source,
        }
        if outcome.origin is not None:
            data["origin"] = dict(outcome.origin)
        self._emit("local", Local.TOOL_RESULT, data, t=sent_t)
        if not outcome.ok:
            told = "the model was told the recorded answer" if outcome.source == "recording" else "the model was told"
            self._error(f"Tool {call.name} {outcome.status}: {outcome.error}; {told}.", "tool")

    async def _ask(self, request: ApproveMcp) -> None:
        """Answer an MCP approval request as ``mcp_approval`` says (or keep it for :meth:`approve`)."""
        self.pending[request.approval_request_id] = request
        policy = self.mcp_approval
        if policy is None:
            return
        if isinstance(policy, bool):
            await self.approve(request.approval_request_id, policy, by="auto")
            return
        try:
            approve = bool(await asyncio.get_running_loop().run_in_executor(None, policy, request_info(request)))
        except Exception as exc:  # the approver's bug must not end the session: refuse the call
            self._error(f"The MCP approval callback failed ({exc!r}); the call was refused.", "tool")
            approve = False
        await self.approve(request.approval_request_id, approve, by="callback")
