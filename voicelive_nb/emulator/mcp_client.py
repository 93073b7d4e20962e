"""The emulator's MCP client: lists and calls the tools of a session's MCP servers.

A real MCP client (the ``mcp`` package, Streamable HTTP transport) of the ``server_url``
the session names, as the service is: ``headers`` and ``authorization`` (sent as
``Authorization: Bearer ...``) go on every request.

:class:`McpSessions` keeps one MCP client session per server (URL + headers) for the
emulator conversation that uses it: opened by the first operation (the tool listing
after ``session.update``, usually), reused by every later listing and call, and closed
when the conversation ends (:meth:`McpSessions.close`; the WebSocket closed, dropped or
the emulator stopping).  Opening costs the protocol's handshake and a new HTTP
connection; a reused session costs one request per operation.  A reused session that
fails below the MCP layer (the server restarted and forgot it, the connection dropped)
is closed and the operation is tried once more on a fresh one -- except after a
timeout, when the server may still be running the call.  Nothing raises: failures come
back as an error text.

The client checks a call's result against the tool's output schema with ``jsonschema``,
imported on the first call; that import compiles grammars for a second or more, which
would stall the emulator's event loop (every conversation), so the first session starts
it in a worker thread and calls wait for it there.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

__all__ = ["McpSessions"]

log = logging.getLogger("voicelive_nb.emulator")

_T = TypeVar("_T")
_MISSING = "MCP needs the 'mcp' package (pip install 'voicelive-nb[emulator]')"
CLOSE_TIMEOUT_S = 2.0
"""Longest wait for one MCP session to close politely (then its task is cancelled)."""


def _headers(server: Mapping[str, Any]) -> dict[str, str]:
    headers = {str(k): str(v) for k, v in (server.get("headers") or {}).items()}
    if server.get("authorization"):
        headers["Authorization"] = f"Bearer {server['authorization']}"
    return headers


def _key(server: Mapping[str, Any]) -> tuple[str, tuple[tuple[str, str], ...]]:
    return str(server.get("server_url")), tuple(sorted(_headers(server).items()))


def _describe(exc: BaseException) -> str:
    inner = getattr(exc, "exceptions", None)  # an exception group from the MCP client's task group
    if inner:
        return _describe(inner[0])
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _import_validators() -> None:
    """Import what the client's first result check imports (seconds of grammar compiling)."""
    with contextlib.suppress(ImportError):
        importlib.import_module("jsonschema.validators")
        importlib.import_module("referencing.exceptions")


def _is_timeout(exc: BaseException) -> bool:
    inner = getattr(exc, "exceptions", None)
    if inner:
        return any(_is_timeout(e) for e in inner)
    return isinstance(exc, (asyncio.TimeoutError, TimeoutError))


def _is_protocol_error(exc: BaseException) -> bool:
    """The server answered with a JSON-RPC error: the session itself is fine.

    The client reports a connection that ended (the server went away) as an ``MCPError``
    too, with code ``CONNECTION_CLOSED``: that one is a broken session.
    """
    try:
        from mcp.shared.exceptions import MCPError
        from mcp_types import CONNECTION_CLOSED
    except ImportError:
        return False
    return isinstance(exc, MCPError) and exc.code != CONNECTION_CLOSED


class _Session:
    """One open MCP client session, owned by a task of its own.

    The ``mcp`` client is an anyio context manager: it must be entered and left by the
    same task, so :meth:`_own` holds it open until :meth:`close`; operations from other
    tasks use the client in between.  If the client's own tasks fail (the connection
    broke), anyio cancels the owner, which ends the session (``alive`` False).
    """

    def __init__(self, server: Mapping[str, Any]) -> None:
        self.server = dict(server)
        self.used = False  # an operation finished on it (a failure then may be a stale session)
        loop = asyncio.get_running_loop()
        self._ready: asyncio.Future[Any] = loop.create_future()
        self._stop = asyncio.Event()
        self._task = loop.create_task(self._own(), name=f"mcp-session {server.get('server_url')}")

    @property
    def alive(self) -> bool:
        """Open (or opening) and not failed."""
        return not self._task.done() and not self._stop.is_set()

    async def client(self, timeout: float) -> Any:
        """The open client (waits for the handshake at most ``timeout``)."""
        return await asyncio.wait_for(asyncio.shield(self._ready), timeout)

    async def _own(self) -> None:
        try:
            import httpx2
            from mcp import Client
            from mcp.client.streamable_http import streamable_http_client

            http = httpx2.AsyncClient(headers=_headers(self.server), timeout=httpx2.Timeout(30.0, read=300.0))
            client = Client(streamable_http_client(str(self.server["server_url"]), http_client=http))
            async with http, client:
                self._ready.set_result(client)
                await self._stop.wait()
        except asyncio.CancelledError:
            self._fail(ConnectionError("the MCP session was cancelled"))
            raise
        except Exception as exc:  # the handshake failed, or the client's tasks did (the connection broke)
            if not self._ready.done():
                self._fail(exc)
            elif not self._stop.is_set():
                log.info("MCP session with %s ended: %s", self.server.get("server_url"), _describe(exc))
        finally:
            self._fail(ConnectionError("the MCP session closed"))

    def _fail(self, exc: Exception) -> None:
        if not self._ready.done():
            self._ready.set_exception(exc)
            self._ready.exception()  # retrieved: nobody may be waiting for it

    async def close(self) -> None:
        """Leave the session (the transport tells the server); cancel it after :data:`CLOSE_TIMEOUT_S`."""
        self._stop.set()
        if self._task.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), CLOSE_TIMEOUT_S)
        except (asyncio.TimeoutError, TimeoutError):
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        except BaseException:  # a failed close still closed
            pass


class McpSessions:
    """The MCP client sessions of one emulator conversation: one per server, reused, closed together.

    Args:
        timeout_s: Default longest wait for a listing or a call (the handshake included).
    """

    def __init__(self, timeout_s: float = 30.0) -> None:
        self.timeout_s = timeout_s
        self._sessions: dict[tuple[str, tuple[tuple[str, str], ...]], _Session] = {}
        self.opened = 0
        """Sessions opened so far (a reused session is not counted again)."""
        self._closed = False
        self._validators: asyncio.Future[None] | None = None  # _import_validators in a worker thread

    def __len__(self) -> int:
        return sum(1 for s in self._sessions.values() if s.alive)

    def _session(self, server: Mapping[str, Any]) -> _Session:
        if self._closed:
            raise ConnectionError("the conversation is over: its MCP sessions are closed")
        key = _key(server)
        session = self._sessions.get(key)
        if session is None or not session.alive:
            session = self._sessions[key] = _Session(server)
            self.opened += 1
            if self._validators is None:
                self._validators = asyncio.get_running_loop().run_in_executor(None, _import_validators)
        return session

    async def _run(self, server: Mapping[str, Any], op: Callable[[Any], Awaitable[_T]], timeout: float) -> _T:
        """Run ``op(client)`` on the server's session; once more on a fresh one if a reused one broke."""
        for attempt in (1, 2):
            session = self._session(server)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            try:
                client = await session.client(timeout)
                result = await asyncio.wait_for(op(client), max(0.001, deadline - loop.time()))
            except Exception as exc:
                retry = attempt == 1 and session.used and not _is_timeout(exc) and not _is_protocol_error(exc)
                if not _is_protocol_error(exc):
                    await self._drop(session)
                if retry:
                    url = server.get("server_url")
                    log.info("MCP session with %s failed (%s); opening a new one", url, _describe(exc))
                    continue
                raise
            session.used = True
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    async def _drop(self, session: _Session) -> None:
        key = _key(session.server)
        if self._sessions.get(key) is session:
            del self._sessions[key]
        await session.close()

    async def list_tools(
        self, server: Mapping[str, Any], timeout: float | None = None
    ) -> tuple[list[dict[str, Any]] | None, str | None]:
        """The server's tools (``name``, ``description``, ``input_schema``, ``annotations``), or an error."""
        try:
            result = await self._run(server, lambda c: c.list_tools(), timeout or self.timeout_s)
        except ImportError as exc:
            return None, f"{_MISSING}: {exc}"
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
        self, server: Mapping[str, Any], name: str, arguments: dict[str, Any], timeout: float | None = None
    ) -> tuple[str | None, str | None]:
        """Call ``name``; returns (output text, None) or (None, error text).

        The output is the tool's text content joined (structured content as JSON when there
        is no text); a result flagged ``isError`` is an error.
        """

        async def call(client: Any) -> Any:
            if self._validators is not None:  # not on the event loop (see the module docstring)
                await asyncio.shield(self._validators)
            return await client.call_tool(name, arguments)

        try:
            result = await self._run(server, call, timeout or self.timeout_s)
        except ImportError as exc:
            return None, f"{_MISSING}: {exc}"
        except Exception as exc:
            return None, f"calling {name} on {server.get('server_url')} failed: {_describe(exc)}"
        texts = [str(getattr(part, "text", "")) for part in result.content if getattr(part, "type", "") == "text"]
        text = "\n".join(t for t in texts if t)
        if not text and result.structured_content is not None:
            text = json.dumps(result.structured_content)
        if result.is_error:
            return None, text or f"{name} reported an error"
        return text, None

    async def close(self) -> None:
        """Close every session (idempotent); later operations fail with an error text."""
        self._closed = True
        sessions = list(self._sessions.values())
        self._sessions.clear()
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
