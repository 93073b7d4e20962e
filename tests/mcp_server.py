"""A real MCP server on loopback for the tests (the ``mcp`` package over Streamable HTTP).

    with mcp_server() as url:          # http://127.0.0.1:PORT/mcp
        ...

Tools: ``lookup_order(order_number)`` -> "order N shipped", ``cancel_order(order_number)``
-> "order N cancelled".  Served by uvicorn in a daemon thread; stopped on exit.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def mcp_server() -> Iterator[str]:
    """Serve the test tools; yields the server URL."""
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

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    web = uvicorn.Server(uvicorn.Config(server.streamable_http_app(), log_level="warning"))
    thread = threading.Thread(target=web.run, kwargs={"sockets": [sock]}, name="test-mcp-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not web.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test MCP server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        web.should_exit = True
        thread.join(10)
        sock.close()
