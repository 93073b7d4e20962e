"""``voicelive-nb talk``: talk live through the mic and speakers; Ctrl+C to stop.

Prints what you said, what the assistant answered and the turn's latencies as each
turn completes::

    voicelive-nb talk                                  # AZURE_VOICELIVE_* / .env, else the emulator
    voicelive-nb talk --mic 2 --speaker "USB" --record runs/chat --silence-ms 800
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

from voicelive_nb.cli._signals import StopSignals

__all__ = ["add_arguments", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``voicelive-nb talk``."""
    parser.add_argument("--endpoint", help="Voice Live endpoint (default: AZURE_VOICELIVE_ENDPOINT, else the emulator)")
    parser.add_argument("--mic", help="input device index or name, or a .wav file (default: the system default)")
    parser.add_argument("--speaker", help="output device index or name, or a .wav to write (default: system default)")
    parser.add_argument("--record", type=Path, help="record the session into this (new) folder")
    parser.add_argument("--silence-ms", type=int, help="server VAD silence_duration_ms")
    parser.add_argument("--threshold", type=float, help="server VAD threshold (0.01-1)")
    parser.add_argument("--instructions", help="system prompt for the assistant")
    parser.add_argument("--seconds", type=float, help="stop by itself after this many seconds")


def _device(value: str | None) -> Any:
    if value is None:
        return None
    return int(value) if value.strip().isdigit() else value


def main(args: argparse.Namespace) -> int:
    """Entry point of ``voicelive-nb talk``."""
    from voicelive_nb.cli.demo import format_turns
    from voicelive_nb.connection import ConnectionSettings, session_config_from_env
    from voicelive_nb.events import EventRecord, Local
    from voicelive_nb.session.voice_session import VoiceSession

    config = session_config_from_env()
    if args.instructions:
        config = config.replace(instructions=args.instructions)
    vad: dict[str, Any] = {}
    if args.silence_ms is not None:
        vad["silence_duration_ms"] = args.silence_ms
    if args.threshold is not None:
        vad["threshold"] = args.threshold
    if vad:
        config = config.with_vad(**vad)
    settings = ConnectionSettings.resolve(endpoint=args.endpoint)
    record_made = args.record is not None and not args.record.exists()  # only a folder of ours is removed
    session = VoiceSession(
        config, connection=settings, mic=_device(args.mic), speaker=_device(args.speaker), record=args.record
    )
    finished = threading.Event()
    printed: set[int] = set()

    def show(record: EventRecord) -> None:
        if record.type == Local.CONNECTION:
            state = record.get("state")
            detail = record.get("detail") or ""
            print(f"[{state}] {record.get('endpoint', '')} {detail}".rstrip(), flush=True)
            if state in ("failed", "closed"):
                finished.set()
        elif record.type == Local.ERROR:
            print(f"[error] {record.get('message')}", flush=True)
        elif record.type == "input_audio_buffer.speech_started":
            print("… listening", flush=True)

    def show_turns(record: EventRecord) -> None:
        # subscribed after start(), so after the session's turn tracker: it has seen this record
        if record.type not in ("response.done", Local.PLAYBACK_STOPPED, Local.PLAYBACK_FLUSHED):
            return
        tracker = session.tracker
        if tracker is None:
            return
        for turn in tracker.turns:
            done = turn.status is not None and (turn.first_played is None or turn.last_played is not None)
            if done and turn.index not in printed:
                printed.add(turn.index)
                print(format_turns([turn]).splitlines()[-1], flush=True)

    session.subscribe(show)
    print("Talking to", settings.describe()["endpoint"], "- press Ctrl+C to stop.", flush=True)
    tracker_header = format_turns([]).splitlines()[0]
    print(tracker_header, flush=True)
    # An explicit handler for SIGINT and SIGTERM: a background job of a non-interactive shell
    # starts with SIGINT ignored (no KeyboardInterrupt ever comes), and SIGTERM's default would
    # end the process with the recording unfinished.  A second signal still waits for the
    # clean-up (it finalises the recording); a third leaves at once.
    notice = "voicelive-nb talk: closing the session" + (" and the recording" if args.record else "")
    with StopSignals(finished, force_after=3, notice=notice) as stop:
        try:
            session.start()
            session.subscribe(show_turns)
            deadline = None if args.seconds is None else time.monotonic() + args.seconds
            while not finished.is_set():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                finished.wait(0.5 if left is None else min(0.5, left))
        except KeyboardInterrupt:  # a caller's own SIGINT handler may still raise it
            pass
        finally:
            session.stop()
    if stop.requested.is_set():
        print("stopped", flush=True)
    tracker = session.tracker
    if tracker is not None and tracker.turns:
        print("\n" + format_turns(tracker.turns))
        print({k: v for k, v in tracker.summary().items() if k != "turns"})
    if args.record:
        from voicelive_nb.recording.recorder import discard_if_empty

        # a session that never connected leaves no empty recording (and no folder it made) behind
        if discard_if_empty(args.record, remove_folder=record_made):
            print(f"nothing was recorded; {args.record} not kept")
        else:
            print(f"recording: {args.record}")
    return 1 if session.state == "failed" else 0


if __name__ == "__main__":  # pragma: no cover
    from voicelive_nb.cli import main as cli_main

    sys.exit(cli_main(["talk", *sys.argv[1:]]))
