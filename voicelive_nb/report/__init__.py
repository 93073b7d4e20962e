"""Reports of a recorded session: matplotlib figures (``plots``) and text/HTML/PNG summaries (``html``).

Names are imported lazily (``import voicelive_nb.report`` does not load matplotlib).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from voicelive_nb._lazy import lazy_exports

_LAZY = {
    "recording_html": "voicelive_nb.report.html",
    "report_png": "voicelive_nb.report.html",
    "summary_text": "voicelive_nb.report.html",
    "write_report": "voicelive_nb.report.html",
}

__all__ = ["recording_html", "report_png", "summary_text", "write_report"]

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.report.html import recording_html, report_png, summary_text, write_report

__getattr__, __dir__ = lazy_exports(globals(), _LAZY, __all__)
