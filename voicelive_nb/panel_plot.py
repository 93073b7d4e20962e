"""The panel's live latency chart: one kept matplotlib figure, redrawn to PNG per turn.

A new figure per frame costs about twice as much as redrawing a kept one, and
``pyplot`` would register figures with the notebook's inline backend (and leak
them), so this uses :class:`matplotlib.figure.Figure` with the Agg canvas directly.
Each bar is one turn, split into the latency stages defined in the design notes:
detection (end of speech to ``speech_stopped``), response (``speech_stopped`` to the
first audio delta), playout (first delta to first sample handed to the device) and
the device's output latency; their sum is the voice-to-voice time.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

__all__ = ["STAGES", "LatencyChart", "turn_stages"]

STAGES: tuple[tuple[str, str, str], ...] = (
    ("detection", "detection", "#9aa5b1"),
    ("response", "response", "#3b82f6"),
    ("playout", "playout", "#f59e0b"),
    ("output", "device output", "#10b981"),
)
"""(key, legend label, colour) of each stacked segment, in time order."""


def turn_stages(turn: Any) -> dict[str, float]:
    """The stage durations (ms, missing ones 0) of a :class:`~voicelive_nb.metrics.Turn`."""

    def ms(name: str) -> float:
        value = getattr(turn, name, None)
        return max(0.0, float(value)) if isinstance(value, (int, float)) else 0.0

    return {
        "detection": ms("detection_ms"),
        "response": ms("response_latency_ms"),
        "playout": ms("playout_ms"),
        "output": max(0.0, float(getattr(turn, "output_latency_s", 0.0) or 0.0) * 1000.0)
        if getattr(turn, "first_played", None) is not None
        else 0.0,
    }


class LatencyChart:
    """Stacked per-turn latency bars for the last ``last_n`` turns, rendered to PNG bytes.

    Args:
        last_n: Turns shown.
        size: Figure size in inches.
        dpi: Resolution of the PNG.
    """

    def __init__(self, last_n: int = 12, size: tuple[float, float] = (6.4, 2.6), dpi: int = 90) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.last_n = last_n
        self.figure = Figure(figsize=size, dpi=dpi, layout="constrained")
        FigureCanvasAgg(self.figure)
        self.ax = self.figure.add_subplot()
        self.draws = 0
        """How many times the chart was rendered."""

    def render(self, turns: Sequence[Any]) -> bytes:
        """Redraw the kept figure for ``turns`` (oldest first) and return it as PNG bytes."""
        ax = self.ax
        ax.clear()
        shown = [t for t in turns if getattr(t, "response_id", None) or getattr(t, "first_delta_rx", None)]
        shown = shown[-self.last_n :]
        labels = [str(int(getattr(t, "index", i)) + 1) for i, t in enumerate(shown)]
        x = list(range(len(shown)))
        bottoms = [0.0] * len(shown)
        for key, label, colour in STAGES:
            heights = [turn_stages(t)[key] for t in shown]
            ax.bar(x, heights, bottom=bottoms, color=colour, label=label, width=0.7)
            bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
        for xi, turn, total in zip(x, shown, bottoms, strict=True):
            v2v = getattr(turn, "voice_to_voice_ms", None)
            text = f"{v2v:.0f}" if isinstance(v2v, (int, float)) else f"{total:.0f}"
            if getattr(turn, "interrupted", False):
                text += "\ncut"
            ax.annotate(
                text, (xi, total), ha="center", va="bottom", fontsize=7, xytext=(0, 1), textcoords="offset points"
            )
        ax.set_xticks(x, labels)
        ax.set_xlim(-0.6, max(len(shown), 4) - 0.4)
        top = max(bottoms, default=0.0)
        ax.set_ylim(0, max(500.0, top * 1.18))
        ax.set_xlabel("turn", fontsize=8)
        ax.set_ylabel("ms (voice-to-voice on top)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.legend(
            fontsize=7,
            loc="lower left",
            bbox_to_anchor=(0.0, 1.0),
            frameon=False,
            ncols=4,
            borderaxespad=0.2,
            handlelength=1.2,
            columnspacing=1.0,
        )
        if not shown:
            ax.text(
                0.5,
                0.5,
                "no turns yet: speak, and each answer adds a bar",
                ha="center",
                va="center",
                transform=ax.transAxes,
                fontsize=8,
                color="#6b7280",
            )
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png")
        self.draws += 1
        return buf.getvalue()

    def close(self) -> None:
        """Free the figure."""
        self.figure.clear()
