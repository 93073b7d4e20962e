"""Sweep rows on disk: one Parquet file, written in parts while the sweep runs.

Rows are kept as Arrow tables (not Python objects) and written every few seconds to
``<out>.parts/part-NNNNN.parquet``, so a sweep that is killed keeps what it computed;
at the end everything (earlier rows of the same file included) is written to ``out``
in one go and the parts are removed.  :meth:`ResultStore.done` tells which
(recording, setting) pairs need not run again: those with a row and no error.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

TURN_FIELDS = ("start_s", "end_s", "onset_s", "decided_s")
_TYPES: dict[str, pa.DataType] = {
    "recording": pa.string(),
    "setting": pa.string(),
    "error": pa.string(),
    "audio_s": pa.float64(),
    "rate": pa.int64(),
    "vad_model": pa.string(),
    "reference_source": pa.string(),
    "ref_turns": pa.int64(),
    "turns": pa.int64(),
    "found": pa.int64(),
    "missed": pa.int64(),
    "cutoffs": pa.int64(),
    "merges": pa.int64(),
    "false_starts": pa.int64(),
    "delays_ms": pa.list_(pa.float64()),
    "detected": pa.list_(pa.struct([(f, pa.float64()) for f in TURN_FIELDS])),
    "prepare_s": pa.float64(),
    "compute_s": pa.float64(),
    "worker": pa.string(),
}
COLUMNS = tuple(_TYPES)
"""Every row's columns (the setting's own columns, e.g. ``threshold``, come after ``setting``)."""


def _clean(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [_clean(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def to_table(rows: Sequence[Mapping[str, Any]], setting_columns: Sequence[str]) -> pa.Table:
    """Rows (dicts) as an Arrow table with the fixed column types."""
    names = ["recording", "setting", *setting_columns, *(c for c in COLUMNS if c not in ("recording", "setting"))]
    arrays = []
    for name in names:
        values = [_clean(r.get(name)) for r in rows]
        arrays.append(pa.array(values, type=_TYPES.get(name)))
    return pa.Table.from_arrays(arrays, names=names)


class ResultStore:
    """The rows of one sweep output (``out`` may be None: memory only).

    Args:
        out: The Parquet file (``.parquet``); earlier rows in it (and parts a killed
            sweep left) are loaded.
        setting_columns: The grid's setting names, in order.
        flush_s: Seconds between part files.
    """

    def __init__(self, out: str | Path | None, setting_columns: Sequence[str], *, flush_s: float = 5.0) -> None:
        self.out = Path(out) if out is not None else None
        self.setting_columns = list(setting_columns)
        self.flush_s = flush_s
        self._tables: list[pa.Table] = []
        self._rows: list[dict[str, Any]] = []
        self._last = time.monotonic()
        self._parts = self.out.with_name(self.out.name + ".parts") if self.out is not None else None
        self._part_no = 0
        if self.out is not None:
            if self.out.suffix != ".parquet":
                raise ValueError(f"the sweep output must be a .parquet file, got {self.out}")
            self.out.parent.mkdir(parents=True, exist_ok=True)
            earlier = [self.out] if self.out.is_file() else []
            if self._parts is not None and self._parts.is_dir():
                earlier += sorted(self._parts.glob("part-*.parquet"))
                self._part_no = len(earlier)
            for path in earlier:
                with contextlib.suppress(OSError, pa.ArrowInvalid):  # a part cut short by a kill: recomputed
                    self._tables.append(pq.read_table(path))
        self._earlier = self._combined() if self._tables else None

    def done(self) -> set[tuple[str, str]]:
        """(recording, setting) pairs that have a row without an error."""
        if self._earlier is None:
            return set()
        t = self._earlier
        ok = [e is None for e in t.column("error").to_pylist()]
        pairs = zip(t.column("recording").to_pylist(), t.column("setting").to_pylist(), strict=True)
        return {p for p, good in zip(pairs, ok, strict=True) if good}

    def add(self, row: dict[str, Any]) -> None:
        """Keep a row; writes a part file when ``flush_s`` passed since the last one."""
        self._rows.append(row)
        if time.monotonic() - self._last >= self.flush_s:
            self.flush()

    def flush(self) -> None:
        """Turn the rows kept so far into a table (and a part file when there is an output)."""
        self._last = time.monotonic()
        if not self._rows:
            return
        table = to_table(self._rows, self.setting_columns)
        self._rows = []
        self._tables.append(table)
        if self._parts is not None:
            self._parts.mkdir(parents=True, exist_ok=True)
            self._part_no += 1
            tmp = self._parts / f".part-{self._part_no:05d}.tmp"
            pq.write_table(table, tmp)
            os.replace(tmp, self._parts / f"part-{self._part_no:05d}.parquet")

    def _combined(self) -> pa.Table:
        table = pa.concat_tables(self._tables, promote_options="permissive")
        # a pair computed again (it had an error) keeps its last row only
        keys = list(zip(table.column("recording").to_pylist(), table.column("setting").to_pylist(), strict=True))
        last = {k: i for i, k in enumerate(keys)}
        if len(last) < len(keys):
            table = table.take(sorted(last.values()))
        return table

    def finish(self) -> pa.Table:
        """Every row (earlier ones included); written to ``out`` atomically, parts removed."""
        self.flush()
        if not self._tables:
            return to_table([], self.setting_columns)
        table = self._combined()
        if self.out is not None:
            tmp = self.out.with_name(f".{self.out.name}.tmp")
            pq.write_table(table, tmp)
            os.replace(tmp, self.out)
            if self._parts is not None:
                shutil.rmtree(self._parts, ignore_errors=True)
        return table
