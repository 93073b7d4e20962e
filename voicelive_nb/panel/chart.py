"""The panel's live latency chart: one kept matplotlib figure, redrawn to PNG per turn.

A new figure per frame costs about twice as much as redrawing a kept one, and
``pyplot`` would register figures with the notebook's inline backend (and leak
them), so this uses :class:`matplotlib.figure.Figure` with the Agg canvas directly.
Each bar is one turn, split into the latency stages of
:data:`voicelive_nb.metrics.LATENCY_STAGES` (the same names, labels and colours as the
plots and the report); their sum is the voice-to-voice time.  Turns are numbered from 1.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from voicelive_nb.metrics import LATENCY_STAGES, stage_ms

__all__ = ["STAGES", "LatencyChart", "turn_stages"]

STAGES: tuple[tuple[str, str, str], ...] = tuple((s.key, s.label, s.colour) for s in LATENCY_STAGES)
"""(key, legend label, colour) of each stacked segment, in time order (from ``LATENCY_STAGES``)."""

turn_stages = stage_ms
"""The stage durations (ms, missing ones 0) of a :class:`~voicelive_nb.metrics.Turn`."""


class LatencyChart:
    """Stacked per-turn latency bars for the last ``last_n`` turns, rendered to PNG bytes.

    The artists (one rectangle per stage and slot, the labels, the legend) are made once;
    :meth:`render` only moves them and re-rasterises, which keeps a redraw cheap enough
    to run on the kernel's loop after every turn.

    Args:
        last_n: Turns shown.
        size: Figure size in inches.
        dpi: Resolution of the PNG.
    """

    def __init__(self, last_n: int = 12, size: tuple[float, float] = (6.4, 2.6), dpi: int = 90) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import Patch

        self.last_n = last_n
        self.figure = Figure(figsize=size, dpi=dpi)
        FigureCanvasAgg(self.figure)
        # A fixed layout: automatic layout engines cost more than the drawing itself.
        self.figure.subplots_adjust(left=0.12, right=0.98, bottom=0.17, top=0.86)
        ax = self.ax = self.figure.add_subplot()
        slots = list(range(last_n))
        self._bars = {
            key: ax.bar(slots, [0.0] * last_n, bottom=[0.0] * last_n, color=colour, width=0.7)
            for key, _label, colour in STAGES
        }
        self._labels = [
            ax.annotate("", (i, 0.0), ha="center", va="bottom", fontsize=7, xytext=(0, 1), textcoords="offset points")
            for i in slots
        ]
        self._empty = ax.text(
            0.5,
            0.5,
            "no turns yet: speak, and each answer adds a bar",
            ha="center",
            va="center",
            transform=ax.transAxes,
            fontsize=8,
            color="#6b7280",
        )
        handles = [Patch(color=colour, label=label) for _key, label, colour in STAGES]
        ax.legend(
            handles=handles,
            fontsize=7,
            loc="lower left",
            bbox_to_anchor=(0.0, 1.0),
            frameon=False,
            ncols=4,
            borderaxespad=0.2,
            handlelength=1.2,
            columnspacing=1.0,
        )
        ax.set_xlim(-0.6, last_n - 0.4)
        ax.set_xlabel("turn", fontsize=8, labelpad=1)
        ax.set_ylabel("ms (voice-to-voice on top)", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        self.draws = 0
        """How many times the chart was rendered."""

    def render(self, turns: Sequence[Any]) -> bytes:
        """Redraw the kept figure for ``turns`` (oldest first) and return it as PNG bytes."""
        shown = [t for t in turns if getattr(t, "response_id", None) or getattr(t, "first_delta_rx", None)]
        shown = shown[-self.last_n :]
        stages = [turn_stages(t) for t in shown]
        totals = [0.0] * self.last_n
        for key, _label, _colour in STAGES:
            for i, rect in enumerate(self._bars[key].patches):
                height = stages[i][key] if i < len(shown) else 0.0
                rect.set_y(totals[i])
                rect.set_height(height)
                totals[i] += height
        for i, label in enumerate(self._labels):
            if i < len(shown):
                v2v = getattr(shown[i], "voice_to_voice_ms", None)
                text = f"{v2v:.0f}" if isinstance(v2v, (int, float)) else f"{totals[i]:.0f}"
                if getattr(shown[i], "interrupted", False):
                    text += "\ncut"
                label.set_text(text)
                label.xy = (i, totals[i])
            else:
                label.set_text("")
        self._empty.set_visible(not shown)
        self.ax.set_xticks(range(len(shown)), [str(int(getattr(t, "index", i + 1))) for i, t in enumerate(shown)])
        self.ax.set_ylim(0, max(500.0, max(totals, default=0.0) * 1.18))
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png")
        self.draws += 1
        return buf.getvalue()

    def close(self) -> None:
        """Free the figure."""
        self.figure.clear()
