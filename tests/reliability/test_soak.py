"""A one-minute soak (the 30-minute one is ``bench/soak.py``): flat threads, nothing lost.

The WAV mic loops spoken questions in real time against the emulator, which answers each
with speech; the session records everything.  Memory is only bounded generously here (a
minute is mostly warm-up); the bench reports its slope over half an hour.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("soak_bench", ROOT / "bench" / "soak.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(240)
def test_one_minute_soak_loses_nothing_and_leaks_nothing(tmp_path: Path) -> None:
    soak = load_bench()
    result = soak.run_soak(60.0, folder=tmp_path, every=5.0, warmup=20.0, echo=False)
    s = result["summary"]
    assert s["turns"] >= 4, s
    # zero lost audio frames: every mic block captured was sent, none overflowed, no record dropped
    assert s["dropped_blocks"] == 0 and s["input_overflows"] == 0 and s["bus_dropped"] == 0, s
    assert abs(s["recording_mic_s"] - s["mic_sent_s"]) < 0.05, s
    assert s["mic_sent_s"] > 55.0, s
    # no growth in threads or descriptors once warmed up (bounded worker pools start lazily)
    assert s["threads_max"] == s["threads_min"], s
    assert s["pool_threads_max"] <= 10, s
    assert s["fds_max"] - s["fds_min"] <= 1, s
    # queues stay shallow
    assert s["bus_depth_max"] < 1000 and s["emulator_queue_max"] < 200, s
    # memory: a generous bound for one minute (the bench measures the slope)
    assert s["rss_mb_end"] - s["rss_mb_start"] < 40.0, s
    assert s["recording_turns"] >= s["turns"] - 1, s
