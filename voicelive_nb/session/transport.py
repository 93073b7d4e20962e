"""The session's access to the SDK's socket: send ready-made text, receive frames as the socket hands them over.

The SDK's ``VoiceLiveConnection`` encodes and decodes every message itself; the session's
audio paths skip that work by using the SDK connection's aiohttp socket directly, when
this SDK version has one where we expect it (``tests/emulator/test_wire_sdk.py`` checks
it), and fall back to the SDK's own methods otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

__all__ = ["text_receiver", "text_sender"]


def text_sender(conn: Any) -> Callable[[str], Coroutine[Any, Any, None]] | None:
    """The SDK connection's ``send_str`` for ready-made JSON text (the mic's appends), or None.

    ``VoiceLiveConnection.send`` takes a dict or a model and JSON-encodes it, scanning every
    base64 character of the audio again; :func:`voicelive_nb.session.wire.append_text` already wrote
    valid JSON, so the session sends it on the SDK's aiohttp socket directly.  None if this
    SDK version keeps its socket elsewhere: the caller then falls back to ``conn.send(dict)``
    (``tests/emulator/test_wire_sdk.py`` checks that the current SDK still offers it).
    """
    ws = getattr(conn, "_connection", None)
    send_str = getattr(ws, "send_str", None)
    return send_str if callable(send_str) else None


def text_receiver(conn: Any) -> Callable[[], Awaitable[str | bytes]]:
    """A receive function for the session loop: each server frame as the socket hands it over.

    ``VoiceLiveConnection.recv_bytes`` turns every text frame back into bytes (a copy of the
    frame, which :func:`voicelive_nb.session.wire.parse_frame` would then decode again) behind a
    coroutine layer and a debug-log call.  This reads the SDK's aiohttp socket directly and
    returns a text frame's ``str`` (a binary frame's ``bytes``); the end of the connection
    raises the SDK's ``ConnectionClosed``, as ``recv_bytes`` does (a closing socket too).
    Other control frames give ``b""``, as there, and with the SDK's logger at DEBUG each
    frame is logged there as ``recv_bytes`` logs it.  If this SDK version keeps its socket
    elsewhere, it is ``conn.recv_bytes`` itself (``tests/emulator/test_wire_sdk.py`` checks
    that the current SDK still offers the socket, and that both read the same frames).
    """
    ws = getattr(conn, "_connection", None)
    receive = getattr(ws, "receive", None)
    if not callable(receive):
        fallback: Callable[[], Awaitable[str | bytes]] = conn.recv_bytes
        return fallback

    import aiohttp
    from azure.ai.voicelive.aio import ConnectionClosed

    sdk_log = logging.getLogger(type(conn).__module__)  # where recv_bytes logs each frame
    text, binary = aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY
    closing = {aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED}

    async def recv() -> str | bytes:
        try:
            msg = await receive()
        except aiohttp.ClientError as exc:
            raise ConnectionClosed(getattr(exc, "code", 1006), str(exc)) from exc
        kind = msg.type
        if kind in (text, binary):
            if sdk_log.isEnabledFor(logging.DEBUG):
                sdk_log.debug("Received websocket %s message: %s", "text" if kind == text else "binary", msg.data)
            data: str | bytes = msg.data
            return data
        if kind in closing:
            raise ConnectionClosed(getattr(ws, "close_code", None) or 1000, "Connection closed")
        if kind == aiohttp.WSMsgType.ERROR:
            raise ConnectionClosed(1006, str(ws.exception()))  # type: ignore[union-attr]
        return b""

    return recv
