"""Replay a recording's mic track into a new session, and sweep VAD settings over it.

:func:`replay` streams ``mic.wav`` of a recorded session into a fresh
:class:`~voicelive_nb.session.VoiceSession` (the embedded emulator unless a connection
is given), records the result into a new folder and returns it as a
:class:`~voicelive_nb.recording.Recording`.  Against the emulator the audio goes
faster than real time (``speed``; its VAD runs on the audio timeline, so the turns it
finds do not depend on pacing); against the real service it goes in real time.

:func:`vad_sweep` replays once per combination of a grid of VAD settings and
tabulates the turns found and their latencies.

CLI: ``voicelive-nb replay`` (:mod:`voicelive_nb.cli.replay`).

Tool calls: the replayed session's model makes its own calls; by default each is answered
with the recorded output of the matching recorded call (same name and arguments, else the
next call of that name in the recorded order), and ``tools=[fn, ...]`` runs live functions
instead -- :mod:`voicelive_nb.tuning.replay_tools` has the rules.

Pacing faster than real time changes what a *listener* would hear: replies may still
be playing (or generating) when the next user turn starts, so they get interrupted
more often, and voice-to-voice latency is measured from when the audio was *sent*.
Turn boundaries (``start_s``/``end_s``) and counts are unaffected: echo cancellation is off
in a replay (nothing plays its answers into its mic; see
:func:`voicelive_nb.tuning.offline.base_config`).
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from voicelive_nb.config import SessionConfig
    from voicelive_nb.connection import ConnectionSettings
    from voicelive_nb.recording.recording import Recording

log = logging.getLogger(__name__)

EMULATOR_SPEED = 4.0
"""Default replay speed against the emulator (x real time)."""


def speed_note(speed: float | str | None) -> str:
    """One line saying at what pace the times of a replay were measured (empty for real time)."""
    if speed in (None, 1, 1.0):
        return ""
    pace = (
        "as fast as possible"
        if speed == "max" or (isinstance(speed, float) and math.isinf(speed))
        else (f"at {float(speed):g}x real time")
    )
    return (
        f"Times measured with the audio sent {pace}: spans of the audio itself (a silence window, "
        "the detection delay it causes) take that much less wall time, so compare these rows with "
        "each other, not with a live session. Turn counts and start_s/end_s are not affected."
    )


class ReplayMic:
    """An ``AudioSource`` that plays an int16 array at ``speed`` x real time.

    Each block's capture time is when it became due on the (scaled) replay clock,
    so latencies are measured from when the audio was handed over.

    Args:
        audio: int16 mono samples at ``rate``.
        rate: Sample rate (Hz).
        speed: Real-time factor (1 = real time; ``math.inf`` = everything at once).
        blocksize: Samples per block (480 = 20 ms at 24 kHz).
        tail_silence_s: Silence appended so the server's VAD can close the last turn.
    """

    def __init__(
        self, audio: Any, rate: int, *, speed: float = 1.0, blocksize: int = 480, tail_silence_s: float = 1.5
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0 (1 = real time, math.inf = unpaced), got {speed}")
        if rate <= 0 or blocksize <= 0:
            raise ValueError(f"rate and blocksize must be > 0, got {rate} and {blocksize}")
        samples = np.asarray(audio, dtype=np.int16).reshape(-1)
        tail = np.zeros(round(max(0.0, tail_silence_s) * rate), dtype=np.int16)
        data = np.concatenate([samples, tail])
        pad = (-len(data)) % blocksize
        self._data = np.concatenate([data, np.zeros(pad, dtype=np.int16)]) if pad else data
        self._rate = rate
        self._block = blocksize
        self.speed = float(speed)
        self._pos = 0
        self._t0: float | None = None

    overflows = 0
    """Never drops blocks."""
    input_latency_s = 0.0
    """A file has no capture latency."""

    @property
    def rate(self) -> int:
        """Sample rate (Hz)."""
        return self._rate

    @property
    def blocksize(self) -> int:
        """Samples per block."""
        return self._block

    @property
    def description(self) -> str:
        """What is being played."""
        return f"replay of {len(self._data) / self._rate:.1f} s at {self.speed:g}x"

    @property
    def finished(self) -> bool:
        """True once every block was read."""
        return self._t0 is not None and self._pos >= len(self._data)

    def start(self, notify: Any = None) -> None:
        """Start the replay clock."""
        if self._t0 is None:
            self._t0 = time.monotonic()

    def read(self) -> tuple[np.ndarray, float] | None:
        """The next block once it is due, with its (replay-clock) capture time."""
        if self._t0 is None or self._pos >= len(self._data):
            return None
        if not math.isinf(self.speed):
            due = (time.monotonic() - self._t0) * self._rate * self.speed
            if self._pos + self._block > due:
                return None
        pos = self._pos
        self._pos += self._block
        speed = self.speed if not math.isinf(self.speed) else 1e9
        return self._data[pos : pos + self._block], self._t0 + pos / self._rate / speed

    def stop(self) -> None:
        """Nothing to release."""


def _as_recording(recording: Recording | str | Path) -> Recording:
    from voicelive_nb.recording.recording import Recording

    return recording if isinstance(recording, Recording) else Recording.load(recording)


def _base_config(rec: Recording, config: SessionConfig | None) -> SessionConfig:
    from voicelive_nb.tuning.offline import base_config

    return base_config(rec.config, rec.rate, config)


def _new_folder(rec: Recording) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        folder = rec.path.parent / f"{rec.path.name}-replay-{stamp}{f'-{n}' if n else ''}"
        if not folder.exists():
            return folder
    raise FileExistsError(f"no free replay folder next to {rec.path}; pass out=")


def replay(
    recording: Recording | str | Path,
    config: SessionConfig | None = None,
    *,
    connection: ConnectionSettings | None = None,
    out: str | Path | None = None,
    speed: float | None = None,
    settle_s: float = 2.0,
    timeout_s: float | None = None,
    tools: Sequence[Any] | None = None,
    recorded_answers: bool = True,
    **vad: Any,
) -> Recording:
    """Stream a recording's mic track into a new session, record it, return the new recording.

    Args:
        recording: A :class:`~voicelive_nb.recording.Recording` or its folder.
        config: Session settings; default: the recording's own (from ``session.json``); echo
            cancellation off in either case (a replay plays no answer into its mic).
        connection: Where to connect; None = ``ConnectionSettings.resolve()``, which means
            the embedded emulator when no endpoint is configured.
        out: Folder for the new recording (default: ``<folder>-replay-<time>`` next to it).
        speed: x real time; default :data:`EMULATOR_SPEED` against the emulator, else 1.
        settle_s: After the last audio, wait until nothing happened for this long (and
            no response is running or playing).
        timeout_s: Give up (the recording keeps what happened) after this long; default:
            the audio's duration at ``speed`` plus two minutes.
        tools: Python functions (or ``@tool`` objects) to run when the model calls them,
            replacing the recorded definitions of the same names.  None: no function runs.
        recorded_answers: Answer calls to tools without a function from the recording's
            ``tool.result`` records (:mod:`voicelive_nb.tuning.replay_tools`: matched by
            name and arguments, else by the order of the calls); False: such calls get an
            error output ("no tool named X is available here"), as the model would see with
            no function.
        **vad: Turn-detection changes applied on top of ``config``
            (e.g. ``silence_duration_ms=800``).

    Raises:
        ValueError: Bad settings (named), before anything starts.
        RuntimeError: The session failed (e.g. could not connect).
    """
    from voicelive_nb.audio.wav import CaptureSpeaker
    from voicelive_nb.connection import ConnectionSettings
    from voicelive_nb.recording.recording import Recording
    from voicelive_nb.session.voice_session import VoiceSession
    from voicelive_nb.tuning.replay_tools import RecordedAnswers, with_live_tools

    rec = _as_recording(recording)
    cfg = _base_config(rec, config)
    if vad:
        cfg = cfg.with_vad(**vad)
    if tools:
        cfg = with_live_tools(cfg, tools)
    answers = RecordedAnswers.from_recording(rec) if recorded_answers else None
    if speed is None:
        uses_emulator = (connection or ConnectionSettings.resolve()).uses_emulator
        speed = EMULATOR_SPEED if uses_emulator else 1.0
    silence_s = (cfg.turn_detection.silence_duration_ms / 1000.0) if cfg.turn_detection else 0.5
    mic = ReplayMic(rec.mic, rec.rate, speed=speed, tail_silence_s=max(1.5, silence_s + 1.0))
    duration = len(rec.mic) / rec.rate
    speaker = CaptureSpeaker(None, rate=cfg.output_rate, max_s=duration + 120.0)
    folder = Path(out) if out is not None else _new_folder(rec)
    deadline = time.monotonic() + (timeout_s if timeout_s is not None else duration / speed + 120.0)
    session = VoiceSession(cfg, connection=connection, mic=mic, speaker=speaker, record=folder, tool_answers=answers)
    last = [time.monotonic()]

    def activity(record: Any) -> None:
        if record.kind == "server" or record.type.startswith("playback."):
            last[0] = time.monotonic()

    session.subscribe(activity)
    with session:
        caught_up = False
        while time.monotonic() < deadline:
            if session.state == "failed":
                raise RuntimeError(f"replay of {rec.path}: the session failed; see the log ({session.state})")
            if mic.finished and not caught_up:
                # a barrier: the server answers this update only after every append before it,
                # so a server lagging behind the audio is not taken for a quiet one
                try:
                    session.update(session.config).result(max(1.0, deadline - time.monotonic()))
                except Exception as exc:  # a missed barrier only weakens the wait
                    log.warning("replay of %s: no answer to the end-of-audio barrier (%s)", rec.path, exc)
                caught_up = True
                last[0] = time.monotonic()
            if caught_up and time.monotonic() - last[0] >= settle_s and not _busy(session):
                break
            time.sleep(0.05)
        else:
            log.warning("replay of %s: timed out; keeping what was recorded", rec.path)
    used = {"live": _names(tools or ()), "recorded_answers": recorded_answers}
    if answers is not None:
        used["answered"] = [{"call_id": c, "matched": m} for c, m in answers.answered]
    _note_replay(folder, rec, speed, vad, used)
    return Recording.load(folder)


def _busy(session: Any) -> bool:
    """A response is still being generated or played."""
    tracker = session.tracker
    if tracker is None:
        return False
    for turn in tracker.turns[-3:]:
        if turn.response_created_rx is not None and turn.response_done_rx is None:
            return True
        if turn.first_played is not None and turn.last_played is None:
            return True
    return False


def _names(tools: Sequence[Any]) -> list[str]:
    from voicelive_nb.tool_config import tool_definition, tool_name

    return [tool_name(tool_definition(t)) for t in tools]


def _note_replay(folder: Path, rec: Recording, speed: float, vad: Mapping[str, Any], tools: Mapping[str, Any]) -> None:
    """Add what was replayed to the new recording's ``session.json``."""
    path = folder / "session.json"
    try:
        session = json.loads(path.read_text())
        pace = speed if math.isfinite(speed) else "max"
        session["replay"] = {"of": str(rec.path), "speed": pace, "vad": dict(vad), "tools": dict(tools)}
        path.write_text(json.dumps(session, indent=2, default=str))
    except (OSError, ValueError) as exc:  # the recording itself is intact
        log.warning("could not note the replay in %s: %s", path, exc)


def vad_sweep(
    recording: Recording | str | Path,
    grid: Mapping[str, Sequence[Any]],
    *,
    config: SessionConfig | None = None,
    connection: ConnectionSettings | None = None,
    out: str | Path | None = None,
    speed: float | None = None,
    progress: bool = True,
    **replay_options: Any,
) -> pd.DataFrame:
    """Replay ``recording`` once per combination of ``grid`` and tabulate what came out.

    Args:
        recording: A recording or its folder.
        grid: VAD setting -> values, e.g. ``{"silence_duration_ms": [300, 500, 800]}``.
        config, connection, speed: As for :func:`replay`.  Against the emulator one
            emulator is started for the whole sweep.
        out: Folder holding one sub-folder per run (default: a new temporary folder).
        progress: Show a progress bar (``tqdm.auto`` if installed, else a line per run).

    Returns:
        One row per run: the settings, ``turns`` (and ``turns_delta`` against the
        original), ``interrupted``, p50 of ``detection_ms``, ``response_latency_ms``,
        ``voice_to_voice_ms``, mean ``duration_ms`` (whole ms), and ``folder``;
        ``attrs["speed"]`` and ``attrs["note"]`` (:func:`speed_note`) say at what pace.
    """
    import pandas as pd

    from voicelive_nb.connection import ConnectionSettings

    rec = _as_recording(recording)
    if not grid:
        raise ValueError("vad_sweep needs a grid, e.g. {'silence_duration_ms': [300, 500, 800]}")
    keys = list(grid)
    for key in keys:
        values = grid[key]
        if isinstance(values, str) or not isinstance(values, Sequence) or not values:
            raise ValueError(f"grid[{key!r}] must be a non-empty list of values, got {values!r}")
    combos = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(grid[k] for k in keys))]
    base = _base_config(rec, config)
    for params in combos:  # every setting checked before the first run
        base.with_vad(**params)
    root = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="vad-sweep-"))
    root.mkdir(parents=True, exist_ok=True)
    settings = connection or ConnectionSettings.resolve()
    emulator = None
    if settings.uses_emulator:
        from voicelive_nb.emulator import Emulator

        emulator = Emulator()
        emulator.start()
        settings = settings.for_endpoint(emulator.endpoint)
        speed = EMULATOR_SPEED if speed is None else speed
    rows = []
    try:
        for i, params in _progress(combos, progress):
            name = f"{i:03d}-" + "-".join(f"{k}={v}" for k, v in params.items())
            result = replay(rec, base, connection=settings, out=root / name, speed=speed, **params, **replay_options)
            rows.append({**params, **_row(result, rec), "folder": str(result.path)})
    finally:
        if emulator is not None:
            emulator.stop()
    from voicelive_nb.recording.analysis import readable

    table = readable(pd.DataFrame(rows))
    table.attrs["original_turns"] = rec.tracker.turn_count
    table.attrs["speed"] = speed if speed is not None else 1.0
    table.attrs["note"] = speed_note(table.attrs["speed"])
    return table


def _row(result: Recording, original: Recording) -> dict[str, Any]:
    s = result.summary()
    durations = [t.duration_ms for t in result.tracker.turns if t.duration_ms is not None]
    return {
        "turns": s["turns"],
        "turns_delta": s["turns"] - original.tracker.turn_count,
        "interrupted": s["interrupted"],
        "mean_duration_ms": float(np.mean(durations)) if durations else None,
        "detection_ms_p50": s["detection_ms"]["p50"],
        "response_latency_ms_p50": s["response_latency_ms"]["p50"],
        "voice_to_voice_ms_p50": s["voice_to_voice_ms"]["p50"],
    }


def _progress(items: list[dict[str, Any]], show: bool) -> Any:
    if not show:
        return enumerate(items)
    try:
        from tqdm.auto import tqdm  # type: ignore[import-untyped]
    except ImportError:
        return _plain_progress(items)
    return enumerate(tqdm(items, desc="VAD sweep", unit="run"))


def _plain_progress(items: list[dict[str, Any]]) -> Any:
    for i, params in enumerate(items):
        print(f"VAD sweep {i + 1}/{len(items)}: {params}", file=sys.stderr, flush=True)
        yield i, params
