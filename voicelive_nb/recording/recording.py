"""A recorded session folder, loaded back: :class:`Recording`.

A session folder holds:

``mic.wav``
    What was sent: the ``mic.audio`` blocks, placed by their sample ``offset``.
``assistant.wav``
    What was played: the ``speaker.audio`` blocks, placed by their time ``t`` on the
    same clock as the mic track (sample 0 of both = ``t0``, the time of the first mic
    sample), silence where nothing played.
``events.jsonl``
    Every record, one JSON object a line: ``t``, ``wall``, ``kind``, ``type``, ``data``;
    audio is replaced by ``"audio": {"track", "offset", "samples"}``.
``session.json``
    The config (secrets removed), versions, devices, rates, ``t0``, start and end.

The recorder (:mod:`voicelive_nb.recording.recorder`) writes it as a session runs; a killed
process leaves files that still load (:func:`~voicelive_nb.recording.files.read_wav` and
:func:`~voicelive_nb.recording.files.read_jsonl` repair what is left).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from voicelive_nb.recording.files import EventFile, _is_number, _num


class Recording:
    """A recorded session folder, loaded back.  Use :meth:`load`.

    Attributes:
        path: The folder.
        session: ``session.json`` as a dict (config, versions, devices, t0, start, end).
        config: The session config dict (secrets removed), or None.
        mic: int16 samples sent (1-D; memory-mapped for long sessions).
        assistant: int16 samples played, aligned with :attr:`mic` (same ``t0``).
        rate: Sample rate of :attr:`mic`; ``assistant_rate`` that of :attr:`assistant`.
        t0: Monotonic time of sample 0 of both tracks (None if no audio was recorded).
        tracker: The :class:`~voicelive_nb.metrics.TurnTracker` fed with the events.
        file: The split ``events.jsonl`` (:class:`~voicelive_nb.recording.files.EventFile`).
    """

    def __init__(
        self, path: Path, session: dict[str, Any], file: EventFile, mic: Any, rate: int, assistant: Any,
        assistant_rate: int,
    ) -> None:  # fmt: skip
        from voicelive_nb.metrics import TurnTracker
        from voicelive_nb.recording.files import FileMicClock

        self.path = path
        self.session = session
        self.config: dict[str, Any] | None = session.get("config")
        self.file = file
        self.mic = mic
        self.rate = rate
        self.assistant = assistant
        self.assistant_rate = assistant_rate
        t0 = session.get("t0")
        self.t0: float | None = float(t0) if t0 is not None else self._t0_from_blocks()
        clock = FileMicClock(file)
        self.tracker = TurnTracker(clock=clock)
        feed = self.tracker.feed_fields
        for ev, line in zip(file.other, file.other_lines, strict=True):
            clock.position = line
            feed(ev["t"], ev["type"], ev.get("data") or {})
        self._turns: Any = None
        self._events: list[dict[str, Any]] | None = None
        self._blocks: dict[tuple[str, int], Any] = {}

    @classmethod
    def load(cls, path: str | Path) -> Recording:
        """Load a session folder written by :class:`Recorder` (also one cut short by a crash).

        Raises:
            FileNotFoundError: ``path`` is not a folder with ``events.jsonl``.
        """
        import numpy as np

        from voicelive_nb.recording.files import read_events, read_wav

        folder = Path(path)
        if not (folder / "events.jsonl").is_file():
            raise FileNotFoundError(
                f"{folder} is not a recording folder (no events.jsonl); pass the folder a Recorder wrote"
            )
        session: dict[str, Any] = {}
        if (folder / "session.json").is_file():
            try:
                loaded = json.loads((folder / "session.json").read_bytes())
            except ValueError:  # JSONDecodeError and UnicodeDecodeError
                loaded = None
            if isinstance(loaded, dict):
                session = _clean_session(loaded)
            else:
                warnings.warn(f"{folder.name}/session.json is damaged; loading without it", stacklevel=2)
        file = read_events(folder / "events.jsonl")
        empty = np.zeros(0, dtype=np.int16)

        def track(name: str, default_rate: int) -> tuple[Any, int]:
            if not (folder / name).is_file():
                return empty, default_rate
            try:
                return read_wav(folder / name)
            except (ValueError, OSError) as exc:  # a damaged track must not hide the rest
                warnings.warn(f"{folder.name}/{name} cannot be read, loading without it: {exc}", stacklevel=3)
                return empty, default_rate

        mic, rate = track("mic.wav", 24_000)
        assistant, arate = track("assistant.wav", rate)
        return cls(folder, session, file, mic, rate, assistant, arate)

    # -- tables ----------------------------------------------------------------

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every record as a dict (``t``, ``wall``, ``kind``, ``type``, ``data``, and ``audio``
        for audio blocks), in order.  Parsed on first use: ~1 s per 10 minutes of session."""
        if self._events is None:
            self._events = self.file.all_events()
        return self._events

    @property
    def other_events(self) -> list[dict[str, Any]]:
        """Every record except the audio blocks (server, client and local marks): cheap."""
        return self.file.other

    def blocks(self, track: str = "mic", step: int = 1) -> Any:
        """The audio blocks of ``track`` (``"mic"`` or ``"speaker"``) as a DataFrame, one row a block.

        Columns: ``seconds`` (from ``t0``), ``t``, ``placed`` (sample index in the track
        file), ``samples``, ``rate``, ``offset``, ``connection_offset``, ``captured_t``,
        ``rms_db``, ``peak_db``.  ``step`` takes one block in ``step``.
        """
        import pandas as pd

        key = ("mic" if track == "mic" else "speaker", max(1, int(step)))
        cached = self._blocks.get(key)
        if cached is None:
            cached = pd.DataFrame(self.file.blocks(*key))
            cached.insert(0, "seconds", cached["t"] - (self.t0 or 0.0))
            self._blocks[key] = cached
        return cached.copy()

    @property
    def turns(self) -> Any:
        """The turn table (pandas DataFrame, one row per turn; see :func:`analysis.turn_table`)."""
        if self._turns is None:
            from voicelive_nb.recording.analysis import turn_table

            table = turn_table(self.tracker.turns, t0=self.t0)
            shift = self._mic_shift_s()
            if shift and len(table):  # mic.wav starts later than t0: move the audio-clock columns onto it
                table["start_s"] = table["start_s"] + shift
                table["end_s"] = table["end_s"] + shift
            self._turns = table
        return self._turns

    def _mic_shift_s(self) -> float:
        """Seconds of silence before mic sample 0 in mic.wav (non-zero only if audio played first)."""
        if not len(self.file.mic_lines):
            return 0.0
        row = self.file.block(int(self.file.mic_lines[0]))
        if row is None:
            return 0.0
        placed, rate, offset = _num(row[2]), _num(row[4]), _num(row[5])
        if placed is None or offset is None or not rate:
            return 0.0
        return (placed - offset) / rate

    def summary(self) -> dict[str, Any]:
        """Key figures: duration, turns, interruptions and p50/p90/max of each latency."""
        out: dict[str, Any] = {"path": str(self.path), "duration_s": self.duration}
        out.update(self.tracker.summary())
        return out

    @property
    def duration(self) -> float:
        """Seconds of audio recorded (the longer of the two tracks)."""
        return max(len(self.mic) / self.rate, len(self.assistant) / self.assistant_rate)

    @property
    def record_count(self) -> int:
        """Lines in ``events.jsonl`` (records written, damaged last line included)."""
        return len(self.file.lines)

    def event_table(self, types: str | list[str] | None = None) -> Any:
        """Events as a DataFrame (``seconds`` since ``t0`` added), optionally of some types only.

        Without audio types asked for, only the cheap non-audio events are read.
        """
        from voicelive_nb.recording.analysis import event_table
        from voicelive_nb.recording.files import AUDIO_TYPES

        wanted = [types] if isinstance(types, str) else list(types or [])
        needs_audio = not wanted or any(t in AUDIO_TYPES for t in wanted)
        source = self.events if needs_audio else self.other_events
        return event_table(source, t0=self.t0, types=wanted or None)

    def seconds(self, t: float) -> float:
        """Monotonic time ``t`` as seconds into the tracks."""
        return t - (self.t0 or 0.0)

    @staticmethod
    def compare(a: Recording | str | Path, b: Recording | str | Path, names: tuple[str, str] = ("a", "b")) -> Any:
        """Key figures of two recordings side by side (DataFrame: one row per figure)."""
        from voicelive_nb.recording.analysis import compare

        left = a if isinstance(a, Recording) else Recording.load(a)
        right = b if isinstance(b, Recording) else Recording.load(b)
        return compare({names[0]: left.summary(), names[1]: right.summary()})

    def _repr_html_(self) -> str:
        """The key figures and the latency table; the plots are :mod:`voicelive_nb.report`'s
        (``report.html.recording_html(rec)``, ``report.plots.timeline(rec)``)."""
        from voicelive_nb.recording.analysis import summary_html

        return f"<div class='voicelive-recording'>{summary_html(str(self.path), self.summary())}</div>"

    def __repr__(self) -> str:
        return (
            f"Recording({str(self.path)!r}, {self.duration:.1f} s, {self.tracker.turn_count} turns, "
            f"{self.record_count} records)"
        )

    def _t0_from_blocks(self) -> float | None:
        """Recover ``t0`` from the first audio block when ``session.json`` lacks it."""
        for track in ("mic", "speaker"):
            lines = self.file.mic_lines if track == "mic" else self.file.speaker_lines
            if not len(lines):
                continue
            row = self.file.block(int(lines[0]))
            if row is None:
                continue
            t, _, placed, samples, rate, _, _, captured, _, _ = (_num(v) for v in row)
            if t is None or placed is None:
                continue
            rate = rate if rate and rate > 0 else 24_000
            if track == "mic":
                first = captured if captured is not None else t - (samples or 0) / rate
                return first - placed / rate
            return t - placed / rate
        return None


def _clean_session(session: dict[str, Any]) -> dict[str, Any]:
    """Drop ``session.json`` fields of the wrong type (a damaged or hand-edited file)."""
    if session.get("t0") is not None and not _is_number(session["t0"]):
        session = {**session, "t0": None}
    if session.get("config") is not None and not isinstance(session["config"], dict):
        session = {**session, "config": None}
    return session
