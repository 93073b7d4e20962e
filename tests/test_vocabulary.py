"""One vocabulary: turns numbered from 1 and the latency stages named, labelled and coloured
the same in the panel's chart, the plots, the demo table and the report."""

from __future__ import annotations

import matplotlib.colors as mcolors
import pytest

from tests.recording.synth import SyntheticSession
from voicelive_nb.cli.demo import format_turns
from voicelive_nb.metrics import LATENCY_STAGES, TurnTracker, stage_ms
from voicelive_nb.panel.chart import LatencyChart
from voicelive_nb.report import plots


@pytest.fixture(scope="module")
def tracker() -> TurnTracker:
    synth = SyntheticSession([(1.0, 2.0), (3.0, 4.0), (6.0, 7.5)], reply_s=0.8).build()
    return TurnTracker(default_output_latency_s=0.04).feed_all(synth.records)


def test_turns_count_from_one_everywhere(tracker: TurnTracker) -> None:
    turns = tracker.turns
    assert [t.index for t in turns] == [1, 2, 3]
    from voicelive_nb.recording.analysis import turn_table

    assert list(turn_table(turns).index) == [1, 2, 3]
    fig = plots.latency_breakdown(turns)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["1", "2", "3"]
    chart = LatencyChart(last_n=4)
    chart.render(turns)
    assert [t.get_text() for t in chart.ax.get_xticklabels()] == ["1", "2", "3"]
    rows = format_turns(turns).splitlines()[2:]
    assert [r.split()[0] for r in rows] == ["1", "2", "3"]


def test_stages_are_named_and_coloured_alike(tracker: TurnTracker) -> None:
    labels = [s.label for s in LATENCY_STAGES]
    chart = LatencyChart(last_n=4)
    chart.render(tracker.turns)
    legend = chart.ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == labels
    chart_colours = [mcolors.to_hex(p.get_facecolor()) for p in legend.get_patches()]
    fig = plots.latency_breakdown(tracker.turns)
    plot_legend = fig.axes[0].get_legend()
    shown = {t.get_text(): h for t, h in zip(plot_legend.get_texts(), plot_legend.legend_handles, strict=True)}
    assert set(labels) <= set(shown)
    plot_colours = [mcolors.to_hex(shown[label].get_facecolor()) for label in labels]  # type: ignore[union-attr]
    assert chart_colours == plot_colours == [s.colour for s in LATENCY_STAGES]
    header = format_turns([]).splitlines()[0]
    assert all(f"{label} ms" in header for label in labels)


def test_stages_add_up_to_voice_to_voice(tracker: TurnTracker) -> None:
    for turn in tracker.turns:
        assert turn.voice_to_voice_ms is not None
        assert sum(stage_ms(turn).values()) == pytest.approx(turn.voice_to_voice_ms, abs=0.01)


def test_stage_ms_takes_turn_like_objects() -> None:
    """The bench's reference client and old tables give objects with only some of the fields."""
    from types import SimpleNamespace

    assert stage_ms(SimpleNamespace(detection_ms=500.0, response_latency_ms=300.0)) == {
        "detection": 500.0,
        "response": 300.0,
        "playout": 0.0,
        "output": 0.0,
    }
