"""Turns found vs reference turns, per recording and per setting; the trade-off plot.

Matching is by overlap on the audio timeline: a detected turn spans ``onset_s..end_s``
(speech as heard, without the prefix padding), a reference turn ``start..end``.

* **found**: reference turns overlapped by at least one detected turn; **missed**: the others;
* **cut-offs**: a reference turn overlapped by k > 1 detected turns counts k - 1 (the
  user was cut off each time the detector ended the turn early);
* **merges**: a detected turn overlapping k > 1 reference turns counts k - 1;
* **false starts**: detected turns overlapping no reference turn;
* **detection delay**: for each found reference turn that is the last one in the detected
  turn that ends it, ``decided_s - reference end`` in ms: how much audio passed between
  the end of speech and ``speech_stopped`` (the silence waited for, plus the model's lag).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from voicelive_nb.tuning.offline import DetectedTurn

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

COUNTS = ("found", "missed", "cutoffs", "merges", "false_starts")
"""The per-recording counts :func:`score` returns (besides ``turns``, ``ref_turns``, ``delays_ms``)."""


def score(detected: Sequence[DetectedTurn], reference: Sequence[tuple[float, float]] | None) -> dict[str, Any]:
    """Counts of :data:`COUNTS` and ``delays_ms`` for one recording; None values without a reference."""
    out: dict[str, Any] = {"turns": len(detected), "ref_turns": None, "delays_ms": []}
    if reference is None:
        out.update(dict.fromkeys(COUNTS))
        return out
    refs = sorted(reference)
    hits = [[i for i, d in enumerate(detected) if d.onset_s < b and d.end_s > a] for a, b in refs]
    owners = [[j for j, (a, b) in enumerate(refs) if d.onset_s < b and d.end_s > a] for d in detected]
    delays = []
    for j, (_, end) in enumerate(refs):
        if hits[j]:
            last = hits[j][-1]
            if owners[last][-1] == j:
                delays.append(round((detected[last].decided_s - end) * 1000.0, 1))
    out.update(
        ref_turns=len(refs),
        found=sum(1 for h in hits if h),
        missed=sum(1 for h in hits if not h),
        cutoffs=sum(max(0, len(h) - 1) for h in hits),
        merges=sum(max(0, len(o) - 1) for o in owners),
        false_starts=sum(1 for o in owners if not o),
        delays_ms=delays,
    )
    return out


def setting_report(rows: pd.DataFrame, setting_columns: Iterable[str] | None = None) -> pd.DataFrame:
    """Per setting, over every recording of a sweep's rows: ``recordings``, ``errors``,
    ``audio_s``, ``ref_turns``, ``turns``, the :data:`COUNTS`, ``delay_ms_p50``/``p95``,
    and ``pareto`` (True on the front of cut-offs against detection delay p50)."""
    import pandas as pd

    cols = list(setting_columns) if setting_columns is not None else list(rows.attrs.get("setting_columns", []))
    keys = ["setting", *[c for c in cols if c in rows.columns]]
    out = []
    for _, group in rows.groupby("setting", sort=False):
        ok = group[group["error"].isna()]
        delays = [d for lst in ok["delays_ms"] for d in (lst if lst is not None else [])]
        row: dict[str, Any] = {k: group[k].iloc[0] for k in keys}
        row.update(recordings=len(group), errors=int(group["error"].notna().sum()), audio_s=float(ok["audio_s"].sum()))
        for name in ("ref_turns", "turns", *COUNTS):
            values = ok[name].dropna()
            row[name] = int(values.sum()) if len(values) else None
        row["delay_ms_p50"] = float(np.percentile(delays, 50)) if delays else None
        row["delay_ms_p95"] = float(np.percentile(delays, 95)) if delays else None
        out.append(row)
    table = pd.DataFrame(out)
    if len(table) and keys[1:]:
        table = table.sort_values(keys[1:], kind="stable", ignore_index=True)
    if len(table):
        table["pareto"] = pareto_front(table, "delay_ms_p50", "cutoffs")
    return table


def pareto_front(table: pd.DataFrame, x: str, y: str) -> list[bool]:
    """True for rows no other row beats on both ``x`` and ``y`` (lower is better; missing = worst)."""
    xs = table[x].astype(float).fillna(np.inf).to_numpy()
    ys = table[y].astype(float).fillna(np.inf).to_numpy()
    front = []
    for i in range(len(xs)):
        beaten = (xs <= xs[i]) & (ys <= ys[i]) & ((xs < xs[i]) | (ys < ys[i]))
        front.append(bool(np.isfinite(xs[i]) and np.isfinite(ys[i]) and not beaten.any()))
    return front


def plot_tradeoff(report: pd.DataFrame, *, x: str = "delay_ms_p50", y: str = "cutoffs", ax: Any = None) -> Figure:
    """One point per setting (``y`` against ``x``), the Pareto front joined and labelled."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4.5))
    else:
        fig = ax.figure
    data = report.dropna(subset=[x, y])
    front = data[pareto_front(data, x, y)].sort_values(x) if len(data) else data
    ax.scatter(data[x], data[y], color="0.6", label="setting")
    if len(front):
        ax.step(front[x], front[y], where="post", color="tab:red", alpha=0.6)
        ax.scatter(front[x], front[y], color="tab:red", zorder=3, label="Pareto front")
        for _, row in front.iterrows():
            ax.annotate(str(row["setting"]), (row[x], row[y]), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel(x.replace("_", " "))
    ax.set_ylabel(y.replace("_", " "))
    ax.set_title("VAD settings: the trade-off (lower left is better)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig
