"""A corpus for VAD sweeps: a folder of recordings and/or plain WAV files, loaded lazily.

    corpus = Corpus("calls/")          # scans the folder (names and sizes only)
    corpus.table()                     # name, kind, duration_s, reference
    audio = corpus[0].load()           # one item's mic audio and reference turns

What counts as an item, anywhere under the folder:

* a **recording** folder (one holding ``events.jsonl``, as :class:`~voicelive_nb.recording.Recorder`
  writes it): its ``mic.wav`` at the recording's rate, its session config, and as
  reference turns the turns the session's own VAD found (``start_s``/``end_s``);
* a **WAV file** (any PCM WAV, any rate, stereo averaged): resampled to ``rate``
  (default: kept when the VAD takes it -- 8, 16 or 24 kHz -- else 24 kHz), no reference
  unless labelled.

A **labels file** gives reference turns instead (and wins over a recording's own): next to
``call.wav`` either ``call.labels.csv`` (columns ``start_s,end_s``, or ``start,end``; more
columns are ignored) or ``call.labels.txt`` (an Audacity label track: ``start<TAB>end<TAB>text``);
inside a recording folder ``labels.csv`` or ``labels.txt``.  Seconds from the start of the audio.

Scanning reads no audio; :meth:`CorpusItem.load` reads one item (run on a sweep's workers).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

VAD_RATES = (8000, 16000, 24000)
"""Input rates the VAD takes as they are (the service's input rates)."""
DEFAULT_RATE = 24000
"""Rate other WAV files are resampled to."""

Span = tuple[float, float]


@dataclass(frozen=True)
class LoadedItem:
    """One corpus item's audio, read: int16 mono ``audio`` at ``rate``, reference turns
    (``None`` when unknown) and where they came from, and the recording's session config."""

    name: str
    audio: np.ndarray
    rate: int
    reference: list[Span] | None
    reference_source: str | None
    config: dict[str, Any] | None

    @property
    def duration_s(self) -> float:
        """Seconds of audio."""
        return len(self.audio) / self.rate


@dataclass(frozen=True)
class CorpusItem:
    """One recording folder or WAV file of a corpus (paths only; small and picklable).

    Attributes:
        name: Path relative to the corpus folder (the item's key in sweep results).
        path: The recording folder or WAV file.
        kind: ``"recording"`` or ``"wav"``.
        labels: Labels file with reference turns, or None.
        rate: Rate to load at (None: the file's own when the VAD takes it, else 24 kHz).
    """

    name: str
    path: str
    kind: str
    labels: str | None = None
    rate: int | None = None

    def load(self) -> LoadedItem:
        """Read the audio (resampled as needed) and the reference turns.

        Raises:
            ValueError: The audio or the labels cannot be read (the message names the file).
            FileNotFoundError: The item is gone.
        """
        from voicelive_nb.audio.resample import resample

        config: dict[str, Any] | None = None
        reference: list[Span] | None = None
        source: str | None = None
        if self.kind == "recording":
            audio, rate, config, reference = _load_recording(Path(self.path))
            source = "recording" if reference is not None else None
        else:
            from voicelive_nb.audio.wav import read_wav

            audio, rate = read_wav(self.path)
        if not len(audio):
            raise ValueError(f"{self.name}: no audio in it (an empty or damaged file); fix or remove it")
        target = self.rate or (rate if rate in VAD_RATES else DEFAULT_RATE)
        if target != rate:
            audio = resample(np.asarray(audio, dtype=np.int16), int(rate), int(target))
        if self.labels is not None:
            reference, source = read_labels(self.labels), "labels"
        return LoadedItem(self.name, np.asarray(audio, dtype=np.int16), int(target), reference, source, config)

    def duration_s(self) -> float | None:
        """Seconds of audio from the WAV header (None if it cannot be read): no audio is read."""
        import wave

        wav = Path(self.path) / "mic.wav" if self.kind == "recording" else Path(self.path)
        try:
            with wave.open(str(wav), "rb") as w:
                frames, rate = w.getnframes(), w.getframerate()
        except (OSError, EOFError, wave.Error):
            return None
        if self.kind == "recording":  # a crash-cut recording's header may lag: count the bytes
            frames = max(frames, (wav.stat().st_size - 44) // 2)
        return frames / rate if rate > 0 else None


def _load_recording(folder: Path) -> tuple[np.ndarray, int, dict[str, Any] | None, list[Span] | None]:
    import warnings

    from voicelive_nb.recording import Recording

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = Recording.load(folder)
    if not len(rec.mic):
        why = "; ".join(str(w.message) for w in caught) or "mic.wav is missing or empty"
        raise ValueError(f"{folder.name}: the recording has no readable mic track ({why})")
    turns = rec.turns
    reference = None
    if len(turns):
        spans = turns[["start_s", "end_s"]].dropna()
        reference = [(float(a), float(b)) for a, b in zip(spans["start_s"], spans["end_s"], strict=True)]
    return np.asarray(rec.mic, dtype=np.int16), int(rec.rate), rec.config, reference


def read_labels(path: str | Path) -> list[Span]:
    """Reference turns from a labels file: ``.csv`` (``start_s,end_s`` columns) or an
    Audacity label track (``.txt``: ``start<TAB>end<TAB>text``), sorted by start.

    Raises:
        ValueError: A line is not a pair of seconds with ``0 <= start <= end``.
    """
    p = Path(path)
    text = p.read_text(encoding="utf-8-sig")
    rows: list[Span] = []
    if p.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        fields = [f.strip().lower() for f in reader.fieldnames or []]
        names = next(((a, b) for a, b in (("start_s", "end_s"), ("start", "end")) if a in fields and b in fields), None)
        if names is None:
            raise ValueError(f"{p}: a labels CSV needs columns start_s,end_s (seconds); it has {fields}")
        for n, row in enumerate(reader, start=2):
            clean = {(k or "").strip().lower(): v for k, v in row.items()}
            rows.append(_span(clean.get(names[0]), clean.get(names[1]), p, n))
    else:
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("\\"):  # Audacity's frequency lines
                continue
            parts = line.split("\t") if "\t" in line else line.split()
            rows.append(_span(parts[0], parts[1] if len(parts) > 1 else None, p, n))
    return sorted(rows)


def _span(start: Any, end: Any, path: Path, line: int) -> Span:
    try:
        a, b = float(start), float(end)
    except (TypeError, ValueError):
        raise ValueError(f"{path}:{line}: expected start and end seconds, got {start!r}, {end!r}") from None
    if not (0.0 <= a <= b) or not np.isfinite(b):
        raise ValueError(f"{path}:{line}: a turn needs 0 <= start <= end seconds, got {a}, {b}")
    return (a, b)


def _labels_for(path: Path, recording: bool) -> str | None:
    candidates = (
        [path / "labels.csv", path / "labels.txt"]
        if recording
        else [path.with_name(path.stem + ".labels.csv"), path.with_name(path.stem + ".labels.txt")]
    )
    return next((str(c) for c in candidates if c.is_file()), None)


class Corpus:
    """Recordings and WAV files under a folder (or listed paths), as :class:`CorpusItem` objects.

    Args:
        source: A folder (searched recursively), or a list of recording folders / WAV files.
        rate: Load every item at this rate (8000, 16000 or 24000); None: see the module docstring.

    Raises:
        FileNotFoundError: ``source`` does not exist.
        ValueError: Nothing to sweep in it, or an unsupported ``rate``.
    """

    def __init__(self, source: str | Path | Sequence[str | Path], *, rate: int | None = None) -> None:
        if rate is not None and rate not in VAD_RATES:
            raise ValueError(f"Corpus rate must be one of {VAD_RATES} (what the VAD takes), got {rate}")
        self.rate = rate
        if isinstance(source, str | Path):
            self.root = Path(source)
            if not self.root.exists():
                raise FileNotFoundError(f"corpus {self.root} does not exist; pass a folder of recordings/WAV files")
            self.root = self.root.resolve()
            single = self.root.is_file() or (self.root / "events.jsonl").is_file()
            paths = [self.root] if single else sorted(self.root.rglob("*"))
            base = self.root.parent if single else self.root
        else:
            paths = [Path(p).resolve() for p in source]
            missing = [str(p) for p in paths if not p.exists()]
            if missing:
                raise FileNotFoundError(f"corpus paths not found: {', '.join(missing)}")
            base = Path(_common_parent(paths))
            self.root = base
        self.items: list[CorpusItem] = list(self._scan(paths, base))
        if not self.items:
            raise ValueError(f"no recordings (folders with events.jsonl) or .wav files in {source}")
        names = [it.name for it in self.items]
        if len(set(names)) != len(names):
            raise ValueError("two corpus items have the same name; list folders with distinct names")

    def _scan(self, paths: Iterable[Path], base: Path) -> Iterator[CorpusItem]:
        recordings: list[Path] = []
        for p in paths:
            if any(r in p.parents for r in recordings):
                continue  # mic.wav/assistant.wav inside a recording are not items of their own
            name = str(p.relative_to(base)) if p != base else p.name
            if p.is_dir() and (p / "events.jsonl").is_file():
                recordings.append(p)
                yield CorpusItem(name, str(p.resolve()), "recording", _labels_for(p, True), self.rate)
            elif p.is_file() and p.suffix.lower() == ".wav":
                yield CorpusItem(name, str(p.resolve()), "wav", _labels_for(p, False), self.rate)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[CorpusItem]:
        return iter(self.items)

    def __getitem__(self, index: int) -> CorpusItem:
        return self.items[index]

    def table(self) -> Any:
        """One row per item: ``name``, ``kind``, ``duration_s`` (from the headers), ``labels``."""
        import pandas as pd

        return pd.DataFrame(
            [{"name": it.name, "kind": it.kind, "duration_s": it.duration_s(), "labels": it.labels} for it in self]
        )

    def __repr__(self) -> str:
        kinds = {k: sum(it.kind == k for it in self.items) for k in ("recording", "wav")}
        return f"Corpus({str(self.root)!r}, {kinds['recording']} recordings, {kinds['wav']} WAV files)"


def _common_parent(paths: Sequence[Path]) -> Path:
    import os

    return Path(os.path.commonpath([str(p.parent) for p in paths])) if paths else Path(".")
