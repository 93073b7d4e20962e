"""Plots (Agg) and the report CLI on a synthetic recording."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.figure import Figure

from tests.recording.synth import SyntheticSession
from voicelive_nb.cli import main as cli_main
from voicelive_nb.metrics import TurnTracker
from voicelive_nb.recording import Recorder, Recording
from voicelive_nb.report import plots


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    folder = tmp_path_factory.mktemp("rec") / "session"
    synth = SyntheticSession([(1.0, 2.0), (3.0, 4.0), (6.0, 7.5)], barge_in_at=3.0, reply_s=1.5).build()
    with Recorder(folder) as rec:
        for r in synth.records:
            rec(r)
    return Recording.load(folder)


def test_each_plot_returns_a_figure_and_draws_into_a_given_ax(recording: Recording) -> None:
    for fn in (plots.timeline, plots.latency_breakdown, plots.latency_cdf, plots.level_meters):
        fig = fn(recording)
        assert isinstance(fig, Figure)
        assert plots.to_png(fig)[:4] == b"\x89PNG"
        host = Figure()
        ax = host.add_subplot()
        assert fn(recording, ax=ax) is host
    tl = plots.timeline(recording, start=0.5, end=5)
    assert tl.axes[0].get_xlim() == (0.5, 5)
    assert any("user says 0" in t.get_text() for t in tl.axes[0].texts)


def test_plots_accept_turn_lists_trackers_and_named_sessions(recording: Recording) -> None:
    tracker = recording.tracker
    assert isinstance(plots.latency_breakdown(tracker.turns), Figure)
    assert isinstance(plots.latency_breakdown(TurnTracker()), Figure)  # empty: says "no turns"
    fig = plots.latency_cdf({"a": recording, "b": recording.turns}, metric="voice_to_voice_ms")
    assert len(fig.axes[0].get_legend().get_texts()) == 2
    with pytest.raises(TypeError, match="expected a Recording"):
        plots.latency_breakdown(42)


def test_repr_html_shows_the_summary_and_the_report_adds_the_timeline(recording: Recording) -> None:
    from voicelive_nb.recording.analysis import summary_html
    from voicelive_nb.report.html import recording_html

    page = recording._repr_html_()  # rendered by the recording itself: recording never imports report
    summary = summary_html(str(recording.path), recording.summary())
    assert summary in page and "turns" in page and "response_latency_ms" in page and "<img" not in page
    report = recording_html(recording, full=False)
    assert summary in report and "data:image/png;base64," in report


def test_report_cli_prints_table_and_writes_html_and_png(
    recording: Recording, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html_out = tmp_path / "r.html"
    assert cli_main(["report", str(recording.path), "--out", str(html_out)]) == 0
    text = capsys.readouterr().out
    assert "3 turns, 1 interrupted" in text and "voice_to_voice_ms" in text and "user says 2" in text
    assert html_out.read_text().count("data:image/png;base64,") == 4
    png_out = tmp_path / "r.png"
    assert cli_main(["report", str(recording.path), "--out", str(png_out)]) == 0
    assert png_out.read_bytes()[:4] == b"\x89PNG"
    assert cli_main(["report", str(tmp_path / "missing")]) == 2
    assert cli_main(["report", str(recording.path), "--out", str(tmp_path / "r.txt")]) == 2


def _png_width(data_uri_b64: str) -> int:
    import base64
    import struct

    head = base64.b64decode(data_uri_b64[:64])
    return int(struct.unpack(">I", head[16:20])[0])  # the IHDR chunk's width


def test_report_page_reads_well(recording: Recording, tmp_path: Path) -> None:
    """A title, the summary first, styled tables, figures that fit 1000 px, numbers rounded."""
    import re

    from voicelive_nb.metrics import LATENCY_STAGES
    from voicelive_nb.report.html import write_report

    page = write_report(recording, tmp_path / "r.html").read_text()
    assert re.search(r"<title>[^<]*report[^<]*</title>", page) and "<h1>" in page and "<style>" in page
    assert page.index("<h2>Summary</h2>") < page.index("<img")
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert len(images) == 4
    assert all(_png_width(b64) <= 1000 for b64 in images), [_png_width(b64) for b64 in images]
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)
    assert not re.findall(r"\d+\.\d{3,}", text), "unrounded numbers in the report"
    assert all(f"{st.label} ms" in text for st in LATENCY_STAGES if st.field != "output_ms")  # stage names
    assert "you said" in text and "user says 2" in text


def test_timeline_labels_overlap_neither_each_other_nor_the_legend(tmp_path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    said = [f"a rather long sentence number {i} that the user said out loud" for i in range(6)]
    replies = [f"and an even longer answer number {i} that the assistant gave back" for i in range(6)]
    utterances = [(1.0 + 1.6 * i, 1.8 + 1.6 * i) for i in range(6)]  # turns close together
    synth = SyntheticSession(utterances, duration=12.0, reply_s=0.5, said=said, replies=replies).build()
    with Recorder(tmp_path / "close") as rec:
        for r in synth.records:
            rec(r)
    recording = Recording.load(tmp_path / "close")
    for width in (12.0, 9.6, 6.0):
        fig = Figure(figsize=(width, 3.9), layout="constrained")
        FigureCanvasAgg(fig)
        plots.timeline(recording, ax=fig.add_subplot())
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
        ax = fig.axes[0]
        boxes = [t.get_window_extent(renderer) for t in ax.texts if t.get_text()]
        assert len(boxes) >= 6, len(boxes)  # most labels are shown (shortened where needed)
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                assert not a.overlaps(b), (width, a, b)
        legend = ax.get_legend().get_window_extent(renderer)
        assert not any(legend.overlaps(b) for b in boxes), width
        assert legend.y1 <= ax.get_window_extent(renderer).y0 + 1  # below the plot
        assert fig.bbox.contains(legend.x0, legend.y0) and fig.bbox.contains(legend.x1, legend.y1)


def test_tables_people_read_are_rounded(recording: Recording) -> None:
    from voicelive_nb.recording.analysis import compare, summary_frame

    table = compare({"a": recording.summary(), "b": recording.summary()})
    for name, row in table.iterrows():
        for value in row:
            if isinstance(value, float) and value == value:
                assert "_ms" not in str(name) and round(value, 2) == value, (name, value)
    assert all(isinstance(v, int) for v in table.loc["detection_ms p50"])
    frame = summary_frame(recording.summary())
    assert isinstance(frame.loc["detection_ms", "p50"], int)


def test_long_sessions_draw_only_what_is_in_view(tmp_path: Path) -> None:
    utterances = [(2.0 + 3.0 * i, 3.0 + 3.0 * i) for i in range(90)]
    synth = SyntheticSession(utterances, duration=275.0, reply_s=0.5).build()
    with Recorder(tmp_path / "long") as rec:
        for r in synth.records:
            rec(r)
    long = Recording.load(tmp_path / "long")
    assert len(long.turns) == 90
    fig = plots.latency_breakdown(long)
    assert len(fig.axes[0].patches) == 0 and fig.axes[0].collections  # stacked areas, not 360 bars
    zoom = plots.timeline(long, start=30.0, end=45.0)
    labels = [t.get_text() for t in zoom.axes[0].texts]
    assert "user says 10" in labels and "user says 20" not in labels
    assert len(plots.timeline(long).axes[0].texts) == 0  # 90 turns in view: too many labels to read
    with pytest.raises(ValueError, match="must be after start"):
        plots.timeline(long, start=10, end=5)
