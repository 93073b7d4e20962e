"""The mic pump on a socket that pushes back: sends wait, blocks wait in the mic, none is lost.

A real aiohttp websocket server that stops reading; the SDK's connection object on a real
aiohttp client socket; the pump's own send path (``start_eagerly`` on ``send_str``).
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import aiohttp
import numpy as np
from aiohttp import web
from azure.ai.voicelive.aio import VoiceLiveConnection

from voicelive_nb.audio.player import Player
from voicelive_nb.audio.wav import CaptureSpeaker, WavMic
from voicelive_nb.events import EventRecord, Local
from voicelive_nb.session.pump import AudioPump

BLOCK = 4800  # 200 ms: 12.8 kB of base64 per append
SECONDS = 240  # ~15 MB of appends: more than the kernel buffers hold


def test_a_socket_that_pushes_back_delays_the_mic_and_loses_nothing() -> None:
    pcm = (np.random.default_rng(3).standard_normal(SECONDS * 24000) * 3000).astype(np.int16)
    n_blocks = pcm.shape[0] // BLOCK
    records: list[EventRecord] = []
    received: list[str] = []

    async def run() -> dict[str, Any]:
        release = asyncio.Event()
        all_in = asyncio.Event()

        async def handler(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse(max_msg_size=0)
            await ws.prepare(request)
            await release.wait()  # reads nothing until then: the client's buffers fill up
            async for msg in ws:
                received.append(msg.data)
                if len(received) == n_blocks:
                    all_in.set()
            return ws

        app = web.Application()
        app.router.add_get("/", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        seen: dict[str, Any] = {}
        try:
            async with aiohttp.ClientSession() as http:
                ws = await http.ws_connect(f"http://127.0.0.1:{port}/")
                conn = VoiceLiveConnection(http, ws)  # type: ignore[arg-type]
                pump = AudioPump(
                    source=WavMic(pcm, blocksize=BLOCK, realtime=False, tail_silence_s=0.0),
                    sink=CaptureSpeaker(),
                    player=Player(),
                    publish=records.append,
                    connection=lambda: conn,  # configured at once: audio on
                )
                task = asyncio.create_task(pump.run())
                pump.start_mic()  # every block is there at once: the pump sends until pushed back
                for _ in range(1000):
                    await asyncio.sleep(0.01)
                    if pump._send_task is not None:
                        break
                blocked_by, sent = pump._send_task, pump.offset
                seen["pushed_back"] = blocked_by is not None
                seen["sent_while_blocked"] = sent // BLOCK
                seen["went_on_while_blocked"] = 0
                for _ in range(30):  # while that send waits, no other block goes
                    await asyncio.sleep(0.01)
                    if pump._send_task is blocked_by and pump.offset != sent:
                        seen["went_on_while_blocked"] += 1
                release.set()
                await asyncio.wait_for(all_in.wait(), 60)
                seen["offset"] = pump.offset
                seen["failures"] = pump.send_failures + pump.dropped_blocks
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                await ws.close()
        finally:
            await runner.cleanup()
        return seen

    seen = asyncio.run(run())
    assert seen["pushed_back"], "the socket never pushed back: make the test send more"
    assert 0 < seen["sent_while_blocked"] < n_blocks
    assert seen["went_on_while_blocked"] == 0
    assert seen["failures"] == 0
    assert seen["offset"] == n_blocks * BLOCK
    # the server got every block, in order, as valid append events
    got = b"".join(base64.b64decode(json.loads(text)["audio"]) for text in received)
    assert got == pcm[: n_blocks * BLOCK].tobytes()
    offsets = [r.data["offset"] for r in records if r.type == Local.MIC_AUDIO]
    assert offsets == [i * BLOCK for i in range(n_blocks)]
