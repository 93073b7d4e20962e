"""The local half of ``SessionConfig.echo_cancellation`` (the server half is a session field).

A sound-device mic and speaker are a *pair*: what the speaker plays can be told apart in
the mic by the sound card's clocks.  Every such pair a session opens is wrapped: the speaker
keeps an :class:`~voicelive_nb.audio.echo_mic.EchoReference` of what it plays and the mic
becomes an :class:`~voicelive_nb.audio.echo_mic.EchoCancellingMic`, cancelling when the mode
is ``"local"`` or ``"both"`` and otherwise only metering the echo (ERL, published as
``audio.echo`` records: the panel shows whether there is an echo to cancel at all).  The
canceller can then be switched on and off live.  Any other mic or speaker (a WAV file, the
browser page, an object of the caller's) gets nothing local, and asking for local
cancellation there is a ValueError naming what to use instead; without the ``livekit``
package it is :class:`~voicelive_nb.audio.apm.EchoCancellerUnavailable` with the install
command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from voicelive_nb.audio.sources import AudioSink, AudioSource

__all__ = ["check_echo_specs", "set_local_echo", "with_echo_canceller"]

_LOCAL = ("local", "both")


def _not_a_pair(what: str, mode: str) -> ValueError:
    return ValueError(
        f"echo_cancellation={mode!r} needs a sound-device mic and speaker (the local canceller lines up "
        f"what the speaker plays with what the mic hears by the sound card's clocks), but {what}. "
        "Use echo_cancellation='server' (the service cancels the echo; any mic), or 'off' with headphones "
        "or a browser mic (the browser cancels its own echo)."
    )


def check_echo_specs(mode: str, mic: Any, speaker: Any, headless: bool = False) -> None:
    """Early check of ``mic=``/``speaker=`` arguments for a local mode (ValueError naming the fix)."""
    if mode not in _LOCAL:
        return
    for what, spec in (("mic", mic), ("speaker", speaker)):
        if isinstance(spec, Path) or (isinstance(spec, str) and spec.lower().endswith(".wav")):
            raise _not_a_pair(f"the {what} is the WAV file {str(spec)!r}", mode)
        if spec == "browser":
            raise _not_a_pair(f"the {what} is the browser page's", mode)
        if spec is None and headless:
            raise _not_a_pair(f"the session is headless (VOICELIVE_NB_HEADLESS): the {what} is a file", mode)


def _is_pair(source: AudioSource, sink: AudioSink) -> bool:
    from voicelive_nb.audio.streams import DeviceMic, DeviceSpeaker

    return isinstance(source, DeviceMic) and isinstance(sink, DeviceSpeaker)


def with_echo_canceller(source: AudioSource, sink: AudioSink, mode: str) -> AudioSource:
    """The mic a session reads: a device pair's mic wrapped (see the module docstring)."""
    from voicelive_nb.audio.echo_mic import EchoCancellingMic, EchoReference

    local = mode in _LOCAL
    if isinstance(source, EchoCancellingMic):  # the caller's own: its canceller follows the mode
        source.enabled = local
        return source
    if not _is_pair(source, sink):
        if local:
            raise _not_a_pair(f"the mic is {type(source).__name__} and the speaker {type(sink).__name__}", mode)
        return source
    reference = EchoReference(int(getattr(sink, "rate", 24000)))
    setattr(sink, "echo_reference", reference)  # noqa: B010  (DeviceSpeaker's attribute)
    return EchoCancellingMic(source, reference, enabled=local)


def set_local_echo(source: AudioSource | None, mode: str) -> None:
    """Switch a running session's local canceller for ``mode`` (ValueError if it has none)."""
    from voicelive_nb.audio.echo_mic import EchoCancellingMic

    if isinstance(source, EchoCancellingMic):
        source.enabled = mode in _LOCAL
    elif mode in _LOCAL:
        raise _not_a_pair(f"this session's mic is {type(source).__name__}", mode)
