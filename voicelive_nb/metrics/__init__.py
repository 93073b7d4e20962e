"""Per-turn latency metrics, sans-I/O: event records in, :class:`Turn` records out.

===========  ==================================================================
``tracker``  TurnTracker: feeds on records, keeps one Turn per user turn
``turn``     Turn, LATENCY_STAGES / LATENCY_FIELDS (latency, defined once), summarize
``clock``    MicClock: the mic timeline (samples appended) -> monotonic time
===========  ==================================================================

Names are imported lazily (``import voicelive_nb.metrics`` loads none of them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from voicelive_nb._lazy import lazy_exports

_LAZY = {
    "TurnTracker": "voicelive_nb.metrics.tracker",
    "Turn": "voicelive_nb.metrics.turn",
    "LatencyStage": "voicelive_nb.metrics.turn",
    "LATENCY_FIELDS": "voicelive_nb.metrics.turn",
    "LATENCY_STAGES": "voicelive_nb.metrics.turn",
    "stage_ms": "voicelive_nb.metrics.turn",
    "summarize": "voicelive_nb.metrics.turn",
    "AudioClock": "voicelive_nb.metrics.clock",
    "MicClock": "voicelive_nb.metrics.clock",
}

__all__ = [
    "LATENCY_FIELDS",
    "LATENCY_STAGES",
    "AudioClock",
    "LatencyStage",
    "MicClock",
    "Turn",
    "TurnTracker",
    "stage_ms",
    "summarize",
]

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.metrics.clock import AudioClock, MicClock
    from voicelive_nb.metrics.tracker import TurnTracker
    from voicelive_nb.metrics.turn import LATENCY_FIELDS, LATENCY_STAGES, LatencyStage, Turn, stage_ms, summarize

__getattr__, __dir__ = lazy_exports(globals(), _LAZY, __all__)
