"""The emulator's MCP client sessions against a real MCP server on loopback: one session per
server, reused by every listing and call, closed with the conversation, reopened when broken."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from tests.mcp_server import McpTestServer, serve_mcp
from voicelive_nb.emulator.mcp_client import McpSessions


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def handshakes(server: McpTestServer) -> int:
    return server.count("server/discover") + server.count("initialize")


def test_one_session_per_server_is_reused_then_closed() -> None:
    async def run(server: McpTestServer) -> tuple[list[tuple[str | None, str | None]], McpSessions]:
        mcp = McpSessions(timeout_s=20)
        where = {"server_url": server.url}
        tools, error = await mcp.list_tools(where)
        assert error is None and tools is not None and {t["name"] for t in tools} == {"lookup_order", "cancel_order"}
        results = [await mcp.call_tool(where, "lookup_order", {"order_number": "1"})]
        results += await asyncio.gather(*(mcp.call_tool(where, "cancel_order", {"order_number": n}) for n in "23"))
        results.append(await mcp.call_tool(where, "no_such_tool", {}))  # the server's error: the session stays
        results.append(await mcp.call_tool(where, "lookup_order", {"order_number": "4"}))
        assert len(mcp) == 1
        await mcp.close()
        assert len(mcp) == 0
        results.append(await mcp.call_tool(where, "lookup_order", {"order_number": "5"}))
        return results, mcp

    with serve_mcp() as server:
        results, mcp = asyncio.run(run(server))
        wait_until(lambda: server.open_connections() == 0, 10, "the client's HTTP connections to close")
        methods = list(server.methods)
    assert results[:3] == [("order 1 shipped", None), ("order 2 cancelled", None), ("order 3 cancelled", None)]
    assert results[3][0] is None and "no_such_tool" in str(results[3][1])
    assert results[4] == ("order 4 shipped", None)
    assert results[5][0] is None and "closed" in str(results[5][1])  # after close: an error text, no new session
    # one handshake for everything; each call is one request (no re-listing before a call)
    assert mcp.opened == 1 and handshakes(server) == 1, methods
    assert server.count("tools/call") == 5 and server.count("tools/list") == 1, methods


def test_a_broken_session_is_replaced() -> None:
    async def call(mcp: McpSessions, url: str, n: str) -> tuple[str | None, str | None]:
        return await mcp.call_tool({"server_url": url}, "lookup_order", {"order_number": n})

    async def run() -> list[tuple[str | None, str | None]]:
        mcp = McpSessions(timeout_s=10)
        with serve_mcp() as first:
            port = int(first.url.rsplit(":", 1)[1].split("/")[0])
            results = [await call(mcp, first.url, "1")]
        results.append(await call(mcp, first.url, "2"))  # the server is gone: an error text
        with serve_mcp(port) as second:  # back on the same address: a new session works
            results.append(await call(mcp, second.url, "3"))
            results.append(await call(mcp, second.url, "4"))
            assert handshakes(second) == 1, second.methods
        await mcp.close()
        assert mcp.opened >= 2
        return results

    results = asyncio.run(run())
    assert results[0] == ("order 1 shipped", None)
    assert results[1][0] is None and "failed" in str(results[1][1])
    assert results[2:] == [("order 3 shipped", None), ("order 4 shipped", None)]
