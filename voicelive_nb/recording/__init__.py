"""Recordings: write a session to a folder (:class:`Recorder`), load it back (:class:`Recording`).

=============  ==================================================================
``recorder``   Recorder: an observer streaming records to the folder; scrub()
``recording``  Recording: the folder loaded back (tracks, events, turns, summary)
``files``      events.jsonl fast loader, the mic clock of a file
``wav``        crash-tolerant WAV writer/reader
``analysis``   turn tables, summaries, compare (pandas)
=============  ==================================================================

Names are imported lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from voicelive_nb._lazy import lazy_exports

_LAZY = {
    "Recorder": "voicelive_nb.recording.recorder",
    "Recording": "voicelive_nb.recording.recording",
    "scrub": "voicelive_nb.recording.recorder",
}

__all__ = ["Recorder", "Recording", "scrub"]

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.recording.recorder import Recorder, scrub
    from voicelive_nb.recording.recording import Recording

__getattr__, __dir__ = lazy_exports(globals(), _LAZY, __all__)
