"""Tuning from recordings: replay a recording's mic track with other settings, sweep VAD settings.

``replay`` (the module) holds :func:`~voicelive_nb.tuning.replay.replay` (also
``voicelive_nb.tuning.replay``), :func:`vad_sweep` and :class:`ReplayMic`.  Names are imported lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from voicelive_nb._lazy import lazy_exports

_LAZY = {
    "ReplayMic": "voicelive_nb.tuning.replay",
    "vad_sweep": "voicelive_nb.tuning.replay",
}

__all__ = ["ReplayMic", "vad_sweep"]

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.tuning.replay import ReplayMic, vad_sweep

__getattr__, __dir__ = lazy_exports(globals(), _LAZY, __all__)
