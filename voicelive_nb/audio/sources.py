"""The audio interfaces the session talks to: :class:`AudioSource`, :class:`AudioSink`, and their options.

A source captures int16 mono blocks at ``rate`` (24 kHz for Voice Live) and hands them to the
session loop; a sink drains a :class:`~voicelive_nb.audio.player.Player` into an output.

Implementations:

====================  ==========================================  ==============================
class                 what                                        module
====================  ==========================================  ==============================
``DeviceMic``         a sounddevice input stream (PortAudio)      :mod:`.streams`
``WavMic``            a WAV file or array, paced in real time     :mod:`.wav`
``BrowserMic``        the notebook page's microphone              :mod:`.browser.mic`
``DeviceSpeaker``     a sounddevice output stream                 :mod:`.streams`
``AdaptiveSpeaker``   a device speaker that acts at the edges     :mod:`.adaptive`
``CaptureSpeaker``    drains the player into memory / a WAV file  :mod:`.wav`
``BrowserSpeaker``    the notebook page's speaker                 :mod:`.browser.speaker`
====================  ==========================================  ==============================

Source contract (all methods from the session thread unless said otherwise):

``rate``, ``blocksize``
    Samples per second and per block of what ``read`` returns.
``start(notify=None)``
    Begin capturing.  ``notify`` (optional) is called from a *non-audio* thread each time
    one or more blocks became available; it must be cheap and thread-safe, e.g.
    ``lambda: loop.call_soon_threadsafe(event.set)``.  Without it, poll ``read``.
``read() -> (block, t) | None``
    The next block (``blocksize`` int16 samples, 1-D, at ``rate``) and the
    :func:`time.monotonic` time its first sample was captured; None if none is ready.
    The array may be reused by the source after the next ``read``: copy it to keep it.
``stop()``
    Idempotent; leaves no thread or stream behind.

Sink contract: ``rate``, ``blocksize``; ``start(player)`` begins calling ``player.fill`` at
the real-time rate; ``stop()`` (idempotent).

Optional capabilities.  A source or sink implements those that apply to it; the session
asks with ``isinstance`` (each is a ``runtime_checkable`` protocol below), never ``getattr``:

* :class:`Described` -- ``description``, a name for logs and ``session.info`` (all built-ins);
* :class:`InputStats` -- ``overflows`` (blocks lost) and ``input_latency_s`` (all sources);
* :class:`OutputStats` -- ``underflows`` (device-level) and ``output_latency_s`` (all sinks);
* :class:`FiniteSource` -- ``finished``: the last block was delivered (all sources);
* :class:`WakeSource` -- ``wake_fileno()``, a descriptor readable while blocks wait: the
  session watches it with ``loop.add_reader`` (and reads it dry) instead of passing
  ``notify``, and stops watching before ``stop`` (``DeviceMic``);
* :class:`StartsOnQueue` -- ``audio_queued()``: answer audio was just queued; start it now,
  not behind the silence the device holds (``AdaptiveSpeaker``);
* :class:`DropsOnFlush` -- ``drop_buffered()``: right after a barge-in flush, drop what the
  device holds; it may return a ``concurrent.futures.Future`` of a :class:`FlushReport`,
  what the listener really heard (``AdaptiveSpeaker``, ``BrowserSpeaker``).

Without a capability the session takes the neutral value: the class name, no overflows,
underflows or latency, never finished, woken by ``notify``, nothing to do at the edges.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from voicelive_nb.audio.player import Player

__all__ = [
    "AudioSink",
    "AudioSource",
    "Described",
    "DropsOnFlush",
    "FiniteSource",
    "FlushReport",
    "InputStats",
    "Notify",
    "OutputStats",
    "StartsOnQueue",
    "WakeSource",
    "description",
]

Notify = Callable[[], None]


@runtime_checkable
class AudioSource(Protocol):
    """Something that captures int16 mono blocks (a mic, a WAV file, a browser page)."""

    @property
    def rate(self) -> int:
        """Sample rate of the blocks returned by :meth:`read` (Hz)."""
        ...

    @property
    def blocksize(self) -> int:
        """Samples per block returned by :meth:`read`."""
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
    """Something that plays a :class:`~voicelive_nb.audio.player.Player` (a speaker, a file, a page)."""

    @property
    def rate(self) -> int:
        """Sample rate the player must be fed at (Hz)."""
        ...

    @property
    def blocksize(self) -> int:
        """Samples per ``player.fill`` call."""
        ...

    def start(self, player: Player) -> None:
        """Begin draining ``player`` at the real-time rate."""
        ...

    def stop(self) -> None:
        """Stop (idempotent); leaves no thread or stream behind."""
        ...


# ---------------------------------------------------------------------- optional capabilities


@runtime_checkable
class Described(Protocol):
    """A source or sink with a human-readable name."""

    @property
    def description(self) -> str:
        """For logs and ``session.info`` records."""
        ...


@runtime_checkable
class InputStats(Protocol):
    """A source that reports lost blocks and its capture latency."""

    @property
    def overflows(self) -> int:
        """Blocks lost to device overruns or a reader that fell behind."""
        ...

    @property
    def input_latency_s(self) -> float:
        """Capture latency reported by the device (0 for files)."""
        ...


@runtime_checkable
class OutputStats(Protocol):
    """A sink that reports device underflows and its output latency."""

    @property
    def underflows(self) -> int:
        """Output underflows reported by the device."""
        ...

    @property
    def output_latency_s(self) -> float:
        """Output latency reported by the device (0 for files)."""
        ...


@runtime_checkable
class FiniteSource(Protocol):
    """A source that ends (a WAV file, scripted prompts)."""

    @property
    def finished(self) -> bool:
        """True once the last block was delivered."""
        ...


@runtime_checkable
class WakeSource(Protocol):
    """A source whose captured blocks make a file descriptor readable (no relay thread)."""

    def wake_fileno(self) -> int:
        """The descriptor the session watches with ``loop.add_reader``; read it dry on each wake."""
        ...


@runtime_checkable
class FlushReport(Protocol):
    """What a sink far from the listener learnt about a flush (see :class:`EdgeSink`)."""

    @property
    def unplayed_ms(self) -> float:
        """Audio the player counted as played that the listener never heard."""
        ...

    @property
    def stale_ms(self) -> float:
        """From the flush to the listener's output going silent."""
        ...


@runtime_checkable
class StartsOnQueue(Protocol):
    """A sink that starts an answer at once rather than behind the silence its device holds."""

    def audio_queued(self) -> object:
        """Answer audio was just queued in the player (called from any thread but the callback's)."""
        ...


@runtime_checkable
class DropsOnFlush(Protocol):
    """A sink that can drop what its device (or page) holds at a barge-in."""

    def drop_buffered(self) -> object:
        """Called right after ``player.flush``: drop what the device holds.

        May return a ``concurrent.futures.Future`` resolving to a :class:`FlushReport`; the
        session then truncates at what the listener really heard.  Any other result is ignored.
        """
        ...


def description(part: object) -> str:
    """``part.description`` if it has one (and it works), else its class name."""
    try:
        if isinstance(part, Described) and part.description:
            return str(part.description)
    except Exception:  # a foreign object's property failing must not stop a session
        pass
    return type(part).__name__
