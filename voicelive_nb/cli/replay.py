"""``voicelive-nb replay SESSION_DIR [--silence-ms 300 500 800] [--threshold 0.5] [--prefix-ms 300]
[--speed 4] [--out DIR]``.

Replays a recording's mic track with other VAD settings (:mod:`voicelive_nb.tuning.replay`);
several values of an option make a sweep.
"""

from __future__ import annotations

import argparse
import sys

from voicelive_nb.tuning.replay import EMULATOR_SPEED


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``voicelive-nb replay``."""
    parser.add_argument("session_dir", metavar="SESSION_DIR", help="a recorded session folder")
    parser.add_argument("--silence-ms", type=int, nargs="+", metavar="MS", help="silence_duration_ms value(s)")
    parser.add_argument("--threshold", type=float, nargs="+", metavar="X", help="VAD threshold value(s)")
    parser.add_argument("--prefix-ms", type=int, nargs="+", metavar="MS", help="prefix_padding_ms value(s)")
    parser.add_argument("--speed", type=float, help=f"x real time (default {EMULATOR_SPEED:g} on the emulator, else 1)")
    parser.add_argument("--out", metavar="DIR", help="folder for the new recording(s)")


def main(args: argparse.Namespace) -> int:
    """Run ``voicelive-nb replay``: one replay, or a sweep when an option has several values."""
    import pandas as pd

    from voicelive_nb.recording.recording import Recording
    from voicelive_nb.tuning.replay import replay, speed_note, vad_sweep

    try:
        rec = Recording.load(args.session_dir)
    except FileNotFoundError as exc:
        print(f"voicelive-nb replay: {exc}", file=sys.stderr)
        return 2
    grid = {
        name: values
        for name, values in (
            ("silence_duration_ms", args.silence_ms),
            ("threshold", args.threshold),
            ("prefix_padding_ms", args.prefix_ms),
        )
        if values
    }
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 60):
        if any(len(v) > 1 for v in grid.values()):
            table = vad_sweep(rec, grid, out=args.out, speed=args.speed)
            print(f"original: {rec.tracker.turn_count} turns")
            print(table.to_string(index=False, na_rep="-"))
            if table.attrs.get("note"):
                print(table.attrs["note"])
            return 0
        result = replay(rec, out=args.out, speed=args.speed, **{k: v[0] for k, v in grid.items()})
        print(Recording.compare(rec, result, names=("original", "replay")).to_string(na_rep="-"))
        note = speed_note(result.session.get("replay", {}).get("speed"))
        if note:
            print(note)
        print(f"wrote {result.path}")
    return 0
