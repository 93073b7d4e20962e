"""Turn the ``mic=`` / ``speaker=`` arguments of :class:`~voicelive_nb.session.VoiceSession` into objects.

=========================  ==============================================  ==========================
value                      mic                                             speaker
=========================  ==============================================  ==========================
None                       the default input device (``DeviceMic``);       the default output device
                           with ``VOICELIVE_NB_HEADLESS=1`` a ``WavMic``   (``DeviceSpeaker``); headless:
                           of synthesised demo prompts                     a ``CaptureSpeaker`` in memory
``"x.wav"`` / ``Path``     ``WavMic`` playing the file in real time        ``CaptureSpeaker`` writing it
``"browser"``              the notebook page's microphone (``BrowserMic``  the page's speaker
                           of the kernel's shared ``BrowserAudioLink``,    (``BrowserSpeaker``)
                           shown in the cell's output)
int or other str           ``DeviceMic(device=...)`` (index or name)       ``DeviceSpeaker(device=...)``
an object                  used as is (an ``AudioSource``)                 used as is (an ``AudioSink``)
=========================  ==============================================  ==========================

Objects are created fresh on every :meth:`VoiceSession.start`, so a session can be
started again after a stop; objects passed in are reused as they are.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voicelive_nb.audio.sources import AudioSink, AudioSource, description

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.audio.browser.link import BrowserAudioLink

HEADLESS_ENV = "VOICELIVE_NB_HEADLESS"
BROWSER = "browser"
"""``mic=``/``speaker=`` value for the notebook page's microphone and speaker."""
AUDIO_ENV = "VOICELIVE_NB_AUDIO"
AUDIO_MODES = ("auto", "local", "browser")


def has_input_device() -> bool:
    """True if PortAudio lists a device that can record (False without PortAudio)."""
    try:
        from voicelive_nb.audio.devices import list_devices

        return any(d.max_input_channels > 0 for d in list_devices())
    except Exception:  # no PortAudio, no sound server: no local mic
        return False


def choose_audio(mode: str = "auto") -> str:
    """``"local"`` (sound devices, or WAVs when headless) or ``"browser"`` (the notebook page) for ``mode``.

    ``auto``: ``VOICELIVE_NB_AUDIO`` (``local`` | ``browser``) if set; else local when headless or
    when the kernel has an input device, else the browser.
    """
    if mode not in AUDIO_MODES:
        raise ValueError(f"audio={mode!r}: choose one of {', '.join(map(repr, AUDIO_MODES))}")
    if mode != "auto":
        return mode
    env = os.environ.get(AUDIO_ENV, "").strip().lower()
    if env in ("local", "browser"):
        return env
    if headless() or not _in_kernel():
        return "local"
    return "local" if has_input_device() else "browser"


def headless() -> bool:
    """True when ``VOICELIVE_NB_HEADLESS`` asks for WAV/capture audio instead of devices."""
    return os.environ.get(HEADLESS_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _is_wav(spec: Any) -> bool:
    return isinstance(spec, Path) or (isinstance(spec, str) and spec.lower().endswith(".wav"))


def check_spec(spec: Any, what: str) -> None:
    """Validate a mic/speaker argument early, in the caller's thread (ValueError naming the fix)."""
    if spec is None or isinstance(spec, int | str | Path):
        if isinstance(spec, bool):
            raise ValueError(f"{what}={spec!r} is not valid: pass None, a device index/name or a .wav path")
        if what == "mic" and _is_wav(spec) and not Path(str(spec)).is_file():
            raise ValueError(f"mic={str(spec)!r}: no such WAV file; pass an existing .wav path or a device")
        return
    needed = ("start", "read", "stop") if what == "mic" else ("start", "stop")
    missing = [name for name in needed if not callable(getattr(spec, name, None))]
    if missing:
        kind = "AudioSource" if what == "mic" else "AudioSink"
        raise ValueError(
            f"{what}={spec!r} is not valid: expected None, a device index or name, a .wav path, "
            f"or an {kind} (missing {', '.join(missing)})"
        )


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (a frontend can show widgets)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    return getattr(get_ipython(), "kernel", None) is not None


def browser_link() -> BrowserAudioLink:
    """The kernel's shared browser audio link, shown in the current cell's output (once)."""
    if not _in_kernel():
        raise ValueError(
            "mic/speaker='browser' needs a notebook: the page of a Jupyter frontend is the sound card. "
            "In a script, use a device (None, an index or name) or a .wav path."
        )
    from voicelive_nb.audio.browser import default_link

    link = default_link()
    link.show()
    return link


def make_source(spec: Any, rate: int = 24000, latency: Any = None) -> AudioSource:
    """An AudioSource for a ``mic=`` argument (see the module table).

    ``latency``: the latency profile of a device mic (:func:`voicelive_nb.audio.profiles.profile`).
    """
    check_spec(spec, "mic")
    if spec == BROWSER:
        return browser_link().mic()
    if spec is None:
        if headless():
            from voicelive_nb.audio.wav import WavMic
            from voicelive_nb.speech.prompts import prompts_wav

            return WavMic(prompts_wav(), rate=rate)
        from voicelive_nb.audio.profiles import profile

        return profile(latency).mic(None, rate)
    if _is_wav(spec):
        from voicelive_nb.audio.wav import WavMic

        return WavMic(str(spec), rate=rate)
    if isinstance(spec, int | str):
        from voicelive_nb.audio.profiles import profile

        return profile(latency).mic(spec, rate)
    source: AudioSource = spec  # an object (check_spec made sure it has start/read/stop)
    return source


def make_sink(spec: Any, rate: int = 24000, latency: Any = None) -> AudioSink:
    """An AudioSink for a ``speaker=`` argument (see the module table).

    ``latency``: the latency profile of a device speaker (:func:`voicelive_nb.audio.profiles.profile`).
    """
    check_spec(spec, "speaker")
    if spec == BROWSER:
        return browser_link().speaker()
    if spec is None:
        if headless():
            from voicelive_nb.audio.wav import CaptureSpeaker

            return CaptureSpeaker(None, rate=rate)
        from voicelive_nb.audio.profiles import profile

        return profile(latency).speaker(None, rate)
    if _is_wav(spec):
        from voicelive_nb.audio.wav import CaptureSpeaker

        return CaptureSpeaker(str(spec), rate=rate)
    if isinstance(spec, int | str):
        from voicelive_nb.audio.profiles import profile

        return profile(latency).speaker(spec, rate)
    sink: AudioSink = spec  # an object (check_spec made sure it has start/stop)
    return sink


def transport(part: object) -> str:
    """How a mic or speaker reaches the user: ``browser``, ``device``, ``file``, ``synthetic`` or ``custom``."""
    from voicelive_nb.audio.browser.mic import BrowserMic
    from voicelive_nb.audio.browser.speaker import BrowserSpeaker
    from voicelive_nb.audio.echo_mic import EchoCancellingMic
    from voicelive_nb.audio.streams import DeviceMic, DeviceSpeaker
    from voicelive_nb.audio.wav import CaptureSpeaker, WavMic
    from voicelive_nb.speech.prompts import PromptMic

    if isinstance(part, EchoCancellingMic):  # (a device mic with the echo canceller around it)
        part = part.mic
    if isinstance(part, BrowserMic | BrowserSpeaker):
        return "browser"
    if isinstance(part, DeviceMic | DeviceSpeaker):
        return "device"
    if isinstance(part, WavMic | CaptureSpeaker):
        return "file"
    return "synthetic" if isinstance(part, PromptMic) else "custom"


def describe(part: object) -> str:
    """A device's human-readable description (never raises)."""
    return description(part)
