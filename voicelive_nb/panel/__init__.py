"""The ipywidgets panel: it observes a session's records and owns no state of its own.

==============  ===============================================================================
``panel``       Panel: builds the widgets, wires them, projects the state into them
``control``     SessionControl, held by Panel: the session, connect/disconnect, record, set_vad, tools
``state``       PanelState: sans-I/O model, records in, snapshots out
``transcript``  Transcript: the transcript lines (part of the state)
``changes``     ControlChanges: each control's sent/accepted/refused status (part of the state)
``snapshot``    the immutable snapshot types the views consume
``widgets``     the widgets and their layout (controls, status, meters ...)
``views``       HTML fragments of a snapshot
``chart``       the latency chart
``refresh``     Refresher: the one place widgets are written (kernel loop, <= 20 Hz)
``tools``       ToolControls: a switch per tool, Approve/Refuse for MCP approvals
==============  ===============================================================================

``Panel`` is imported lazily (``import voicelive_nb.panel`` does not load ipywidgets).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from voicelive_nb._lazy import lazy_exports

_LAZY = {
    "Panel": "voicelive_nb.panel.panel",
    "PanelState": "voicelive_nb.panel.state",
}

__all__ = ["Panel", "PanelState"]

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.panel.panel import Panel
    from voicelive_nb.panel.state import PanelState

__getattr__, __dir__ = lazy_exports(globals(), _LAZY, __all__)
