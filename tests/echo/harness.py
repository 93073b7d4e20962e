"""Conversations in the virtual room, counted: false barge-ins, true barge-ins, echo figures.

Shared by tests/echo and bench/echo_bench.py.  One *cycle*: the user asks something (a
prompt played into the virtual mic); the assistant answers through the virtual speaker,
whose echo the room (:class:`~voicelive_nb.audio.room.VirtualRoom`) feeds back into the mic.
With ``interrupt`` the user talks over that answer one second in (a true barge-in), and
the answer to the interruption then plays to its end.  Every ``speech_started`` the server
sends is classified by when it arrived: within a user utterance (plus the detection delay)
it is true, otherwise the assistant barged in on its own voice.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voicelive_nb.config import SessionConfig
from voicelive_nb.connection import ConnectionSettings
from voicelive_nb.events import Local
from voicelive_nb.session.voice_session import VoiceSession

REPLY = "Sure. Here is my answer: the weather stays mild and sunny all afternoon, with a light breeze."
"""What the assistant says (about four seconds of eSpeak)."""

DETECT_S = 0.3
"""A speech_started arriving this long after the end of a user utterance still counts as true."""

MODES = ("off", "local", "server", "both")


@dataclass
class Utterance:
    start: float  # monotonic time it started playing into the mic
    end: float
    interrupting: bool
    detected: bool = False


@dataclass
class Tally:
    """What a run of cycles showed."""

    mode: str
    replies: int = 0
    false_barge_ins: int = 0
    interruptions: int = 0
    true_detected: int = 0
    utterances: list[Utterance] = field(default_factory=list)
    meter_spans: list[tuple[Any, Any]] = field(default_factory=list)
    local: dict[str, Any] = field(default_factory=dict)
    server: dict[str, Any] = field(default_factory=dict)
    speech_started: list[float] = field(default_factory=list)
    """Times of every ``speech_started`` while the cycles ran (collected from the bus: the
    session's own history holds only the last ~20 s of records)."""


def open_session(mode: str, connection: ConnectionSettings, device: str = "pulse", record: Any = None) -> VoiceSession:
    """A session on the virtual devices with ``SessionConfig(echo_cancellation=mode)``.

    The session pairs the device mic and speaker itself (:mod:`voicelive_nb.session.echo`):
    its ``mic`` is an :class:`~voicelive_nb.audio.echo_mic.EchoCancellingMic` in every mode
    (cancelling in local/both, metering only otherwise).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    config = SessionConfig(echo_cancellation=mode)
    return VoiceSession(config, connection=connection, mic=device, speaker=device, record=record)


def warm_up(session: VoiceSession, va: Any, timeout: float = 15.0) -> None:
    """Wait until the session is configured and audio played into the virtual mic reaches it.

    A new PulseAudio stream can stall for a moment at first; a prompt played then would
    lose its start.  So a short tone (not speech: the VAD ignores it) is played into the mic
    until a ``mic.audio`` block carries it: from then on the mic path runs.
    """
    session.wait_for("session.updated", timeout=timeout, since=0)
    tone = (2000 * np.sin(2 * np.pi * 440 * np.arange(2400) / 24000)).astype(np.int16)  # 100 ms, -24 dBFS
    deadline = time.monotonic() + timeout
    while True:
        played = va.play_into_mic(tone, wait=False)
        try:
            session.wait_for(
                Local.MIC_AUDIO,
                timeout=1.0,
                predicate=lambda r: float(r.get("rms_db") or -200) > -40,
                since=played.t_start,
            )
            return
        except TimeoutError:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"audio played into the virtual mic did not reach the session in {timeout} s"
                ) from None


def _wait(predicate: Any, timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def _quiet(session: VoiceSession, hold_s: float = 0.6, timeout: float = 20.0) -> None:
    """Wait until the assistant has been silent (nothing generated or queued) for ``hold_s``."""
    since = [time.monotonic()]

    def calm() -> bool:
        if session.assistant_busy:
            since[0] = time.monotonic()
        return time.monotonic() - since[0] >= hold_s

    if not _wait(calm, timeout):
        raise AssertionError(f"the assistant did not go quiet within {timeout} s")


def run_cycles(
    session: VoiceSession,
    va: Any,
    tally: Tally,
    prompt: np.ndarray,
    interruption: np.ndarray,
    cycles: int,
    interrupt: bool = True,
    cycle_timeout: float = 20.0,
    meters: Any = None,
) -> Tally:
    """Run ``cycles`` cycles (see the module docstring) on a started session; returns ``tally``.

    ``meters()``, if given, is called at the start and the end of each reply played to its end
    (single talk: only the assistant speaks) and returns echo meter snapshots for :func:`erle`.
    """

    def collect(record: Any) -> None:
        if record.type == "input_audio_buffer.speech_started":
            tally.speech_started.append(record.t)

    unsubscribe = session.subscribe(collect)
    try:
        _cycles(session, va, tally, prompt, interruption, cycles, interrupt, cycle_timeout, meters)
    finally:
        session.bus.flush()
        unsubscribe()
    classify(tally)
    return tally


def _cycles(
    session: VoiceSession,
    va: Any,
    tally: Tally,
    prompt: np.ndarray,
    interruption: np.ndarray,
    cycles: int,
    interrupt: bool,
    cycle_timeout: float,
    meters: Any,
) -> None:
    for _ in range(cycles):
        t0 = time.monotonic()
        play = va.play_into_mic(prompt, wait=False)
        tally.utterances.append(Utterance(play.t_start, play.t_start + play.duration_s, False))
        tally.replies += 1
        started = session.wait_for(Local.PLAYBACK_STARTED, timeout=cycle_timeout, since=t0)
        if interrupt:
            _wait(lambda started=started: time.monotonic() >= started.t + 1.0, 5.0)
            play = va.play_into_mic(interruption, wait=False)
            tally.utterances.append(Utterance(play.t_start, play.t_start + play.duration_s, True))
            tally.interruptions += 1
            tally.replies += 1
            with contextlib.suppress(TimeoutError):  # (no answer if the interruption was missed)
                started = session.wait_for(
                    Local.PLAYBACK_STARTED, timeout=cycle_timeout, since=play.t_start + play.duration_s
                )
        before = meters() if meters is not None else None
        # the conversation runs until the assistant has been quiet for a while; an assistant
        # that barged in on itself answers its own echo, perhaps again and again: cut it off
        try:
            _quiet(session, hold_s=1.5, timeout=10.0)
            if before is not None:
                tally.meter_spans.append((before, meters()))
        except AssertionError:
            pass
        session.mute()  # (the mic sends silence; the timeline keeps running)
        if session.assistant_busy:
            session.cancel_response()
        _quiet(session, hold_s=0.3)
        session.unmute()


def classify(tally: Tally) -> None:
    """Sort the server's speech_started events into true and false barge-ins.

    True: it arrived while the user spoke (detection takes ~0.3 s; every utterance is longer).
    """
    tally.false_barge_ins = 0
    for u in tally.utterances:
        u.detected = False
    for t in tally.speech_started:
        owner = next((u for u in tally.utterances if u.start - 0.05 <= t <= u.end + DETECT_S), None)
        if owner is not None:
            owner.detected = True
        else:
            tally.false_barge_ins += 1
    tally.true_detected = sum(1 for u in tally.utterances if u.interrupting and u.detected)


def erle(spans: list[tuple[dict[str, float], dict[str, float]]]) -> float | None:
    """ERLE (dB) over the single-talk spans that :func:`run_cycles` collected from the meters."""
    e_in = sum(b["in_energy"] - a["in_energy"] for a, b in spans)
    e_out = sum(b["out_energy"] - a["out_energy"] for a, b in spans)
    if e_in <= 0:
        return None
    return round(10.0 * math.log10(e_in / max(e_out, 1e-3)), 1)
