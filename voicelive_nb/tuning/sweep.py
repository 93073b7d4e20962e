"""VAD sweeps over a corpus on ``dask.distributed``: every core here, or an existing cluster.

    from voicelive_nb.tuning.sweep import sweep, report
    rows = sweep("calls/", {"silence_duration_ms": [300, 500, 800], "threshold": [0.4, 0.5, 0.6]},
                 out="results.parquet")
    report(rows)                       # per setting: turns vs reference, cut-offs, delay p50/p95 ...

Tasks run (recording, setting) pairs, a few settings of one recording each, on the offline path
(:mod:`voicelive_nb.tuning.offline`: the emulator's own VAD and turn logic, no socket).
Each recording is first *prepared* once -- read, resampled, speech probabilities computed
-- by one task that its pairs depend on, so Dask runs the pairs where that data already is
and recomputes it if the worker holding it dies.  Recordings are submitted a window at a
time, so memory stays flat however large the corpus.

* ``scheduler=None`` starts a local cluster (one single-threaded worker process per core)
  and closes it at the end; ``scheduler="tcp://host:8786"`` (or a ``distributed.Client``)
  uses an existing one, whose workers need ``voicelive-nb[emulator]`` installed.
* ``out="results.parquet"``: rows are saved as they come (in parts, see
  :mod:`voicelive_nb.tuning.results`), and a re-run skips the pairs that already have a
  row without an error.
* A pair that fails (a damaged file) becomes a row with ``error`` set; a worker lost
  mid-sweep only costs its tasks a retry (Dask's ``allowed-failures``, 3 by default).

CLI: ``voicelive-nb sweep CORPUS --silence-ms 300 500 800 --threshold 0.4 0.5 0.6
[--prefix-ms ...] [--scheduler ADDR] [--workers N] --out results.parquet``.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from voicelive_nb.tuning.corpus import Corpus, CorpusItem
from voicelive_nb.tuning.offline import base_config, detect_turns, replay_tail_s, speech_probs
from voicelive_nb.tuning.scoring import plot_tradeoff, score, setting_report

if TYPE_CHECKING:
    import pandas as pd

    from voicelive_nb.config import SessionConfig

log = logging.getLogger(__name__)

__all__ = ["plot_tradeoff", "report", "sweep"]

PAIRS_PER_TASK = 5
"""Settings of one recording run by one task (at most; a task's share of scheduling and
result transfer is then small beside its compute, ~50 ms of turn logic a minute of audio)."""

Progress = Callable[[int, int, dict[str, Any]], None]
"""``progress(done, total, row)``, called in the caller's thread after each row."""


@dataclass(frozen=True)
class Prepared:
    """One recording made ready for its settings (the result of a prepare task)."""

    name: str
    audio: np.ndarray | None
    rate: int
    probs: np.ndarray | None
    reference: list[tuple[float, float]] | None
    reference_source: str | None
    config: dict[str, Any] | None
    model: str
    prepare_s: float
    error: str | None = None


def setting_key(setting: Mapping[str, Any]) -> str:
    """A setting's name in the results: ``"silence_duration_ms=500 threshold=0.5"`` (sorted)."""
    return " ".join(f"{k}={setting[k]}" for k in sorted(setting))


def grid_settings(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of ``grid`` (setting name -> values), checked against ``VadSettings``."""
    from voicelive_nb.config import SessionConfig

    if not grid:
        raise ValueError("a sweep needs a grid, e.g. {'silence_duration_ms': [300, 500, 800]}")
    for key, values in grid.items():
        if isinstance(values, str) or not isinstance(values, Sequence) or not values:
            raise ValueError(f"grid[{key!r}] must be a non-empty list of values, got {values!r}")
    keys = list(grid)
    settings = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(grid[k] for k in keys))]
    for setting in settings:  # every setting checked before anything starts
        SessionConfig().with_vad(**setting)
    return settings


# -- tasks (run on the workers) ---------------------------------------------------------------


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"


def prepare(item: CorpusItem, settings: list[dict[str, Any]], base: SessionConfig | None, model: str) -> Prepared:
    """Read ``item`` and compute its speech probabilities (over the longest tail its settings need).

    Never raises: a failure is returned as ``Prepared.error`` (its pairs become error rows).
    """
    t = time.perf_counter()
    try:
        loaded = item.load()
        cfg = base_config(loaded.config, loaded.rate, base)
        tails = [replay_tail_s(_silence_ms(cfg, s)) for s in settings]
        probs = speech_probs(loaded.audio, loaded.rate, model=model, tail_s=max(tails))
        return Prepared(item.name, loaded.audio, loaded.rate, probs, loaded.reference, loaded.reference_source,
                        loaded.config, _model_name(model), time.perf_counter() - t)  # fmt: skip
    except Exception as exc:  # every failure becomes an error row, not a failed sweep
        return Prepared(item.name, None, 0, None, None, None, None, model, time.perf_counter() - t, _why(exc))


def _silence_ms(cfg: SessionConfig, setting: Mapping[str, Any]) -> float:
    td = cfg.with_vad(**setting).turn_detection
    return float(td.silence_duration_ms) if td is not None else 500.0


def _model_name(model: str) -> str:
    from voicelive_nb.emulator.vad import acquire_model, release_model

    m = acquire_model(model)  # pooled: the instance speech_probs just released
    release_model(m)
    return m.name


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def run_pairs(prepared: Prepared, settings: list[dict[str, Any]], base: SessionConfig | None) -> list[dict[str, Any]]:
    """Several settings of one recording (one task: fewer, larger tasks than one per pair keep
    the scheduler's and the client's share of the cores small); one row each, in order."""
    return [run_pair(prepared, setting, base) for setting in settings]


def batches(settings: list[dict[str, Any]], size: int = PAIRS_PER_TASK) -> list[list[dict[str, Any]]]:
    """``settings`` cut into at most ``size`` each, as even as can be (9 -> 5 + 4, not 8 + 1)."""
    n = max(1, -(-len(settings) // max(1, size)))
    return [settings[i::n] for i in range(n)]


def run_pair(prepared: Prepared, setting: dict[str, Any], base: SessionConfig | None) -> dict[str, Any]:
    """One (recording, setting) pair: the turns found and their score, as a result row."""
    row: dict[str, Any] = {"recording": prepared.name, "setting": setting_key(setting), **setting}
    row.update(vad_model=prepared.model, prepare_s=prepared.prepare_s, worker=_worker_name())
    if prepared.error is not None or prepared.audio is None:
        return {**row, "error": prepared.error or "not prepared"}
    t = time.perf_counter()
    try:
        cfg = base_config(prepared.config, prepared.rate, base).with_vad(**setting)
        turns = detect_turns(prepared.audio, prepared.rate, cfg, probs=prepared.probs)
        row.update(score(turns, prepared.reference))
        row.update(detected=[turn.to_dict() for turn in turns], error=None)
    except Exception as exc:
        row["error"] = _why(exc)
    row.update(audio_s=len(prepared.audio) / prepared.rate, rate=prepared.rate,
               reference_source=prepared.reference_source, compute_s=time.perf_counter() - t)  # fmt: skip
    return row


# -- the sweep (runs in the caller) -------------------------------------------------------------


def sweep(
    corpus: Corpus | str | Path | Sequence[str | Path],
    grid: Mapping[str, Sequence[Any]],
    *,
    out: str | Path | None = None,
    scheduler: Any = None,
    workers: int | None = None,
    config: SessionConfig | None = None,
    model: str = "auto",
    progress: bool | Progress = True,
    window: int | None = None,
) -> pd.DataFrame:
    """Run every (recording, setting) pair of ``corpus`` x ``grid``; one row per pair.

    Args:
        corpus: A :class:`~voicelive_nb.tuning.corpus.Corpus`, or what makes one (a folder).
        grid: ``VadSettings`` field -> values, e.g. ``{"silence_duration_ms": [300, 800]}``.
        out: Parquet file for the rows; pairs already in it without an error are skipped.
        scheduler: None = a local cluster started (and closed) here; an address such as
            ``"tcp://host:8786"`` or a ``distributed.Client`` = that cluster.
        workers: Worker processes of the local cluster (default: one per core).
        config: Base session config for every item; default: each recording's own
            (as a replay), the defaults for WAV files.  The grid is applied on top.
        model: Speech model (``"auto"``, as the emulator).
        progress: A progress bar (``tqdm``: a widget in a notebook, text in a terminal),
            False for none, or a callable ``progress(done, total, row)``.
        window: Recordings in flight at once (default: 2 per worker thread + 2).

    Returns:
        The rows (earlier rows of ``out`` included): ``recording``, ``setting``, the grid's
        columns, ``audio_s``, ``ref_turns``, ``turns``, ``found``, ``missed``, ``cutoffs``,
        ``merges``, ``false_starts``, ``delays_ms``, ``detected`` (the turns), ``error`` ...
        :func:`report` summarises them per setting.

    Raises:
        ValueError: A bad grid or output path (before anything runs).
    """
    from voicelive_nb.tuning.results import ResultStore

    items = corpus if isinstance(corpus, Corpus) else Corpus(corpus)
    settings = grid_settings(grid)
    if config is not None:
        for setting in settings:
            config.with_vad(**setting)
    store = ResultStore(out, list(grid))
    done = store.done()
    todo = [(it, [s for s in settings if (it.name, setting_key(s)) not in done]) for it in items]
    todo = [(it, todo_settings) for it, todo_settings in todo if todo_settings]
    total = sum(len(s) for _, s in todo)
    if done:
        log.info("sweep: %d pairs already in %s, %d to run", len(done), out, total)
    if total:
        _run(todo, total, store, scheduler, workers, config, model, progress, window)
    table: pd.DataFrame = store.finish().to_pandas(types_mapper=_nullable_ints)
    table = table.sort_values(["recording", *grid], kind="stable", ignore_index=True)
    table.attrs["setting_columns"] = list(grid)
    return table


def _nullable_ints(dtype: Any) -> Any:
    import pandas as pd
    import pyarrow as pa

    return pd.Int64Dtype() if dtype == pa.int64() else None


def _run(todo: list[tuple[CorpusItem, list[dict[str, Any]]]], total: int, store: Any, scheduler: Any,
         workers: int | None, base: SessionConfig | None, model: str, progress: bool | Progress,
         window: int | None) -> None:  # fmt: skip
    as_completed = _distributed().as_completed

    client, cluster, owned = _connect(scheduler, workers)
    bar = _progress_bar(progress, total)
    try:
        threads = sum(client.nthreads().values()) or 1
        queue: Iterator[tuple[CorpusItem, list[dict[str, Any]]]] = iter(todo)
        pending: dict[str, list[Any]] = {}  # recording -> [prepare future, pairs left]
        meta: dict[str, tuple[CorpusItem, list[dict[str, Any]]]] = {}
        # results are gathered in batches in the background (no round trip per row)
        futures = as_completed(loop=client.loop, with_results=True, raise_errors=False)

        def submit_next() -> None:
            nxt = next(queue, None)
            if nxt is None:
                return
            item, item_settings = nxt
            tag = uuid.uuid4().hex[:8]
            prep = client.submit(prepare, item, item_settings, base, model, key=f"vad-prepare-{tag}")
            pending[item.name] = [prep, len(item_settings)]
            for i, batch in enumerate(batches(item_settings)):
                fut = client.submit(run_pairs, prep, batch, base, key=f"vad-pairs-{tag}-{i}")
                meta[fut.key] = (item, batch)
                futures.add(fut)

        for _ in range(window or 2 * threads + 2):
            submit_next()
        n = 0
        for fut, result in futures:
            item, batch = meta.pop(fut.key)
            if isinstance(result, list):
                rows = result
            else:  # KilledWorker after repeated worker deaths, a lost cluster ...
                error = result[1] if isinstance(result, tuple) else result  # (type, exception, traceback)
                if not isinstance(error, BaseException):
                    error = RuntimeError(f"no result ({error!r})")
                rows = [{"recording": item.name, "setting": setting_key(s), **s, "error": _why(error)} for s in batch]
            fut.release()
            for row in rows:
                n += 1
                store.add(row)
                bar(n, total, row)
            entry = pending[item.name]
            entry[1] -= len(batch)
            if entry[1] == 0:
                del pending[item.name]
                entry[0].release()
                submit_next()
    finally:
        bar(-1, total, {})
        if owned:
            client.close()
        if cluster is not None:
            cluster.close()


def _distributed() -> Any:
    """``distributed``, typed loosely (it ships no type hints)."""
    import importlib

    return importlib.import_module("distributed")


def _connect(scheduler: Any, workers: int | None) -> tuple[Any, Any, bool]:
    """``(client, local cluster or None, whether the client is ours to close)``."""
    dist = _distributed()
    Client, LocalCluster = dist.Client, dist.LocalCluster

    if isinstance(scheduler, Client):
        return scheduler, None, False
    if scheduler is not None and not isinstance(scheduler, str):  # a cluster object
        return Client(scheduler, set_as_default=False), None, True
    if scheduler is not None:
        client = Client(scheduler, timeout=30, set_as_default=False)
        try:
            client.wait_for_workers(1, timeout=60)
        except TimeoutError:
            client.close()
            raise RuntimeError(f"no Dask worker joined {scheduler} within 60 s; start workers with "
                               f"`dask worker {scheduler}` (voicelive-nb[emulator] installed)") from None  # fmt: skip
        return client, None, True
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        cluster = LocalCluster(n_workers=workers or cores, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)  # fmt: skip
    except RuntimeError as exc:  # e.g. "Nanny failed to start": the spawned workers re-import __main__
        raise RuntimeError(
            f"could not start local Dask workers ({exc}); in a script, call sweep() under "
            "`if __name__ == '__main__':` (each worker process imports the script), or pass scheduler="
        ) from exc
    return Client(cluster, set_as_default=False), cluster, True


def _progress_bar(progress: bool | Progress, total: int) -> Progress:
    """A ``(done, total, row)`` callable; ``done=-1`` closes it."""
    if callable(progress):
        user = progress
        return lambda n, t, row: None if n < 0 else user(n, t, row)
    if not progress:
        return lambda n, t, row: None
    try:
        from tqdm.auto import tqdm  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return lambda n, t, row: print(f"VAD sweep {n}/{t}", file=sys.stderr) if n > 0 and n % 50 == 0 else None
    bar = tqdm(total=total, desc="VAD sweep", unit="pair")

    def update(n: int, t: int, row: dict[str, Any]) -> None:
        if n < 0:
            bar.close()
        else:
            bar.update(1)

    return update


def report(rows: pd.DataFrame) -> pd.DataFrame:
    """Per setting: turns found vs reference, cut-offs, merges, missed turns, false starts,
    detection delay p50/p95 and ``pareto`` (see :mod:`voicelive_nb.tuning.scoring`)."""
    return setting_report(rows)
