"""Sound devices through sounddevice/PortAudio, imported lazily.

* :func:`sounddevice` -- the module, or an :class:`AudioUnavailableError` that names
  ``libportaudio2`` and how to install it.
* :func:`list_devices` -> ``[DeviceInfo]``; :func:`find_device` resolves a name (substring,
  case-insensitive) or index, with an error listing what exists.
* :func:`reinitialize` -- re-scan devices (PortAudio caches the list at import, so a PulseAudio
  daemon started afterwards is invisible until this is called).
* :func:`format_table` -- the table ``voicelive-nb devices`` prints (:mod:`voicelive_nb.cli.devices`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from types import ModuleType
from typing import Literal

__all__ = [
    "AudioUnavailableError",
    "DeviceInfo",
    "find_device",
    "format_table",
    "list_devices",
    "quiet_alsa",
    "reinitialize",
    "sounddevice",
]

Kind = Literal["input", "output"]

_INSTALL_HINT = (
    "PortAudio is needed for sound devices: install it with `sudo apt-get install libportaudio2` "
    "(Debian/Ubuntu), `brew install portaudio` (macOS), and `pip install sounddevice`. "
    "Without devices, use WAV files: WavMic / CaptureSpeaker (or mic='file.wav')."
)

_lock = threading.Lock()
_open_streams = 0  # maintained by streams.py; reinitialize() refuses while > 0


class AudioUnavailableError(RuntimeError):
    """sounddevice or PortAudio is missing, or no device matches."""


_alsa_quiet = False


def quiet_alsa() -> bool:
    """Keep libasound's messages ("underrun occurred", "Unknown PCM cards.pcm.rear" ...) off stderr.

    libasound prints them from C straight to file descriptor 2, which Jupyter shows as pink
    stderr boxes under whatever cell is running; PortAudio's own errors still raise, and
    underruns are counted by our sinks (``output_underflows``).  The handler installed is libc's
    ``getpid``: a C function that ignores its arguments, so an xrun in PortAudio's audio thread
    never enters Python (no GIL, no allocation).  ``VOICELIVE_NB_ALSA_MESSAGES=1`` keeps the
    messages.  Returns True when they are silenced (Linux with libasound), else False.
    """
    global _alsa_quiet
    if _alsa_quiet:
        return True
    import ctypes
    import ctypes.util
    import os
    import sys

    if not sys.platform.startswith("linux") or os.environ.get("VOICELIVE_NB_ALSA_MESSAGES"):
        return False
    name = ctypes.util.find_library("asound")
    if name is None:
        return False
    try:
        asound = ctypes.CDLL(name)
        libc = ctypes.CDLL(None)
        asound.snd_lib_error_set_handler.argtypes = [ctypes.c_void_p]
        asound.snd_lib_error_set_handler.restype = ctypes.c_int
        handler = ctypes.cast(libc.getpid, ctypes.c_void_p)  # C, ignores the (file, line, func, err, fmt, ...)
        _alsa_quiet = bool(asound.snd_lib_error_set_handler(handler) == 0)
    except (OSError, AttributeError):
        return False
    return _alsa_quiet


def sounddevice() -> ModuleType:
    """Import and return :mod:`sounddevice`, or raise :class:`AudioUnavailableError` saying why.

    libasound's stderr chatter is silenced first (:func:`quiet_alsa`): importing sounddevice
    initialises PortAudio, which probes every ALSA device.
    """
    quiet_alsa()
    try:
        import sounddevice as sd
    except OSError as exc:  # sounddevice raises OSError when libportaudio is missing
        raise AudioUnavailableError(f"{_INSTALL_HINT} ({exc})") from exc
    except ImportError as exc:
        raise AudioUnavailableError(f"the sounddevice package is not installed. {_INSTALL_HINT}") from exc
    module: ModuleType = sd
    return module


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """One PortAudio device.

    Attributes:
        index: PortAudio device index.
        name: Device name as PortAudio reports it.
        hostapi: Host API name (ALSA, PulseAudio, CoreAudio, WASAPI...).
        max_input_channels: 0 for output-only devices.
        max_output_channels: 0 for input-only devices.
        default_samplerate: The device's default rate (Hz).
        default_input: Is the default input device.
        default_output: Is the default output device.
        low_input_latency: Reported low input latency (s).
        low_output_latency: Reported low output latency (s).
    """

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    default_input: bool = False
    default_output: bool = False
    low_input_latency: float = 0.0
    low_output_latency: float = 0.0


def list_devices() -> list[DeviceInfo]:
    """All PortAudio devices (empty list when there are none)."""
    sd = sounddevice()
    apis = sd.query_hostapis()
    try:
        default_in, default_out = (int(i) for i in sd.default.device)
    except (TypeError, ValueError):
        default_in = default_out = -1
    out = []
    for d in sd.query_devices():
        out.append(
            DeviceInfo(
                index=int(d["index"]),
                name=str(d["name"]),
                hostapi=str(apis[d["hostapi"]]["name"]),
                max_input_channels=int(d["max_input_channels"]),
                max_output_channels=int(d["max_output_channels"]),
                default_samplerate=float(d["default_samplerate"]),
                default_input=int(d["index"]) == default_in,
                default_output=int(d["index"]) == default_out,
                low_input_latency=float(d["default_low_input_latency"]),
                low_output_latency=float(d["default_low_output_latency"]),
            )
        )
    return out


def find_device(name_or_index: int | str | None, kind: Kind = "input") -> DeviceInfo:
    """The device matching an index or a (case-insensitive) name substring, with ``kind`` channels.

    ``None`` means the default device of that kind.  Raises :class:`AudioUnavailableError`
    listing the devices that exist when nothing (or more than one name) matches.
    """
    if kind not in ("input", "output"):
        raise ValueError(f"kind must be 'input' or 'output', got {kind!r}")
    devices = list_devices()
    usable = [d for d in devices if (d.max_input_channels if kind == "input" else d.max_output_channels) > 0]
    if not usable:
        raise AudioUnavailableError(
            f"no {kind} devices found. On a machine without a sound card start a PulseAudio "
            "daemon (voicelive_nb.audio.VirtualAudio does it), then call "
            "voicelive_nb.audio.devices.reinitialize(); or use WAV files instead."
        )
    if name_or_index is None:
        for d in usable:
            if d.default_input if kind == "input" else d.default_output:
                return d
        return usable[0]
    if isinstance(name_or_index, int) or (isinstance(name_or_index, str) and name_or_index.isdigit()):
        idx = int(name_or_index)
        for d in usable:
            if d.index == idx:
                return d
        raise AudioUnavailableError(f"no {kind} device with index {idx}. {_table_hint(usable, kind)}")
    wanted = str(name_or_index).lower()
    exact = [d for d in usable if d.name.lower() == wanted]
    if exact:
        return exact[0]
    matches = [d for d in usable if wanted in d.name.lower()]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise AudioUnavailableError(f"no {kind} device named {name_or_index!r}. {_table_hint(usable, kind)}")
    names = ", ".join(repr(d.name) for d in matches)
    raise AudioUnavailableError(f"{name_or_index!r} matches several {kind} devices ({names}); be more specific")


def reinitialize() -> None:
    """Re-scan devices (restart PortAudio).  Refused while our streams are open."""
    sd = sounddevice()
    with _lock:
        if _open_streams > 0:
            raise RuntimeError(
                f"cannot re-initialise PortAudio while {_open_streams} stream(s) are open; stop them first"
            )
        sd._terminate()
        sd._initialize()


def _table_hint(devices: list[DeviceInfo], kind: str) -> str:
    listed = "; ".join(f"[{d.index}] {d.name}" for d in devices)
    return f"Available {kind} devices: {listed} (see `voicelive-nb devices`)"


def format_table(devices: list[DeviceInfo]) -> str:
    """A plain-text table of devices (``*`` marks defaults)."""
    header = f"{'idx':>3}  {'name':<36} {'api':<10} {'in':>3} {'out':>3} {'rate':>7}  default"
    lines = [header, "-" * len(header)]
    for d in devices:
        default = ",".join(k for k, v in (("in", d.default_input), ("out", d.default_output)) if v)
        lines.append(
            f"{d.index:>3}  {d.name[:36]:<36} {d.hostapi[:10]:<10} {d.max_input_channels:>3} "
            f"{d.max_output_channels:>3} {d.default_samplerate:>7.0f}  {default}"
        )
    return "\n".join(lines)
