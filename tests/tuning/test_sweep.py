"""Corpus sweeps on a real local Dask cluster (2 worker processes on loopback)."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import pytest

from tests.tuning.corpus_gen import EXPECTED, Corpus
from voicelive_nb.tuning.scoring import COUNTS, plot_tradeoff
from voicelive_nb.tuning.sweep import report, sweep

GRID: dict[str, list[Any]] = {"silence_duration_ms": [300, 800, 2000], "threshold": [0.5, 0.6]}
PAIRS = 4 * 6  # 4 items (one damaged) x 6 settings
EDGE_S = 0.15  # Silero's edges vs the samples' energy edges (eSpeak's fading word ends)


def _check_expected(rows: pd.DataFrame, corpus: Corpus) -> None:
    assert len(rows) == PAIRS and rows[["recording", "setting"]].drop_duplicates().shape[0] == PAIRS
    damaged = rows[rows["recording"] == "damaged"]
    assert len(damaged) == 6 and damaged["error"].str.contains("no readable mic track").all()
    good = rows[rows["recording"] != "damaged"]
    assert good["error"].isna().all(), good["error"].dropna().tolist()
    for _, row in good.iterrows():
        want = EXPECTED[row["silence_duration_ms"]][row["recording"]]
        got = {k: int(row[k]) for k in ("turns", *COUNTS)}
        assert got == want, (row["recording"], row["setting"], got, want)
        assert row["ref_turns"] == len(corpus.reference[row["recording"]])
        if row["silence_duration_ms"] == 800:  # every turn right: its boundaries are where the speech is
            detected = [(t["onset_s"], t["end_s"]) for t in row["detected"]]
            assert np.allclose(detected, corpus.reference[row["recording"]], atol=EDGE_S), (row["recording"], detected)
            assert all(abs(d - 800) <= 1000 * EDGE_S for d in row["delays_ms"]), row["delays_ms"]


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def test_sweep_on_its_own_local_cluster_gives_the_expected_turns(corpus: Corpus, tmp_path: Path) -> None:
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    seen: list[int] = []
    out = tmp_path / "results.parquet"
    rows = sweep(corpus.root, GRID, out=out, workers=2, progress=lambda n, total, row: seen.append(total))
    _check_expected(rows, corpus)
    assert seen == [PAIRS] * PAIRS
    assert rows["worker"].nunique() == 2  # both worker processes did work
    assert not (tmp_path / "results.parquet.parts").exists()
    on_disk = pd.read_parquet(out)
    assert len(on_disk) == PAIRS and set(on_disk.columns) == set(rows.columns)
    # the cluster the sweep started is gone (multiprocessing's resource tracker stays until we exit)
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    assert not [p.cmdline() for p in _alive(left) if "resource_tracker" not in " ".join(p.cmdline())]

    table = report(rows)
    assert len(table) == 6 and table["errors"].tolist() == [1] * 6
    by_silence = table.groupby("silence_duration_ms")[["cutoffs", "merges", "found", "missed"]].sum()
    assert by_silence.loc[300, "cutoffs"] == 2 and by_silence.loc[2000, "merges"] == 4
    assert (by_silence["missed"] == 0).all()
    assert table[list(GRID)].values.tolist() == [
        [300, 0.5],
        [300, 0.6],
        [800, 0.5],
        [800, 0.6],
        [2000, 0.5],
        [2000, 0.6],
    ]
    assert ((table["delay_ms_p50"] - table["silence_duration_ms"]).abs() <= 1000 * EDGE_S).all()
    assert (table["delay_ms_p95"] >= table["delay_ms_p50"]).all()
    assert table["pareto"].any() and not table.loc[table["silence_duration_ms"] == 2000, "pareto"].any()
    fig = plot_tradeoff(table)
    fig.savefig(tmp_path / "tradeoff.png")
    assert (tmp_path / "tradeoff.png").stat().st_size > 10_000


def test_rerun_skips_pairs_already_in_the_output(corpus: Corpus, dask_cluster: Any, tmp_path: Path) -> None:
    out = tmp_path / "results.parquet"
    small = {"silence_duration_ms": [800], "threshold": [0.5, 0.6]}
    first = sweep(corpus.root, small, out=out, scheduler=dask_cluster.scheduler_address, progress=False)
    assert len(first) == 8
    ran: list[str] = []
    again = sweep(corpus.root, GRID, out=out, scheduler=dask_cluster.scheduler_address,
                  progress=lambda n, t, row: ran.append(f"{row['recording']} {row['setting']}"))  # fmt: skip
    # the 6 good pairs of the first run are skipped; the damaged ones are tried again
    assert len(ran) == PAIRS - 6 and sum(r.startswith("damaged") for r in ran) == 6
    _check_expected(again, corpus)
    assert len(pd.read_parquet(out)) == PAIRS


def test_a_worker_killed_mid_sweep_costs_a_retry_not_the_results(
    corpus: Corpus, dask_cluster: Any, tmp_path: Path
) -> None:
    from distributed import Client

    with Client(dask_cluster, set_as_default=False) as client:
        pids = client.run(os.getpid)
        killed: list[tuple[str, int, int]] = []

        def kill_busiest(n: int, total: int, row: dict[str, Any]) -> None:
            if killed:
                return
            held = client.has_what()  # keys each worker holds right now (prepared recordings)
            busiest = max(pids, key=lambda w: len(held.get(w, ())))
            killed.append((busiest, pids[busiest], len(held.get(busiest, ()))))
            os.kill(pids[busiest], signal.SIGKILL)

        rows = sweep(corpus.root, GRID, out=tmp_path / "r.parquet", scheduler=client, progress=kill_busiest)
        address, pid, held = killed[0]
        assert held >= 1, "the killed worker held no data: the test did not exercise a loss"
        assert not _alive([psutil.Process(pid)]) if psutil.pid_exists(pid) else True
        assert address not in client.scheduler_info()["workers"]  # the scheduler lost it
        _check_expected(rows, corpus)  # every row, none lost to the kill
        client.wait_for_workers(2, timeout=60)  # the nanny restarted it for the next test


@pytest.fixture
def root_handlers() -> Iterator[None]:
    """The CLI's logging.basicConfig adds a handler on the captured stderr: remove it afterwards
    (distributed logs to it when the module's cluster closes, after the capture is gone)."""
    before = list(logging.root.handlers)
    yield
    logging.root.handlers[:] = before


@pytest.mark.usefixtures("root_handlers")
def test_sweep_cli(corpus: Corpus, dask_cluster: Any, tmp_path: Path, capsys: Any) -> None:
    from voicelive_nb.cli import main as cli_main

    out, png = tmp_path / "cli.parquet", tmp_path / "tradeoff.png"
    grid = ["--silence-ms", "300", "800", "--threshold", "0.5", "--prefix-ms", "300"]
    where = ["--scheduler", dask_cluster.scheduler_address, "--out", str(out), "--plot", str(png), "--no-progress"]
    argv = ["sweep", str(corpus.root), *grid, *where]
    assert cli_main(argv) == 0
    printed = capsys.readouterr()
    assert "2 recordings, 2 WAV files" in printed.out and "8 rows, 2 with errors" in printed.out
    assert "cutoffs" in printed.out and "delay_ms_p95" in printed.out and f"wrote {out}" in printed.out
    assert "damaged: ValueError" in printed.err
    rows = pd.read_parquet(out)
    assert len(rows) == 8 and set(rows["prefix_padding_ms"]) == {300}
    assert png.stat().st_size > 10_000
    assert cli_main(["sweep", str(tmp_path / "missing"), "--silence-ms", "500", "--out", str(out)]) == 2
    assert cli_main(["sweep", str(corpus.root), "--out", str(out)]) == 2
    assert "give at least one of --silence-ms" in capsys.readouterr().err
    assert cli_main(["sweep", str(corpus.root), "--threshold", "7", "--out", str(out)]) == 2  # refused before running
    assert "threshold" in capsys.readouterr().err


def test_settings_are_batched_evenly_into_tasks() -> None:
    from voicelive_nb.tuning.sweep import batches

    settings = [{"threshold": t / 10} for t in range(1, 10)]
    cut = batches(settings, 5)
    assert [len(b) for b in cut] == [5, 4]  # even: not 8 + 1
    assert sorted(s["threshold"] for b in cut for s in b) == [s["threshold"] for s in settings]
    assert batches(settings[:3], 5) == [settings[:3]]
    assert [len(b) for b in batches(settings, 1)] == [1] * 9
