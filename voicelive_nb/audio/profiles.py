"""The latency/robustness knob: block sizes and device buffers, and a speaker that hears the edges.

Every millisecond queued in a device is a millisecond the user waits -- for the mic to
reach the socket, for an answer to come out, for the assistant to go quiet after a
barge-in.  But a buffer is also what covers an audio callback that runs late, and in a
notebook the callbacks share the GIL with the kernel (plots, widgets, the user's cells)
and the CPU with everything else.

The speaker side of that trade-off is mostly dissolved by :class:`AdaptiveSpeaker`: the
two moments a user hears -- an answer's first sample and the silence after a barge-in --
are *edges*, and at each edge it aborts and restarts its stream, which drops what the
device holds; so those two latencies are a few ms whatever the buffer, and the buffer
only has to be big enough to ride out late callbacks.  It starts small, goes straight to
its largest buffer after an underflow, and comes back down a step at a time once the
machine is quiet again (grow first, shrink later).  Its jitter buffer (audio an answer
waits for before it starts, beyond what the device takes at once) is 60 ms, and grows
in 50 ms steps each time the player runs dry in the middle of an answer.
:data:`PROFILES` names the remaining choices:

============  ==========================  ===============================================
profile       mic                         speaker
============  ==========================  ===============================================
``"auto"``    10 ms blocks, ``"low"``     40 ms blocks, 80 ms buffer, 320 ms after an
(default)                                 underflow, halved after each 60 s without one
                                          (while idle); edge restarts
``"low"``     10 ms blocks, ``"low"``     10 ms blocks, 20 ms buffer, never grows
``"robust"``  20 ms blocks, ``"low"``     50 ms blocks, 150 ms buffer, up to 600 ms
============  ==========================  ===============================================

Why 40 ms speaker blocks: each callback needs the GIL, and when the kernel runs pure
Python a thread waits up to a switch interval (5 ms) for it, more with several threads
wanting it.  At 100 callbacks a second that waiting alone could exceed real time on a
busy machine however large the buffer; at 25 a second it cannot.  With edge restarts the
block size no longer shows in the answer's onset or the barge-in.  The mic keeps 10 ms
blocks: its block is its latency, and a late mic callback loses nothing (PulseAudio and
the mic's 5 s ring hold the audio).

The figures behind these choices come from ``bench/latency_bench.py`` (the report that
came with this module has the table).  On PulseAudio a stream's buffer is about
``latency`` (PortAudio's suggested latency), never less than two blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

from voicelive_nb.audio.adaptive import AdaptiveSpeaker
from voicelive_nb.audio.streams import DeviceMic, Latency

__all__ = ["DEFAULT_PROFILE", "PROFILES", "LatencyProfile", "profile"]


@dataclass(frozen=True, slots=True)
class LatencyProfile:
    """Block sizes and device buffers of the mic and the speaker.

    Attributes:
        name: The profile's name.
        mic_block_ms: Mic block (one ``input_audio_buffer.append``) in ms.
        mic_latency: PortAudio input latency (``"low"``, ``"high"`` or seconds).
        speaker_block_ms: Speaker callback size in ms (the barge-in granularity).
        speaker_latency_s: Speaker buffer to start with (seconds).
        speaker_max_latency_s: Largest buffer an underflow may grow it to (equal to
            ``speaker_latency_s``: never adapts).
    """

    name: str
    mic_block_ms: float
    mic_latency: Latency
    speaker_block_ms: float
    speaker_latency_s: float
    speaker_max_latency_s: float

    @property
    def adaptive(self) -> bool:
        """True if the speaker buffer grows after underflows."""
        return self.speaker_max_latency_s > self.speaker_latency_s

    def mic(self, device: int | str | None = None, rate: int = 24000) -> DeviceMic:
        """A :class:`DeviceMic` with this profile's settings."""
        return DeviceMic(device, rate=rate, blocksize=_samples(self.mic_block_ms, rate), latency=self.mic_latency)

    def speaker(self, device: int | str | None = None, rate: int = 24000) -> AdaptiveSpeaker:
        """An :class:`AdaptiveSpeaker` with this profile's settings (fixed buffer unless adaptive)."""
        block = _samples(self.speaker_block_ms, rate)
        return AdaptiveSpeaker(
            device,
            rate=rate,
            blocksize=block,
            latency=self.speaker_latency_s,
            max_latency=self.speaker_max_latency_s,
        )


PROFILES: dict[str, LatencyProfile] = {
    "low": LatencyProfile("low", 10.0, "low", 10.0, 0.02, 0.02),
    "auto": LatencyProfile("auto", 10.0, "low", 40.0, 0.08, 0.32),
    "robust": LatencyProfile("robust", 20.0, "low", 50.0, 0.15, 0.6),
}
"""The named profiles (see the module table); ``"auto"`` is the default."""

DEFAULT_PROFILE = "auto"


def profile(value: str | LatencyProfile | None) -> LatencyProfile:
    """Resolve a ``latency=`` argument: None (the default, ``"auto"``), a name, or a profile."""
    if value is None:
        return PROFILES[DEFAULT_PROFILE]
    if isinstance(value, LatencyProfile):
        return value
    if isinstance(value, str) and value in PROFILES:
        return PROFILES[value]
    raise ValueError(
        f"latency={value!r} is not a latency profile: use one of {', '.join(map(repr, PROFILES))} "
        "(lower latency <-> fewer glitches on a busy machine) or a LatencyProfile(...)"
    )


def _samples(ms: float, rate: int) -> int:
    return max(1, round(ms * rate / 1000.0))
