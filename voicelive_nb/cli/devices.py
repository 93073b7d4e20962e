"""``voicelive-nb devices [--kind input|output]``: the sound devices PortAudio sees."""

from __future__ import annotations

import argparse

from voicelive_nb.audio.devices import AudioUnavailableError, format_table, list_devices


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``voicelive-nb devices``."""
    parser.add_argument("--kind", choices=["input", "output"], help="only devices of this kind")


def main(args: argparse.Namespace) -> int:
    """``voicelive-nb devices``: print the device table; 1 if there are no devices."""
    try:
        devices = list_devices()
    except AudioUnavailableError as exc:
        print(f"voicelive-nb devices: {exc}")
        return 1
    kind = getattr(args, "kind", None)
    if kind == "input":
        devices = [d for d in devices if d.max_input_channels > 0]
    elif kind == "output":
        devices = [d for d in devices if d.max_output_channels > 0]
    if not devices:
        print(
            "No audio devices found. Headless? Start PulseAudio (see voicelive_nb.audio.VirtualAudio) or use WAV files."
        )
        return 1
    print(format_table(devices))
    return 0
