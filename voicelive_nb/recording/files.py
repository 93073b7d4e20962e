"""``events.jsonl`` of a recording folder: tolerant JSON-lines reading and a fast split loader.

The WAV side of a folder is in :mod:`voicelive_nb.recording.wav` (re-exported here).
"""

from __future__ import annotations

import json
import logging
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voicelive_nb.recording.wav import WavStream, read_wav, wav_header

__all__ = ["AUDIO_DATA_ORDER", "EventFile", "FileMicClock", "WavStream", "read_events", "read_jsonl", "read_wav",
           "wav_header"]  # fmt: skip

log = logging.getLogger(__name__)


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSON-lines file into a list of dicts.

    A truncated or damaged *last* line (a recording killed mid-write) is dropped with
    a warning; damaged lines elsewhere are skipped with one warning naming how many.
    """
    path = Path(path)
    raw = path.read_bytes()
    if not raw.strip():
        return []
    body = raw.rstrip(b"\n")
    try:  # fast path: the whole file as one JSON array, parsed by one C call
        parsed: list[dict[str, Any]] = json.loads(b"[" + body.replace(b"\n", b",") + b"]")
        return parsed
    except ValueError:  # JSONDecodeError, or UnicodeDecodeError from damaged bytes
        pass
    lines = body.split(b"\n")
    out: list[dict[str, Any]] = []
    bad = 0
    last_bad = False
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError:  # JSONDecodeError, or UnicodeDecodeError from damaged bytes
            if i == len(lines) - 1:
                last_bad = True
            else:
                bad += 1
    if last_bad:
        warnings.warn(f"{path.name}: ignored a truncated last line (the recording was cut short)", stacklevel=2)
    if bad:
        warnings.warn(f"{path.name}: skipped {bad} damaged line(s)", stacklevel=2)
    return out


AUDIO_TYPES = ("mic.audio", "speaker.audio")
BLOCK_FIELDS = (
    "t", "wall", "placed", "samples", "rate", "offset", "connection_offset", "captured_t", "rms_db", "peak_db",
)  # fmt: skip
"""Columns of the block index (one row per ``mic.audio``/``speaker.audio`` line)."""

# The Recorder writes audio lines in this canonical key order, so their numbers can be
# picked out without a full JSON parse (which costs ~10 µs a line in CPython).
_NUM = rb"(-?(?:[0-9][0-9.eE+-]*|Infinity)|NaN|null)"
AUDIO_LINE = re.compile(
    rb'\{"t":' + _NUM + rb',"wall":' + _NUM + rb',"kind":"local","type":"(mic|speaker)\.audio",'
    rb'"audio":\{"track":"\w+","offset":(\d+),"samples":(\d+)\},"data":\{'
    rb'(?:"rate":' + _NUM + rb',?)?(?:"samples":' + _NUM + rb',?)?(?:"offset":' + _NUM + rb",?)?"
    rb'(?:"connection_offset":' + _NUM + rb',?)?(?:"captured_t":' + _NUM + rb",?)?"
    rb'(?:"rms_db":' + _NUM + rb',?)?(?:"peak_db":' + _NUM + rb",?)?"
)
_AUDIO_LINES = re.compile(b"(?m)^" + AUDIO_LINE.pattern)
_AUDIO_TYPE = re.compile(rb'"type"\s*:\s*"(mic|speaker)\.audio"')
AUDIO_DATA_ORDER = ("rate", "samples", "offset", "connection_offset", "captured_t", "rms_db", "peak_db")
"""Data keys written first, in this order, on audio lines (see :data:`AUDIO_LINE`)."""


@dataclass
class EventFile:
    """``events.jsonl`` split for speed (a CPython JSON parse costs ~10 µs a line).

    Non-audio events are parsed at once; the many ``mic.audio``/``speaker.audio`` lines
    are kept raw and parsed on demand (:meth:`block`, :meth:`blocks`), through a regex
    on the canonical layout the :class:`~voicelive_nb.recording.Recorder` writes, with
    a JSON fallback for any other layout.

    Attributes:
        lines: Every raw line (damaged ones included).
        other: Every non-audio event as a dict, in order.
        other_lines: Line number of each of :attr:`other`.
        mic_lines: Line numbers of the ``mic.audio`` lines.
        speaker_lines: Line numbers of the ``speaker.audio`` lines.
    """

    path: Path
    lines: list[bytes]
    other: list[dict[str, Any]]
    other_lines: list[int]
    mic_lines: np.ndarray
    speaker_lines: np.ndarray

    def block(self, line: int) -> tuple[Any, ...] | None:
        """One audio line as a row of :data:`BLOCK_FIELDS` values (None if unreadable)."""
        raw = self.lines[line]
        m = AUDIO_LINE.match(raw)
        if m is not None:
            g = m.groups()
            return (g[0], g[1], g[3], g[4], g[5], g[7], g[8], g[9], g[10], g[11])
        try:
            ev = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(ev, dict):
            return None
        data = ev["data"] if isinstance(ev.get("data"), dict) else {}
        audio = ev["audio"] if isinstance(ev.get("audio"), dict) else {}
        return (ev.get("t"), ev.get("wall"), audio.get("offset"), audio.get("samples") or data.get("samples"),
                *(data.get(k) for k in ("rate", "offset", "connection_offset", "captured_t", "rms_db",
                                         "peak_db")))  # fmt: skip

    def blocks(self, track: str = "mic", step: int = 1) -> dict[str, np.ndarray]:
        """Columns (:data:`BLOCK_FIELDS` + ``line``) of every ``step``-th block of ``track``.

        Args:
            track: ``"mic"`` or ``"speaker"`` (also accepted: ``"assistant"``).
            step: Take one block in ``step`` (decimation for long sessions).
        """
        numbers = self.mic_lines if track == "mic" else self.speaker_lines
        numbers = numbers[:: max(1, step)]
        chosen = numbers.tolist()
        # fast path: one regex pass over the joined lines, when every line has the canonical layout
        found = _AUDIO_LINES.findall(b"\n".join([self.lines[i] for i in chosen]))
        if len(found) == len(chosen):
            cols = {"line": np.asarray(chosen, dtype=np.int64)}
            columns = list(zip(*found, strict=True)) if found else [() for _ in range(12)]
            for name, k in zip(BLOCK_FIELDS, (0, 1, 3, 4, 5, 7, 8, 9, 10, 11), strict=True):
                cols[name] = _floats(columns[k])
            return cols
        rows: list[tuple[Any, ...]] = []
        kept: list[int] = []
        for i in chosen:
            row = self.block(i)
            if row is not None:
                rows.append(row)
                kept.append(i)
        cols = {"line": np.asarray(kept, dtype=np.int64)}
        values = list(zip(*rows, strict=True)) if rows else [() for _ in BLOCK_FIELDS]
        for name, column in zip(BLOCK_FIELDS, values, strict=True):
            cols[name] = _floats(column)
        return cols

    def all_events(self) -> list[dict[str, Any]]:
        """Every readable record parsed as JSON, in order (slow for long sessions: ~10 µs a line)."""
        events = read_jsonl(self.path)
        return _clean_events(events, list(range(len(events))), self.path)[0]


def read_events(path: str | Path) -> EventFile:
    """Read ``events.jsonl`` quickly (see :class:`EventFile`); damaged lines as in :func:`read_jsonl`."""
    path = Path(path)
    lines = path.read_bytes().split(b"\n")
    while lines and not lines[-1].strip():
        lines.pop()
    # classify with comprehensions (C loops): ~11% of lines are not audio blocks
    flagged = [i for i, line in enumerate(lines) if b'.audio"' in line]
    mic: list[int] = []
    speaker: list[int] = []
    for i in flagged:
        line = lines[i]
        if b'"type":"mic.audio"' in line:
            mic.append(i)
        elif b'"type":"speaker.audio"' in line:
            speaker.append(i)
        else:
            m = _AUDIO_TYPE.search(line)  # other JSON spacing (else: not an audio block)
            if m is not None:
                (mic if m.group(1) == b"mic" else speaker).append(i)
    audio = set(mic).union(speaker)
    other_lines = [i for i in range(len(lines)) if i not in audio] if audio else list(range(len(lines)))
    other_raw = [lines[i] for i in other_lines]
    other: list[Any] = []
    keep: list[int] = []
    try:
        other = json.loads(b"[" + b",".join(other_raw) + b"]")
        keep = other_lines
    except ValueError:  # JSONDecodeError, or UnicodeDecodeError from damaged bytes
        last, bad = len(lines) - 1, 0
        for line, i in zip(other_raw, other_lines, strict=True):
            if not line.strip():
                continue
            try:
                other.append(json.loads(line))
                keep.append(i)
            except ValueError:
                if i == last:
                    warnings.warn(
                        f"{path.name}: ignored a truncated last line (the recording was cut short)", stacklevel=2
                    )
                else:
                    bad += 1
        if bad:
            warnings.warn(f"{path.name}: skipped {bad} damaged line(s)", stacklevel=2)
    other, keep = _clean_events(other, keep, path)
    for group in (mic, speaker):  # a cut-short last audio line
        if group and group[-1] == len(lines) - 1:
            try:
                json.loads(lines[-1])
            except ValueError:
                group.pop()
                warnings.warn(f"{path.name}: ignored a truncated last line (the recording was cut short)", stacklevel=2)
    return EventFile(path, lines, other, keep, np.asarray(mic, dtype=np.int64), np.asarray(speaker, dtype=np.int64))


class FileMicClock:
    """The :class:`~voicelive_nb.metrics.MicClock` of a recording, read from its mic lines on demand.

    Set :attr:`position` to the line number of the event being fed: the connection
    offset in force there is that of the last mic block before it.  Lookups binary-search
    the mic lines (their offsets grow with the line number) and parse ~20 lines each.
    """

    def __init__(self, events: EventFile) -> None:
        self._events = events
        self._lines = events.mic_lines
        self._cache: dict[int, tuple[float, float, float, float, float]] = {}
        self.position = 0
        self.rate: int | None = None
        self._block: float | None = None
        first = self._get(0) if len(self._lines) else None
        if first is not None:
            self.rate = int(first[2])
            second = self._get(1) if len(self._lines) > 1 else None
            if second is not None and second[1] > first[1]:
                self._block = second[1] - first[1]

    @property
    def connection_offset(self) -> int:
        """Connection offset of the last mic block before :attr:`position`."""
        k = int(np.searchsorted(self._lines, self.position)) - 1
        got = self._get(k) if k >= 0 else None
        return int(got[3]) if got is not None else 0

    def add(self, offset: int, samples: int, rate: int, t: float, captured_t: float | None = None) -> None:
        """Ignored: the blocks come from the file."""

    def sample_of(self, server_ms: float) -> float:
        """Mic-timeline sample of a server ``audio_*_ms`` value."""
        return self.connection_offset + server_ms * (self.rate or 24_000) / 1000.0

    def to_monotonic(self, sample: float) -> float | None:
        """Monotonic time of mic-timeline ``sample``; None without mic blocks."""
        n = len(self._lines)
        if n == 0 or not self.rate:
            return None
        k = self._find(sample, n)
        got = self._get(k) if k is not None else None
        if got is None:
            return None
        _, offset, rate, _, captured = got
        return captured + (sample - offset) / rate

    def _find(self, sample: float, n: int) -> int | None:
        """Index of the last mic block starting at or before ``sample``."""
        first = self._get(0)
        if first is None:
            return self._bisect(sample, n)
        block = self._block or 480.0
        k = min(n - 1, max(0, int((sample - first[1]) // block)))
        for _ in range(6):  # interpolation: blocks are contiguous, so this lands in 1-2 steps
            got = self._get(k)
            if got is None:
                break
            nxt = self._get(k + 1) if k + 1 < n else None
            if got[1] <= sample and (nxt is None or nxt[1] > sample):
                return k
            if got[1] > sample and k == 0:
                return 0
            step = int((sample - got[1]) // block)
            k = min(n - 1, max(0, k + (step if step else (1 if got[1] <= sample else -1))))
        return self._bisect(sample, n)

    def _bisect(self, sample: float, n: int) -> int:
        lo, hi = 0, n - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            got = self._get(mid)
            if got is not None and got[1] <= sample:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def _get(self, k: int) -> tuple[float, float, float, float, float] | None:
        hit = self._cache.get(k)
        if hit is not None:
            return hit
        row = self._events.block(int(self._lines[k]))
        if row is None:
            return None
        t, _, _, samples, rate, offset, conn, captured, _, _ = (_num(v) for v in row)
        if t is None or offset is None or not rate:
            return None
        if captured is None:
            captured = t - (samples or 0) / rate
        value = (t, offset, rate, conn or 0.0, captured)
        self._cache[k] = value
        return value


def _num(v: object) -> float | None:
    """A finite float from a JSON number (bytes or value), else None."""
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _floats(values: tuple[Any, ...]) -> np.ndarray:
    try:  # the common case: numbers as bytes (missing ones empty or null), parsed by numpy in C
        raw = np.asarray(values, dtype="S40")
        raw[(raw == b"") | (raw == b"null") | (raw == b"None")] = b"nan"
        return raw.astype(np.float64)
    except (ValueError, TypeError):
        pass
    out = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(values):
        f = _num(v)
        out[i] = np.nan if f is None else f
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _clean_events(events: list[Any], lines: list[int], path: Path) -> tuple[list[dict[str, Any]], list[int]]:
    """Keep the lines that are records (finite numeric ``t``, text ``type``); repair ``data``/``audio``.

    A damaged or hand-edited file can hold valid JSON of the wrong shape; such lines are
    skipped with one warning instead of failing deep inside the analysis.
    """
    out: list[dict[str, Any]] = []
    kept: list[int] = []
    bad = 0
    for ev, line in zip(events, lines, strict=True):
        if not isinstance(ev, dict) or not _is_number(ev.get("t")) or not isinstance(ev.get("type"), str):
            bad += 1
            continue
        if not isinstance(ev.get("data"), dict):
            ev["data"] = {}
        audio = ev.get("audio")
        if audio is not None and not (
            isinstance(audio, dict)
            and audio.get("track") in ("mic", "assistant")
            and _is_number(audio.get("offset"))
            and _is_number(audio.get("samples"))
        ):
            del ev["audio"]
        out.append(ev)
        kept.append(line)
    if bad:
        warnings.warn(f"{path.name}: skipped {bad} line(s) that are not event records", stacklevel=3)
    return out, kept
