"""A small test client on the real SDK: streams audio and records events with the
appended-audio position at which each arrived."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from azure.ai.voicelive.aio import VoiceLiveConnection, connect
from azure.core.credentials import AzureKeyCredential


@dataclass
class Received:
    """One server event and where the client was when it arrived."""

    event: Any
    sent_ms: float
    """Milliseconds of audio appended before the event arrived."""
    t: float


@dataclass
class Client:
    """Wraps one SDK connection; a reader task collects every event."""

    conn: VoiceLiveConnection
    rate: int = 24000
    sent_ms: float = 0.0
    received: list[Received] = field(default_factory=list)
    closed: bool = False
    _new: asyncio.Event = field(default_factory=asyncio.Event)

    async def _reader(self) -> None:
        try:
            async for ev in self.conn:
                self.received.append(Received(ev, self.sent_ms, time.monotonic()))
                self._new.set()
        finally:
            self.closed = True
            self._new.set()

    def types(self) -> list[str]:
        """Types of the events received so far."""
        return [r.event.type for r in self.received]

    def of(self, etype: str) -> list[Any]:
        """Events of one type, in order."""
        return [r.event for r in self.received if r.event.type == etype]

    async def wait_for(
        self, etype: str, timeout: float = 20.0, after: int = 0, pred: Callable[[Any], bool] | None = None
    ) -> Received:
        """The first event of ``etype`` at index >= ``after`` (waits up to ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        while True:
            for r in self.received[after:]:
                if r.event.type == etype and (pred is None or pred(r.event)):
                    return r
            if self.closed:
                raise ConnectionError(f"connection closed before {etype}; got {self.types()}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {etype} within {timeout} s; got {self.types()}")
            self._new.clear()
            with suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._new.wait(), remaining)

    async def stream(self, pcm: np.ndarray, chunk_ms: float = 20.0, speed: float = 4.0) -> None:
        """Append ``pcm`` (int16 at :attr:`rate`) in ``chunk_ms`` blocks, ``speed`` x real time
        (0: as fast as possible, yielding between chunks)."""
        n = int(self.rate * chunk_ms / 1000)
        for i in range(0, len(pcm), n):
            block = pcm[i : i + n]
            await self.conn.input_audio_buffer.append(audio=base64.b64encode(block.astype("<i2").tobytes()).decode())
            self.sent_ms += len(block) * 1000.0 / self.rate
            await asyncio.sleep(chunk_ms / 1000 / speed if speed > 0 else 0)

    async def update(self, **session: Any) -> Any:
        """session.update and wait for its session.updated (or error)."""
        start = len(self.received)
        await self.conn.session.update(session=session)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for rec in self.received[start:]:
                if rec.event.type in ("session.updated", "error"):
                    return rec.event
            self._new.clear()
            await asyncio.wait_for(self._new.wait(), max(0.01, deadline - time.monotonic()))
        raise TimeoutError("no answer to session.update")


@asynccontextmanager
async def session(endpoint: str, key: str = "test-key", rate: int = 24000, **kwargs: Any) -> AsyncIterator[Client]:
    """Connect with the SDK, start the reader, wait for session.created."""
    async with connect(endpoint=endpoint, credential=AzureKeyCredential(key), model="gpt-realtime", **kwargs) as conn:
        client = Client(conn, rate=rate)
        reader = asyncio.create_task(client._reader())
        try:
            await client.wait_for("session.created", timeout=30)
            yield client
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


def pcm_of(deltas: list[Any]) -> np.ndarray:
    """Concatenate response.audio.delta payloads (bytes in the SDK) into int16 samples."""
    data = b"".join(bytes(d.delta) for d in deltas)
    return np.frombuffer(data, dtype="<i2")


CLIENT_EVENT_TYPES = (
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "response.create",
    "response.cancel",
    "conversation.item.create",
    "conversation.item.truncate",
    "conversation.item.delete",
    "conversation.item.retrieve",
    "output_audio_buffer.clear",
)
"""Every client event type of the protocol (PROTOCOL.md), for tests that make up client events."""
