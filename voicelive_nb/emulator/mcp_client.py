"""The emulator's MCP client: lists and calls the tools of a session's MCP servers.

A real MCP client (the ``mcp`` package, Streamable HTTP transport) of the ``server_url``
the session names, as the service is: ``headers`` and ``authorization`` (sent as
``Authorization: Bearer ...``) go on every request.  Each operation opens its own MCP
session (initialize, request, close) -- simple and stateless, fine on a loopback or LAN
server.  Nothing raises: failures come back as an error text.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["call_tool", "list_tools"]


def _headers(server: Mapping[str, Any]) -> dict[str, str]:
    headers = {str(k): str(v) for k, v in (server.get("headers") or {}).items()}
    if server.get("authorization"):
        headers["Authorization"] = f"Bearer {server['authorization']}"
    return headers


def _client(server: Mapping[str, Any]) -> Any:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    http = httpx2.AsyncClient(headers=_headers(server), timeout=httpx2.Timeout(30.0, read=300.0))
    return Client(streamable_http_client(str(server["server_url"]), http_client=http)), http


def _describe(exc: BaseException) -> str:
    inner = getattr(exc, "exceptions", None)  # an exception group from the MCP client's task group
    if inner:
        return _describe(inner[0])
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def list_tools(
    server: Mapping[str, Any], timeout: float = 10.0
) -> tuple[list[dict[str, Any]] | None, str | None]:
    """The server's tools (``name``, ``description``, ``input_schema``, ``annotations``), or an error."""
    try:
        client, http = _client(server)
        async with http, client:
            result = await asyncio.wait_for(client.list_tools(), timeout)
    except ImportError as exc:
        return None, f"MCP needs the 'mcp' package (pip install 'voicelive-nb[emulator]'): {exc}"
    except Exception as exc:  # the server is down, refuses, times out...
        return None, f"listing the tools of {server.get('server_url')} failed: {_describe(exc)}"
    tools = []
    for tool in result.tools:
        annotations = tool.annotations.model_dump(exclude_none=True) if tool.annotations is not None else None
        tools.append(
            {
                "name": tool.name,
                "description": tool.description,
                "input_schema": tool.input_schema,
                "annotations": annotations,
            }
        )
    return tools, None


async def call_tool(
    server: Mapping[str, Any], name: str, arguments: dict[str, Any], timeout: float = 30.0
) -> tuple[str | None, str | None]:
    """Call ``name``; returns (output text, None) or (None, error text).

    The output is the tool's text content joined (structured content as JSON when there
    is no text); a result flagged ``isError`` is an error.
    """
    try:
        client, http = _client(server)
        async with http, client:
            result = await asyncio.wait_for(client.call_tool(name, arguments), timeout)
    except ImportError as exc:
        return None, f"MCP needs the 'mcp' package (pip install 'voicelive-nb[emulator]'): {exc}"
    except Exception as exc:
        return None, f"calling {name} on {server.get('server_url')} failed: {_describe(exc)}"
    texts = [str(getattr(part, "text", "")) for part in result.content if getattr(part, "type", "") == "text"]
    text = "\n".join(t for t in texts if t)
    if not text and result.structured_content is not None:
        text = json.dumps(result.structured_content)
    if result.is_error:
        return None, text or f"{name} reported an error"
    return text, None
