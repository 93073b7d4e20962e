"""The corpus (scanning, lazy loading, resampling, labels) and scoring against reference turns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.tuning.corpus_gen import Corpus as Generated
from voicelive_nb.tuning.corpus import Corpus, read_labels
from voicelive_nb.tuning.offline import DetectedTurn
from voicelive_nb.tuning.scoring import pareto_front, score


def test_corpus_finds_recordings_and_wavs_without_reading_audio(corpus: Generated) -> None:
    items = Corpus(corpus.root)
    assert [(it.name, it.kind) for it in items] == [
        ("a.wav", "wav"),
        ("b.wav", "wav"),
        ("damaged", "recording"),
        ("rec1", "recording"),
    ]  # fmt: skip  -- mic.wav/assistant.wav inside recordings are not items of their own
    table = items.table()
    assert table.set_index("name")["duration_s"]["b.wav"] == pytest.approx(4.72, abs=0.01)
    assert table.set_index("name")["labels"]["a.wav"].endswith("a.labels.csv")
    # one recording or file alone is a corpus too; listed paths keep their names
    assert [it.name for it in Corpus(corpus.root / "rec1")] == ["rec1"]
    assert [it.name for it in Corpus([corpus.root / "a.wav", corpus.root / "rec1"])] == ["a.wav", "rec1"]


def test_items_load_at_a_vad_rate_with_their_reference(corpus: Generated) -> None:
    by_name = {it.name: it for it in Corpus(corpus.root)}
    a, b, rec = by_name["a.wav"].load(), by_name["b.wav"].load(), by_name["rec1"].load()
    assert (a.rate, b.rate, rec.rate) == (16_000, 24_000, 24_000)  # 44.1 kHz resampled, VAD rates kept
    assert b.duration_s == pytest.approx(4.7218, abs=0.001)
    assert a.reference_source == b.reference_source == "labels" and rec.reference_source == "recording"
    for name, loaded in (("a.wav", a), ("b.wav", b), ("rec1", rec)):
        assert loaded.reference is not None
        assert np.allclose(loaded.reference, corpus.reference[name], atol=0.001), name
    assert rec.config is not None and rec.config["voice"]["name"] == "alloy"
    at16 = Corpus(corpus.root, rate=16_000)
    assert {it.name: it for it in at16}["rec1"].load().rate == 16_000
    with pytest.raises(ValueError, match="no readable mic track"):
        by_name["damaged"].load()
    with pytest.raises(ValueError, match="must be one of"):
        Corpus(corpus.root, rate=22_050)


def test_bad_corpus_and_labels_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Corpus(tmp_path / "nope")
    with pytest.raises(ValueError, match="no recordings"):
        Corpus(tmp_path)
    (tmp_path / "x.labels.csv").write_text("begin,finish\n1,2\n")
    with pytest.raises(ValueError, match="start_s,end_s"):
        read_labels(tmp_path / "x.labels.csv")
    (tmp_path / "y.labels.csv").write_text("start,end\n1.5,1.0\n")
    with pytest.raises(ValueError, match=r"y.labels.csv:2: a turn needs 0 <= start <= end"):
        read_labels(tmp_path / "y.labels.csv")
    (tmp_path / "z.labels.txt").write_text("2.0\t3.0\tsecond\n\\\t100\t200\n0.5\t1.0\n")  # Audacity, unsorted
    assert read_labels(tmp_path / "z.labels.txt") == [(0.5, 1.0), (2.0, 3.0)]


def _turn(onset: float, end: float) -> DetectedTurn:
    return DetectedTurn(onset - 0.3, end, onset, end + 0.5)


def test_score_counts_cutoffs_merges_misses_and_false_starts() -> None:
    reference = [(1.0, 3.0), (4.0, 5.0), (6.0, 7.0), (9.0, 10.0)]
    detected = [
        _turn(1.0, 1.8),
        _turn(2.2, 3.0),  # the first turn cut in two
        _turn(4.0, 7.0),  # two turns merged
        _turn(8.0, 8.5),  # a cough
    ]  # fmt: skip   -- and the last turn missed
    s = score(detected, reference)
    assert {k: s[k] for k in ("turns", "ref_turns", "found", "missed", "cutoffs", "merges", "false_starts")} == {
        "turns": 4, "ref_turns": 4, "found": 3, "missed": 1, "cutoffs": 1, "merges": 1, "false_starts": 1
    }  # fmt: skip
    # delays: the first turn ends where its second piece was decided; the merge ends the later turn only
    assert s["delays_ms"] == [500.0, 500.0]
    assert score(detected, None)["cutoffs"] is None and score([], reference)["missed"] == 4


def test_pareto_front_marks_the_settings_nothing_beats() -> None:
    import pandas as pd

    table = pd.DataFrame({"delay": [300.0, 500.0, 800.0, 600.0, None], "cutoffs": [5, 2, 0, 3, 0]})
    assert pareto_front(table, "delay", "cutoffs") == [True, True, True, False, False]
