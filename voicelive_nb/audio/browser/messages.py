"""The browser audio link's vocabulary and its sans-I/O bookkeeping (no widget, no thread, no clock).

Messages (comm ``msg:custom`` content, one JSON object each; PCM16 little-endian mono
24 kHz in the binary buffers, or base64 strings in ``b64`` where a frontend drops buffers):

page -> kernel
    ``hello {pt}`` + 4 test bytes: the page is there (repeated each second until answered).
    ``hello2 {down}``: whether the kernel's test bytes arrived as a buffer.
    ``state {state, detail, ctx_state, rate, out_latency}``: see :data:`PAGE_TEXTS`.
    ``up {pt, off, [seq, n, cw], [pos], [ev], [tap]}`` + [mic PCM] [+ tap PCM]: one message per
    chunk (``chunk_ms``, 100 ms by default): ``n`` capture frames of 20 ms from frame ``seq``,
    the first captured at page wall time ``cw`` (ms); ``off`` = the page's estimate of kernel
    wall - page wall (ms); ``pos {g, pw, playing}`` = sample ``g`` (see below) of the playback
    is heard at page wall ``pw``; ``ev`` = playback events (started, underrun, drained), stamped
    the same way; ``tap {tw, rate, i}`` = buffer ``i`` holds what the playback rendered, its
    first sample heard at ``tw``.  Heard times come from the AudioContext's output timestamp
    (``getOutputTimestamp``), else its render time plus ``outputLatency + baseLatency``.
    ``ping {pt}``: the page paused its mic because acks stopped (kernel busy); asks for one.
    ``flushed {fid, g, recv, dropped, sw, sr, rx, [cut, rendered, fw]}``: the playback ring was
    dropped; ``g`` samples had been heard, the output was silent at the speaker from page wall
    ``sw`` (and rendered silent by ``sr``, when the page's main thread heard of it; the
    ``flush`` arrived at ``rx``).  ``cut``: the page wall time its output was cut (its playback
    AudioContext suspended, dropping what Chromium held; then resumed): ``sw`` is then at most
    ``cut``, and ``g`` what was heard before it, of ``rendered`` samples rendered (the sound
    server may still play what it had: ~30 ms on PulseAudio with an echo-cancelled mic, see
    ``bench/cut_probe.py``);
    ``fw``: when the silence rendered would have been heard without the cut.

kernel -> page (each with ``to`` = the page's id once known)
    ``hello {got, pt, kt, ks, start, mic}`` + 4 test bytes; ``taken``: a newer page took over.
    ``start {mic}`` / ``stop``: open or release the page's audio.
    ``pcm {g, [ack]}`` + PCM: assistant audio; ``g`` is the global index of its first sample
    (samples sent on this link so far), so one number from the page says how much of what
    was sent was really played.  ``end``: play out a tail shorter than the prebuffer.
    ``flush {fid, kt}``: barge-in.  ``ack {pt, kt, ks}`` (or ``ack`` inside a ``pcm``): the
    kernel is taking the page's messages; the page derives the clock offset from it (NTP's
    four timestamps) and pauses its mic when acks stop.

Rates: one ``up`` per chunk, one ``pcm`` per chunk while the assistant talks, acks at most
every 0.2 s (carried by ``pcm`` when one is going anyway): <= 1000/chunk_ms + a few per second
each way, so 100 ms chunks give about 10-15 and the 60 ms option about 20.
"""

from __future__ import annotations

import base64
import collections
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "CHUNK_MS_CHOICES",
    "FRAME",
    "PAGE_TEXTS",
    "RATE",
    "MicTimeline",
    "PlayheadModel",
    "RateCounter",
    "pcm_buffers",
    "to_buffers",
]

RATE = 24000
"""Sample rate of every PCM buffer on the link (Hz)."""
FRAME = 480
"""Samples per capture frame of the page (20 ms)."""
CHUNK_MS_CHOICES = (60, 80, 100, 120, 160, 200)
"""Audio per message: 100 ms by default; 60 ms is the low-latency option (about 17 audio messages a
second each way; 40 ms would be 25 before any ack or report, over the limit, and measured 68 % of a
core in Chromium against 45 %)."""

PAGE_TEXTS: dict[str, str] = {
    "idle": "Browser audio: press Start (or connect) to use this browser's microphone and speaker.",
    "starting": "Starting the browser's audio…",
    "running": "Browser audio on: talking through this browser's microphone and speaker.",
    "suspended": "The browser holds audio until you interact with the page: click here to start audio.",
    "denied": (
        "The browser refused the microphone (permission denied). Allow it for this site (the icon left of "
        "the address) and press Start again."
    ),
    "nomic": "The browser found no microphone. Plug one in (or pick one in the browser's settings) and press Start.",
    "insecure": (
        "This page is not a secure origin, so the browser hides the microphone (no navigator.mediaDevices). "
        "Open the notebook over https, or through an SSH tunnel to localhost "
        "(ssh -L 8888:localhost:8888 host, then http://localhost:8888)."
    ),
    "vscode": (
        "VS Code's notebook view gives widgets no microphone. Use local devices (Panel(audio='local')) "
        "or open the notebook in JupyterLab in a browser."
    ),
    "unsupported": "This browser has no AudioWorklet; use a current Chrome, Edge, Firefox or Safari.",
    "busy": "kernel busy — mic paused (a running cell holds the kernel; audio resumes when it is free).",
    "other_page": "Another browser tab took over this session's audio.",
    "stopped": "Browser audio stopped.",
    "error": "Browser audio failed",
}
"""What the page says in each state (the page shows them; the kernel reports them)."""

PROBLEM_STATES = frozenset({"denied", "nomic", "insecure", "vscode", "unsupported", "error"})
"""Page states in which no audio can flow until the user acts."""


def pcm_buffers(content: Mapping[str, Any], buffers: Sequence[Any]) -> list[bytes]:
    """The binary parts of a page message: its buffers, or its base64 fallback (``b64``)."""
    b64 = content.get("b64")
    if isinstance(b64, list):
        return [base64.b64decode(x) for x in b64 if isinstance(x, str)]
    return [bytes(b) for b in buffers]


def to_buffers(content: dict[str, Any], parts: Sequence[bytes], binary: bool) -> list[bytes]:
    """Attach ``parts`` to a kernel message: as buffers, or base64 in ``content["b64"]``."""
    if binary or not parts:
        return list(parts)
    content["b64"] = [base64.b64encode(p).decode("ascii") for p in parts]
    return []


def page_to_mono(page_ms: float, offset_ms: float, now_mono: float, now_wall: float) -> float:
    """A page wall-clock time (ms) on this process's monotonic clock, given kernel - page = ``offset_ms``."""
    return now_mono - (now_wall - (page_ms + offset_ms) / 1000.0)


class RateCounter:
    """Messages in the last second, and the most seen in any one-second window."""

    def __init__(self) -> None:
        self._times: collections.deque[float] = collections.deque()
        self.total = 0
        self.max_per_s = 0

    def add(self, now: float) -> None:
        """Count one message at monotonic time ``now``."""
        times = self._times
        times.append(now)
        while times and times[0] <= now - 1.0:
            times.popleft()
        self.total += 1
        self.max_per_s = max(self.max_per_s, len(times))


@dataclass
class MicStats:
    """What :class:`MicTimeline` saw."""

    messages: int = 0
    frames: int = 0
    gap_frames: int = 0
    """Capture frames missing from the sequence (the page dropped them, e.g. while paused)."""
    stale_messages: int = 0
    """Messages dropped because their audio was older than ``max_age_s`` when it arrived."""
    stale_frames: int = 0
    last_lag_s: float = 0.0
    """Capture of a message's first sample -> its arrival in the kernel, for the latest message."""
    max_lag_s: float = 0.0


class MicTimeline:
    """Page mic messages in, ``(block, t_capture)`` out, in ``blocksize`` samples.

    ``t_capture`` is the monotonic time of the block's first sample: the page's capture
    wall time moved onto the kernel's clock with the page's offset estimate.  A message
    whose first sample is more than ``max_age_s`` old on arrival (a kernel that was busy, so
    the page's messages queued up) is dropped rather than burst into the service.
    """

    def __init__(self, blocksize: int = FRAME, max_age_s: float = 1.0) -> None:
        if blocksize <= 0:
            raise ValueError(f"blocksize must be > 0 samples, got {blocksize}")
        self.blocksize = blocksize
        self.max_age_s = max_age_s
        self.stats = MicStats()
        self._next_seq: int | None = None
        self._carry = np.zeros(0, dtype=np.int16)
        self._carry_t = 0.0
        self.trace: list[tuple[float, float, float, float]] | None = None
        """Set to a list to keep (cw, pt, off, arrival wall) in ms per message (benches)."""

    def feed(
        self, content: Mapping[str, Any], pcm: bytes, now_mono: float, now_wall: float
    ) -> list[tuple[np.ndarray, float]]:
        """One ``up`` message with mic audio -> the complete blocks it finishes."""
        seq, n = content.get("seq"), content.get("n")
        if not isinstance(seq, int) or not isinstance(n, int) or n <= 0 or len(pcm) < 2:
            return []
        st = self.stats
        st.messages += 1
        st.frames += n
        if self._next_seq is not None and seq > self._next_seq:
            st.gap_frames += seq - self._next_seq
            self._carry = self._carry[:0]  # the carried samples no longer continue into this audio
        self._next_seq = seq + n
        cw = content.get("cw")
        off = content.get("off")
        if isinstance(cw, (int, float)):
            t0 = page_to_mono(float(cw), float(off) if isinstance(off, (int, float)) else 0.0, now_mono, now_wall)
        else:
            t0 = now_mono - len(pcm) / 2 / RATE
        lag = now_mono - t0
        pt = content.get("pt")
        if self.trace is not None and len(self.trace) < 200_000 and isinstance(cw, (int, float)):
            sent = float(pt) if isinstance(pt, (int, float)) else float("nan")
            self.trace.append((float(cw), sent, float(off) if isinstance(off, (int, float)) else 0.0, now_wall * 1000))
        st.last_lag_s = lag
        st.max_lag_s = max(st.max_lag_s, lag)
        if lag > self.max_age_s + len(pcm) / 2 / RATE:
            st.stale_messages += 1
            st.stale_frames += n
            self._carry = self._carry[:0]
            return []
        samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.int16)
        if self._carry.size:
            t0 = self._carry_t
            samples = np.concatenate([self._carry, samples])
        bs = self.blocksize
        whole = samples.size // bs * bs
        out = [(samples[i : i + bs], t0 + i / RATE) for i in range(0, whole, bs)]
        self._carry = samples[whole:].copy()
        self._carry_t = t0 + whole / RATE
        return out


class PlayheadModel:
    """When will the next sample sent to the page be heard?  (Monotonic seconds.)

    ``sent`` counts the samples sent on the link (the page's global index ``g``).  While the
    page plays, the next sample is heard ``(sent - g) / rate`` after the page's latest report
    of sample ``g``; before the first report of a stream, one transit plus the output latency
    after it is sent.  After the page ran dry (or a flush), the next chunk starts a new stream.
    """

    def __init__(self, rate: int = RATE) -> None:
        self.rate = rate
        self.sent = 0
        self.next_t = 0.0
        self.streaming = False

    def when(self, now: float, start_delay_s: float) -> float:
        """Heard time of the next sample to send (a fresh stream if the page has nothing queued)."""
        if not self.streaming or self.next_t < now + 0.001:
            self.next_t = now + start_delay_s
            self.streaming = True
        return self.next_t

    def advance(self, n: int) -> None:
        """``n`` samples were sent."""
        self.sent += n
        self.next_t += n / self.rate

    def page_position(self, g: int, heard_t: float, playing: bool) -> None:
        """The page reported it plays sample ``g`` at ``heard_t`` (playing) or has stopped."""
        if playing and self.streaming and 0 <= g <= self.sent:
            self.next_t = heard_t + (self.sent - g) / self.rate
        elif not playing and g >= self.sent:
            self.streaming = False

    def reset(self) -> None:
        """A flush: nothing is queued at the page any more."""
        self.streaming = False
