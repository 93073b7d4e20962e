"""The offline path finds the same turns as a live replay through the emulator, setting by setting.

The replay is the real thing: ``replay()`` streams the mic track through the SDK over a
loopback socket into the emulator server, which runs its VAD on what it receives; the
offline path runs the same emulator core over the same samples with no socket at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.speech import speech_pcm
from tests.tuning.corpus_gen import write_recording
from voicelive_nb.recording import Recording
from voicelive_nb.tuning.offline import PrecomputedModel, base_config, detect_turns, replay_tail_s, speech_probs
from voicelive_nb.tuning.replay import replay

# a pause inside a turn (cut at short silences), turns 1.5 s and 0.8 s apart, a short reply
SPEECH = [0.5, "hello there how are you", 0.4, "I would like a table", 1.5, "for two people tonight",
          0.8, "at eight", 1.2]  # fmt: skip
SETTINGS: list[dict[str, Any]] = [
    {"silence_duration_ms": 300, "threshold": 0.5, "prefix_padding_ms": 300},
    {"silence_duration_ms": 800, "threshold": 0.6, "prefix_padding_ms": 100},
    {"silence_duration_ms": 500, "threshold": 0.3, "prefix_padding_ms": 600},
    {"silence_duration_ms": 1000, "threshold": 0.8, "prefix_padding_ms": 0},
]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    pcm, _ = speech_pcm(SPEECH)
    folder = tmp_path_factory.mktemp("eq") / "original"
    write_recording(folder, pcm, [])
    return Recording.load(folder)


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: "-".join(str(v) for v in s.values()))
def test_offline_turns_equal_a_replay_through_the_emulator(
    source: Recording, setting: dict[str, Any], connection: Any, tmp_path: Path
) -> None:
    base = base_config(source.config, source.rate)
    live = replay(source, base, connection=connection, out=tmp_path / "replay", speed=8.0, settle_s=1.0, **setting)
    cfg = base_config(source.config, source.rate).with_vad(**setting)
    offline = detect_turns(np.asarray(source.mic), source.rate, cfg)
    spans = zip(live.turns["start_s"], live.turns["end_s"], strict=True)
    replayed = [(round(a * 1000), round(b * 1000)) for a, b in spans]
    found = [(round(t.start_s * 1000), round(t.end_s * 1000)) for t in offline]
    assert len(found) >= 2, found
    assert found == replayed, f"offline {found} != replay {replayed} with {setting}"


def test_precomputed_probabilities_give_the_same_turns(source: Recording) -> None:
    mic = np.asarray(source.mic)
    probs = speech_probs(mic, source.rate, tail_s=replay_tail_s(1000))
    for setting in SETTINGS:
        cfg = base_config(source.config, source.rate).with_vad(**setting)
        assert detect_turns(mic, source.rate, cfg, probs=probs) == detect_turns(mic, source.rate, cfg), setting
    short = speech_probs(mic[:24_000], source.rate)
    with pytest.raises(ValueError, match="cover .* frames but more audio came"):
        detect_turns(mic, source.rate, base_config(None, source.rate), probs=short)
    with pytest.raises(ValueError, match="turn detection on"):
        detect_turns(mic, source.rate, base_config(None, source.rate).without_vad())
    model = PrecomputedModel(np.array([0.25, 0.75]))
    assert [model.prob(np.zeros(512)), model.prob(np.zeros(512))] == [0.25, 0.75]
    model.reset()
    assert model.prob(np.zeros(512)) == 0.25
