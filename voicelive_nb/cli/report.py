"""``voicelive-nb report SESSION_DIR [--out report.html|report.png]``.

Prints the turn table and the summary of a recorded session, and writes the report file
if asked (:mod:`voicelive_nb.report.html`).
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``voicelive-nb report``."""
    parser.add_argument("session_dir", metavar="SESSION_DIR", help="a folder written by a recording session")
    parser.add_argument("--out", metavar="FILE", help="also write a report: FILE.html (plots embedded) or FILE.png")


def main(args: argparse.Namespace) -> int:
    """Run ``voicelive-nb report``."""
    import matplotlib

    matplotlib.use("Agg")
    from voicelive_nb.recording.recording import Recording
    from voicelive_nb.report.html import summary_text, write_report

    try:
        rec = Recording.load(args.session_dir)
    except FileNotFoundError as exc:
        print(f"voicelive-nb report: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(summary_text(rec))
    if getattr(args, "out", None):
        path = write_report(rec, args.out)
        print(f"wrote {path}")
    return 0
