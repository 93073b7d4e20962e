"""Tuning turn detection from recordings.

=============  ==================================================================
``replay``     replay a recording's mic track into a new session (ReplayMic, replay, vad_sweep)
``corpus``     Corpus: a folder of recordings and/or WAV files with reference turns, loaded lazily
``offline``    the emulator's own VAD and turn logic over a mic track, no socket (detect_turns)
``scoring``    turns found vs reference: cut-offs, merges, misses, false starts, delays; the plot
``sweep``      corpus x settings grid on dask.distributed, results in Parquet (sweep, report)
``results``    the Parquet rows of a sweep, written in parts while it runs
=============  ==================================================================

Names are imported lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from voicelive_nb._lazy import lazy_exports

_LAZY = {
    "ReplayMic": "voicelive_nb.tuning.replay",
    "vad_sweep": "voicelive_nb.tuning.replay",
    "Corpus": "voicelive_nb.tuning.corpus",
    "detect_turns": "voicelive_nb.tuning.offline",
    "plot_tradeoff": "voicelive_nb.tuning.scoring",
    "report": "voicelive_nb.tuning.sweep",
    "sweep": "voicelive_nb.tuning.sweep",
}

__all__ = ["Corpus", "ReplayMic", "detect_turns", "plot_tradeoff", "report", "sweep", "vad_sweep"]

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.tuning.corpus import Corpus
    from voicelive_nb.tuning.offline import detect_turns
    from voicelive_nb.tuning.replay import ReplayMic, vad_sweep
    from voicelive_nb.tuning.scoring import plot_tradeoff
    from voicelive_nb.tuning.sweep import report, sweep

__getattr__, __dir__ = lazy_exports(globals(), _LAZY, __all__)
