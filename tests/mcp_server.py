"""A real MCP server on loopback for the tests (the ``mcp`` package over Streamable HTTP).

    with mcp_server() as url:          # http://127.0.0.1:PORT/mcp
        ...
    with serve_mcp(port=0) as server:  # the same, with what the server saw
        server.url, server.methods, server.open_connections()

Tools: ``lookup_order(order_number)`` -> "order N shipped", ``cancel_order(order_number)``
-> "order N cancelled".  Served by uvicorn in a daemon thread; stopped on exit.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class McpTestServer:
    """What a running test server saw: ``methods`` (the JSON-RPC method of every HTTP request,
    in order; ``DELETE`` for a session's end) and its open TCP connections (idle ones are
    kept for 60 s, so a connection that closes sooner was closed by the client)."""

    def __init__(self, url: str, web: Any) -> None:
        self.url = url
        self.methods: list[str] = []
        self._web = web

    def open_connections(self) -> int:
        """TCP connections the server holds open now."""
        return len(self._web.server_state.connections)

    def count(self, method: str) -> int:
        """Requests of one JSON-RPC method so far."""
        return self.methods.count(method)


def _counting(app: Any, seen: list[str]) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """An ASGI wrapper noting each request's JSON-RPC method before the app reads the body."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        messages = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        method = str(scope["method"])
        if body:
            try:
                method = str(json.loads(body).get("method"))
            except (ValueError, AttributeError):
                method = "?"
        seen.append(method)
        pending = iter(messages)

        async def replay() -> Message:
            return next(pending, None) or await receive()

        await app(scope, replay, send)

    return wrapped


@contextmanager
def serve_mcp(port: int = 0) -> Iterator[McpTestServer]:
    """Serve the test tools on ``port`` (0: a free one)."""
    import uvicorn
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("orders")

    @server.tool()
    def lookup_order(order_number: str) -> str:
        """Look up an order by its number."""
        return f"order {order_number} shipped"

    @server.tool()
    def cancel_order(order_number: str) -> str:
        """Cancel an order."""
        return f"order {order_number} cancelled"

    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say TCP, and
    # without it each response waits ~40 ms for the client's delayed ACK (Nagle)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    seen: list[str] = []
    app = _counting(server.streamable_http_app(), seen)
    # idle connections stay open for a minute: only the client's close ends one within a test
    web = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_keep_alive=60))
    thread = threading.Thread(target=web.run, kwargs={"sockets": [sock]}, name="test-mcp-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not web.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test MCP server did not start")
        time.sleep(0.02)
    handle = McpTestServer(f"http://127.0.0.1:{port}/mcp", web)
    handle.methods = seen
    try:
        yield handle
    finally:
        web.should_exit = True
        thread.join(10)
        sock.close()


@contextmanager
def mcp_server() -> Iterator[str]:
    """Serve the test tools; yields the server URL."""
    with serve_mcp() as server:
        yield server.url
