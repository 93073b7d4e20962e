"""Record a session to a folder (:class:`Recorder`) and load it back (:class:`Recording`).

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

The recorder is an observer (``recorder(record)``) that runs on the event bus thread.
Memory stays constant: lines and audio go through small buffers that are written and
flushed about once a second, and the WAV headers are rewritten each time, so a killed
process leaves files that still load (:func:`recording_files.read_wav` and
:func:`recording_files.read_jsonl` repair what is left).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import threading
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from voicelive_nb.events import EventRecord, Local
from voicelive_nb.recording_files import AUDIO_DATA_ORDER, EventFile, WavStream, _is_number, _num

log = logging.getLogger(__name__)

SECRET_KEYS = frozenset(
    {
        "api_key",
        "key",
        "authorization",
        "token",
        "access_token",
        "refresh_token",
        "password",
        "secret",
        "client_secret",
        "credential",
        "subscription_key",
        "ocp_apim_subscription_key",
    }
)
"""Field names (case-insensitive, ``-`` = ``_``) that are dropped wherever they appear."""

SECRET_ENV_VARS = ("AZURE_VOICELIVE_API_KEY", "AZURE_OPENAI_API_KEY", "VOICELIVE_API_KEY")
"""Environment variables whose values are masked if they ever appear in a string."""

FORMAT_VERSION = 1
_FLUSH_BYTES = 1 << 20
_CONTIGUOUS_S = 0.010  # speaker blocks closer than this to the write cursor are glued on


def scrub(value: Any) -> Any:
    """A JSON-ready copy of ``value`` without any secret-named field (recursively)."""
    if isinstance(value, Mapping):
        return {
            str(k): scrub(v)
            for k, v in value.items()
            if str(k).lower().replace("-", "_") not in SECRET_KEYS and not str(k).startswith("_")
        }
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return scrub(dataclasses.asdict(value))
    to_dict = getattr(value, "as_dict", None) or getattr(value, "to_dict", None)
    if callable(to_dict):
        try:
            return scrub(to_dict())
        except Exception:  # a foreign object: its text is safer than nothing
            pass
    return str(value)


def _known_secrets() -> list[str]:
    return [v for name in SECRET_ENV_VARS if len(v := os.environ.get(name, "")) >= 8]


class Recorder:
    """Stream a session's records to ``folder``; an observer taking :class:`EventRecord`.

    Args:
        folder: Created if missing; must not already hold a recording.
        config: The session config (dataclass or dict), stored in ``session.json``
            with secrets removed.  A ``session.info`` record overrides it.
        info: Extra facts for ``session.json`` (devices, versions ...).
        flush_interval: Seconds between writes to disk (and WAV header updates).
        secrets: Strings that must never reach a file (masked if they appear);
            the values of :data:`SECRET_ENV_VARS` are added automatically.

    Raises:
        FileExistsError: ``folder`` already holds ``events.jsonl``.
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        config: Any = None,
        info: Mapping[str, Any] | None = None,
        flush_interval: float = 1.0,
        secrets: list[str] | tuple[str, ...] = (),
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        if (self.folder / "events.jsonl").exists():
            raise FileExistsError(f"{self.folder} already holds a recording (events.jsonl); choose a new folder")
        self._lock = threading.Lock()
        self._secrets = [s for s in (*secrets, *_known_secrets()) if s]
        self._flush_interval = flush_interval
        self._events = open(self.folder / "events.jsonl", "wb", buffering=0)  # noqa: SIM115
        self._lines: list[bytes] = []
        self._pending = 0
        self._mic = WavStream(self.folder / "mic.wav")
        self._assistant = WavStream(self.folder / "assistant.wav")
        self._mic_shift: int | None = None  # mic track index of mic offset 0
        self._last_flush = time.monotonic()
        self.t0: float | None = None
        """Monotonic time of sample 0 of both tracks (None until audio arrives)."""
        self.records = 0
        """Records written."""
        self.skipped_audio = 0
        """Audio records whose audio could not be placed (malformed fields); their lines are kept."""
        self.closed = False
        self.error: str | None = None
        """Set (and recording stopped) if writing failed."""
        now = time.time()
        self._session: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "start": {"wall": now, "t": time.monotonic(), "iso": _iso(now)},
            "end": None,
            "t0": None,
            "config": scrub(config) if config is not None else None,
        }
        if info:
            self._session.update(scrub(info))
        self._write_session()

    # -- observer --------------------------------------------------------------

    def __call__(self, record: EventRecord) -> None:
        """Write one record (called on the event bus thread)."""
        with self._lock:
            if self.closed:
                return
            try:
                self._record(record)
                if self._pending >= _FLUSH_BYTES or time.monotonic() - self._last_flush >= self._flush_interval:
                    self._flush()
            except OSError as exc:
                self._fail(exc)

    def flush(self) -> None:
        """Write everything buffered and update the WAV headers now."""
        with self._lock:
            if not self.closed:
                try:
                    self._flush()
                except OSError as exc:
                    self._fail(exc)

    def close(self) -> None:
        """Finalise all files (idempotent)."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            try:
                self._flush()
                self._mic.close()
                self._assistant.close()
                self._events.close()
                now = time.time()
                self._session["end"] = {"wall": now, "t": time.monotonic(), "iso": _iso(now)}
                self._session["samples"] = {"mic": self._mic.samples, "assistant": self._assistant.samples}
                self._session["records"] = self.records
                self._write_session()
            except OSError as exc:
                self._fail(exc)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------

    def _record(self, record: EventRecord) -> None:
        line: dict[str, Any] = {"t": round(record.t, 6), "wall": round(record.wall, 6), "kind": record.kind,
                                "type": record.type}  # fmt: skip
        rtype = record.type
        if (rtype == Local.MIC_AUDIO or rtype == Local.SPEAKER_AUDIO) and record.audio is not None:
            # canonical layout (audio first, known data keys in order) for the fast loader
            src = record.data
            data = {k: src[k] for k in AUDIO_DATA_ORDER if k in src}
            data.update((k, v) for k, v in src.items() if k not in data)
            try:
                line["audio"] = self._place_audio(record, data)
            except (TypeError, ValueError) as exc:  # a field of the wrong type: keep the line, skip the audio
                self.skipped_audio += 1
                if self.skipped_audio == 1:
                    log.warning("recording to %s: skipped audio of a malformed %s record: %s", self.folder, rtype, exc)
            line["data"] = scrub(data)
        else:
            line["data"] = scrub(record.data)
            if rtype == Local.SESSION_INFO:
                self._session.update(line["data"])
                self._write_session()
        text = json.dumps(line, separators=(",", ":"), default=str)
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        encoded = text.encode() + b"\n"
        self._lines.append(encoded)
        self._pending += len(encoded)
        self.records += 1

    def _place_audio(self, record: EventRecord, data: dict[str, Any]) -> dict[str, Any]:
        audio = record.audio or b""
        samples = len(audio) // 2
        rate = int(data.get("rate") or 24_000)
        if record.type == Local.MIC_AUDIO:
            offset = int(data.get("offset", 0))
            if self._mic_shift is None:
                self._mic.rate = rate
                captured = data.get("captured_t")
                first = float(captured) if captured is not None else record.t - samples / rate
                start = first - offset / rate  # time of mic sample 0
                if self.t0 is None:
                    self._set_t0(start)
                self._mic_shift = max(0, round((start - (self.t0 or start)) * rate))
            placed = self._mic.write_at(offset + self._mic_shift, audio)
            track = "mic"
        else:
            if self.t0 is None:
                self._set_t0(record.t)
            if self._assistant.samples == 0:
                self._assistant.rate = rate
            index = round((record.t - (self.t0 or record.t)) * rate)
            if 0 < index - self._assistant.samples <= _CONTIGUOUS_S * rate:
                index = self._assistant.samples  # timestamp jitter, not a real gap
            placed = self._assistant.write_at(index, audio)
            track = "assistant"
        self._pending += len(audio)
        return {"track": track, "offset": placed, "samples": samples}

    def _set_t0(self, t0: float) -> None:
        self.t0 = t0
        self._session["t0"] = t0
        self._write_session()

    def _flush(self) -> None:
        if self._lines:
            self._events.write(b"".join(self._lines))
            self._lines.clear()
        self._mic.sync()
        self._assistant.sync()
        self._pending = 0
        self._last_flush = time.monotonic()

    def _write_session(self) -> None:
        path = self.folder / "session.json"
        tmp = path.with_suffix(".json.tmp")
        text = json.dumps(self._session, indent=2, default=str)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        tmp.write_text(text)
        os.replace(tmp, path)

    def _fail(self, exc: OSError) -> None:
        if self.error is None:
            log.error("recording to %s stopped: %s", self.folder, exc)
        self.error = str(exc)
        self.closed = True
        for closer in (self._mic.close, self._assistant.close, self._events.close):
            with contextlib.suppress(OSError):  # release the files; what reached the disk still loads
                closer()


def _iso(wall: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(wall))


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
        file: The split ``events.jsonl`` (:class:`~voicelive_nb.recording_files.EventFile`).
    """

    def __init__(
        self, path: Path, session: dict[str, Any], file: EventFile, mic: Any, rate: int, assistant: Any,
        assistant_rate: int,
    ) -> None:  # fmt: skip
        from voicelive_nb.metrics import TurnTracker
        from voicelive_nb.recording_files import FileMicClock

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

        from voicelive_nb.recording_files import read_events, read_wav

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
            from voicelive_nb.analysis import turn_table

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
        from voicelive_nb.analysis import event_table
        from voicelive_nb.recording_files import AUDIO_TYPES

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
        from voicelive_nb.analysis import compare

        left = a if isinstance(a, Recording) else Recording.load(a)
        right = b if isinstance(b, Recording) else Recording.load(b)
        return compare({names[0]: left.summary(), names[1]: right.summary()})

    def _repr_html_(self) -> str:
        from voicelive_nb.report import recording_html

        return recording_html(self, full=False)

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
