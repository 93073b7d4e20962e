"""``voicelive-nb sweep``: a VAD settings grid over a corpus, on every core or a Dask cluster.

    voicelive-nb sweep calls/ --silence-ms 300 500 800 --threshold 0.4 0.5 0.6 --out results.parquet
    voicelive-nb sweep calls/ --silence-ms 500 800 --scheduler tcp://host:8786 --out results.parquet

Prints the per-setting report (turns vs reference, cut-offs, merges, missed turns, false
starts, detection delay p50/p95, the Pareto front) and writes every (recording, setting)
row to ``--out``; running it again skips the pairs already there.  See
:mod:`voicelive_nb.tuning.sweep`.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``voicelive-nb sweep``."""
    parser.add_argument("corpus", metavar="CORPUS", help="a folder of recordings and/or WAV files (labels: see docs)")
    parser.add_argument("--silence-ms", type=int, nargs="+", metavar="MS", help="silence_duration_ms values")
    parser.add_argument("--threshold", type=float, nargs="+", metavar="X", help="VAD threshold values")
    parser.add_argument("--prefix-ms", type=int, nargs="+", metavar="MS", help="prefix_padding_ms values")
    parser.add_argument("--out", required=True, metavar="FILE.parquet", help="results file (re-runs skip its pairs)")
    parser.add_argument("--scheduler", metavar="ADDR", help="an existing Dask scheduler, e.g. tcp://host:8786")
    parser.add_argument("--workers", type=int, metavar="N", help="local worker processes (default: one per core)")
    parser.add_argument("--rate", type=int, choices=(8000, 16000, 24000), help="load every item at this rate")
    parser.add_argument("--plot", metavar="FILE.png", help="also save the trade-off plot here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    """Run ``voicelive-nb sweep``."""
    import pandas as pd

    from voicelive_nb.tuning.corpus import Corpus
    from voicelive_nb.tuning.sweep import plot_tradeoff, report, sweep

    grid = {
        name: values
        for name, values in (
            ("silence_duration_ms", args.silence_ms),
            ("threshold", args.threshold),
            ("prefix_padding_ms", args.prefix_ms),
        )
        if values
    }
    if not grid:
        print("voicelive-nb sweep: give at least one of --silence-ms, --threshold, --prefix-ms", file=sys.stderr)
        return 2
    try:
        corpus = Corpus(args.corpus, rate=args.rate)
    except FileNotFoundError as exc:
        print(f"voicelive-nb sweep: {exc}", file=sys.stderr)
        return 2
    rows = sweep(corpus, grid, out=args.out, scheduler=args.scheduler, workers=args.workers,
                 progress=not args.no_progress)  # fmt: skip
    table = report(rows)
    errors = rows[rows["error"].notna()]
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.max_colwidth", 60):
        print(f"{corpus!r}: {len(rows)} rows, {len(errors)} with errors")
        print(table.drop(columns=["setting"]).to_string(index=False))
        for _, row in errors.drop_duplicates("recording").iterrows():
            print(f"error: {row['recording']}: {row['error']}", file=sys.stderr)
    if args.plot:
        plot_tradeoff(table).savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")
    print(f"wrote {args.out}")
    return 0
