"""The ``voicelive-nb`` command line (also ``python -m voicelive_nb.cli``).

Each subcommand is one module of this folder exposing ``add_arguments(parser)``
(optional) and ``main(args) -> int``.  This file only wires them up, importing each
module when its subcommand runs, so ``--help`` stays fast and works without the
optional pieces installed.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

# subcommand -> (module with add_arguments/main, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "config": ("voicelive_nb.cli.config", "show the effective configuration (secrets masked)"),
    "check": ("voicelive_nb.cli.check", "check the environment: PortAudio, devices, speech engines"),
    "emulator": ("voicelive_nb.cli.emulator", "run the local Voice Live emulator in the foreground"),
    "demo": ("voicelive_nb.cli.demo", "headless end-to-end run: WAV in, WAV out, latency table"),
    "talk": ("voicelive_nb.cli.talk", "talk live with mic and speakers (Ctrl+C to stop)"),
    "devices": ("voicelive_nb.cli.devices", "list audio devices"),
    "report": ("voicelive_nb.cli.report", "summarise a recorded session folder (table, HTML or PNG)"),
    "replay": ("voicelive_nb.cli.replay", "replay a recording's mic track with other settings"),
    "sweep": ("voicelive_nb.cli.sweep", "sweep VAD settings over a corpus of recordings (all cores or a Dask cluster)"),
}


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (each subcommand's options added by its module)."""
    parser = argparse.ArgumentParser(
        prog="voicelive-nb",
        description="Explore, measure and record Azure AI Voice Live sessions (or the bundled local emulator).",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module_name, _name=name)
        module = _import_or_none(module_name)
        add = getattr(module, "add_arguments", None)
        if add is not None:
            add(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``voicelive-nb``; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.command:
        parser.print_help()
        return 0
    try:
        module = importlib.import_module(args._module)
    except ImportError as exc:
        print(f"voicelive-nb {args.command}: cannot import {args._module}: {exc}", file=sys.stderr)
        return 2
    run = getattr(module, "main", None)
    if run is None:
        print(f"voicelive-nb {args.command}: not available in this version", file=sys.stderr)
        return 2
    try:
        code = int(run(args) or 0)
        sys.stdout.flush()  # here, so a closed pipe is caught below rather than at exit
        return code
    except BrokenPipeError:  # `voicelive-nb config --show | head`: the reader left; not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush must not fail again
        return 141  # as if killed by SIGPIPE, which is what a shell pipeline expects
    except KeyboardInterrupt:
        return 130
    except ValueError as exc:  # configuration problems are reported, not dumped
        print(f"voicelive-nb {args.command}: {exc}", file=sys.stderr)
        return 2


def _import_or_none(name: str) -> object | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None
