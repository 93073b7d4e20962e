"""Browser audio: the page's microphone and speaker for kernels without a sound card.

=======================  ==========================================================
``BrowserAudioLink``     the anywidget whose page half captures and plays (:mod:`.link`)
``BrowserMic``           an ``AudioSource`` fed by the page (:mod:`.mic`)
``BrowserSpeaker``       an ``AudioSink`` that plays in the page (:mod:`.speaker`)
``default_link``         the kernel's shared link (``mic="browser"``, ``speaker="browser"``)
=======================  ==========================================================

Message vocabulary, rates and the sans-I/O parts: :mod:`.messages`.  Names are imported
lazily, so importing this package does not import anywidget.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "BrowserAudioLink": "link",
    "default_link": "link",
    "BrowserMic": "mic",
    "BrowserSpeaker": "speaker",
    "FlushReport": "speaker",
}

__all__ = ["BrowserAudioLink", "BrowserMic", "BrowserSpeaker", "FlushReport", "default_link"]

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.audio.browser.link import BrowserAudioLink, default_link
    from voicelive_nb.audio.browser.mic import BrowserMic
    from voicelive_nb.audio.browser.speaker import BrowserSpeaker, FlushReport


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'voicelive_nb.audio.browser' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"voicelive_nb.audio.browser.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
