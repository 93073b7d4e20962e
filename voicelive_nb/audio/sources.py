"""The two audio interfaces the session engine talks to: :class:`AudioSource` and :class:`AudioSink`.

A source captures int16 mono blocks at ``rate`` (24 kHz for Voice Live) and hands them to the
session loop; a sink drains a :class:`~voicelive_nb.audio.player.Player` into an output.

Implementations:

====================  ==========================================  ============================
class                 what                                        module
====================  ==========================================  ============================
``DeviceMic``         a sounddevice input stream (PortAudio)      :mod:`.streams`
``WavMic``            a WAV file or array, paced in real time     :mod:`.wav`
``DeviceSpeaker``     a sounddevice output stream                 :mod:`.streams`
``CaptureSpeaker``    drains the player into memory / a WAV file  :mod:`.wav`
====================  ==========================================  ============================

Source contract (all methods from the session thread unless said otherwise):

``start(notify=None)``
    Begin capturing.  ``notify`` (optional) is called from a *non-audio* thread each time
    one or more blocks became available; it must be cheap and thread-safe, e.g.
    ``lambda: loop.call_soon_threadsafe(event.set)``.  Without it, poll :meth:`read`.
``wake_fileno() -> int`` (optional)
    A source that has it is started without ``notify``: the session watches this file
    descriptor with ``loop.add_reader`` (it is readable while blocks wait; read it dry)
    and removes the reader before ``stop``.  :class:`DeviceMic` offers it, so a captured
    block wakes the session loop straight from the kernel, with no relay thread.
``read() -> (block, t) | None``
    The next block (``blocksize`` int16 samples, 1-D, at ``rate``) and the
    :func:`time.monotonic` time its first sample was captured; None if none is ready.
    The array may be reused by the source after the next ``read``: copy it to keep it.
``stop()``
    Idempotent; leaves no thread or stream behind.
``overflows``
    Blocks lost: the device overran, or the reader fell behind the bounded buffer.
``input_latency_s``, ``description``, ``finished`` (a finite WAV source has delivered everything).

Sink contract: ``start(player)`` begins calling ``player.fill`` at the real-time rate,
``stop()`` (idempotent), ``underflows`` (device-level output underflows), ``output_latency_s``,
``description``, ``rate``, ``blocksize``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from voicelive_nb.audio.player import Player

__all__ = ["AudioSink", "AudioSource", "Notify"]

Notify = Callable[[], None]


@runtime_checkable
class AudioSource(Protocol):
    """Something that captures int16 mono blocks (a mic, a WAV file)."""

    @property
    def rate(self) -> int:
        """Sample rate of the blocks returned by :meth:`read` (Hz)."""
        ...

    @property
    def blocksize(self) -> int:
        """Samples per block returned by :meth:`read`."""
        ...

    @property
    def overflows(self) -> int:
        """Blocks lost to device overruns or a reader that fell behind."""
        ...

    @property
    def input_latency_s(self) -> float:
        """Capture latency reported by the device (0 for files)."""
        ...

    @property
    def description(self) -> str:
        """Human-readable name, for logs and session.info records."""
        ...

    @property
    def finished(self) -> bool:
        """True when a finite source delivered its last block."""
        ...

    def start(self, notify: Notify | None = None) -> None:
        """Begin capturing; ``notify()`` is called (off the audio thread) when blocks arrive."""
        ...

    def read(self) -> tuple[np.ndarray, float] | None:
        """Next captured block and the monotonic time of its first sample, or None."""
        ...

    def stop(self) -> None:
        """Stop capturing (idempotent)."""
        ...


@runtime_checkable
class AudioSink(Protocol):
    """Something that plays a :class:`~voicelive_nb.audio.player.Player` (a speaker, a file)."""

    @property
    def rate(self) -> int:
        """Sample rate the player must be fed at (Hz)."""
        ...

    @property
    def blocksize(self) -> int:
        """Samples per ``player.fill`` call."""
        ...

    @property
    def underflows(self) -> int:
        """Output underflows reported by the device."""
        ...

    @property
    def output_latency_s(self) -> float:
        """Output latency reported by the device (0 for files)."""
        ...

    @property
    def description(self) -> str:
        """Human-readable name, for logs and session.info records."""
        ...

    def start(self, player: Player) -> None:
        """Begin draining ``player`` at the real-time rate."""
        ...

    def stop(self) -> None:
        """Stop (idempotent); leaves no thread or stream behind."""
        ...
