"""The session's fast wire path on the real SDK connection, against the emulator over a socket."""

from __future__ import annotations

import asyncio
import base64
import json

import numpy as np
import pytest
from azure.ai.voicelive.aio import ConnectionClosed, connect
from azure.core.credentials import AzureKeyCredential

from tests.emulator.client import session
from voicelive_nb.emulator import Emulator
from voicelive_nb.session.transport import text_receiver, text_sender
from voicelive_nb.session.wire import append_text, parse_frame


def test_ready_made_appends_on_the_sdk_socket(emu: Emulator) -> None:
    """This SDK version still exposes its socket (else the session silently pays json.dumps),
    and the server takes our append text as the audio it carries."""

    async def run() -> None:
        async with session(emu.endpoint) as client:
            send = text_sender(client.conn)
            assert send is not None, "azure-ai-voicelive moved its socket: update connection.text_sender"
            await client.update(turn_detection=None)
            tone = (np.sin(np.arange(24000) * 0.05) * 8000).astype(np.int16)
            for i in range(0, tone.shape[0], 480):
                await send(append_text(tone[i : i + 480]))
            await client.conn.input_audio_buffer.commit()
            committed = await client.wait_for("input_audio_buffer.committed")
            assert committed.event.item_id

    asyncio.run(run())


def test_parse_frame_reads_what_the_server_sends(emu: Emulator) -> None:
    """Every raw frame of a spoken response parses like json.loads, with the audio decoded."""

    async def run() -> list[bytes]:
        frames: list[bytes] = []
        async with connect(endpoint=emu.endpoint, credential=AzureKeyCredential("k"), model="gpt-realtime") as conn:
            await conn.response.create()
            while not frames or json.loads(frames[-1])["type"] != "response.done":
                frames.append(await asyncio.wait_for(conn.recv_bytes(), 60))
        return frames

    frames = asyncio.run(run())
    audio = 0
    for raw in frames:
        want = json.loads(raw)
        got = parse_frame(raw)
        if want["type"] == "response.audio.delta":
            want["delta"] = base64.b64decode(want["delta"], validate=True)
            audio += len(got["delta"])
        assert got == want
    assert audio > 4800


def test_text_receiver_reads_the_frames_recv_bytes_reads(emu: Emulator) -> None:
    """The session's receive path hands over each frame's text, the same frames the SDK's
    recv_bytes gives (this SDK version still exposes its socket), and parse_frame reads them."""

    async def read(direct: bool) -> list[str | bytes]:
        frames: list[str | bytes] = []
        async with connect(endpoint=emu.endpoint, credential=AzureKeyCredential("k"), model="gpt-realtime") as conn:
            receive = text_receiver(conn) if direct else conn.recv_bytes
            if direct:
                assert receive != conn.recv_bytes, "azure-ai-voicelive moved its socket: update text_receiver"
            await conn.response.create()
            while not frames or json.loads(frames[-1])["type"] != "response.done":
                frames.append(await asyncio.wait_for(receive(), 60))
        return frames

    direct, sdk = asyncio.run(read(True)), asyncio.run(read(False))
    assert all(isinstance(f, str) for f in direct)
    assert [json.loads(f)["type"] for f in direct] == [json.loads(f)["type"] for f in sdk]
    audio = 0
    for raw in direct:
        want = json.loads(raw)
        if want["type"] == "response.audio.delta":
            want["delta"] = base64.b64decode(want["delta"], validate=True)
            audio += len(want["delta"])
        assert parse_frame(raw) == want
    assert audio > 4800


def test_text_receiver_raises_connection_closed_when_the_server_drops(emu: Emulator) -> None:
    """A dropped socket ends the receive loop the way the SDK's recv_bytes does."""

    async def run() -> None:
        async with connect(endpoint=emu.endpoint, credential=AzureKeyCredential("k"), model="gpt-realtime") as conn:
            receive = text_receiver(conn)
            # armed before the update: armed after it, the answer may already be out, and then
            # no further event would come to trigger the drop (the receive would time out)
            emu.faults.drop_after_events = 1
            await conn.session.update(session={"instructions": "x"})
            with pytest.raises(ConnectionClosed):
                for _ in range(50):
                    await asyncio.wait_for(receive(), 10)

    asyncio.run(run())
