"""The panel's tools row: a switch per tool and Approve/Refuse for MCP approval requests.

A view, owning no state.  A switch turned by the user calls ``switch(name, on)`` (the
panel's ``enable_tool``: a ``session.update`` acknowledged like a VAD change; the wish is
kept in :class:`~voicelive_nb.panel.state.PanelState` until the server answers, and the
switch shows it meanwhile); Approve/Refuse call ``approve(bool)`` (the panel's
``approve_mcp``: the oldest pending request).  :meth:`ToolControls.show` projects what to
show onto the widgets; the panel calls it from its refresh, the one place widgets are written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["ToolControls"]


class ToolControls:
    """See the module docstring.

    Args:
        names: The tools (function names, MCP server labels); none: no row at all.
        switch: Called with ``(name, on)`` when a switch changes (the panel ignores the
            changes its own refresh makes).
        approve: Called with True (Approve) or False (Refuse).
    """

    def __init__(
        self, names: Iterable[str], *, switch: Callable[[str, bool], Any], approve: Callable[[bool], Any]
    ) -> None:
        self.switches: dict[str, Any] = {}
        self.buttons: list[Any] = []
        self.row: Any = None
        """The HBox to add to the panel (None without tools)."""
        names = list(names)
        if not names:
            return
        import ipywidgets

        for name in names:
            box = ipywidgets.Checkbox(value=True, description=name, indent=False)
            box.observe(lambda change, n=name: switch(n, bool(change["new"])), names="value")
            self.switches[name] = box
        ok = ipywidgets.Button(description="Approve", button_style="success", disabled=True)
        no = ipywidgets.Button(description="Refuse", button_style="danger", disabled=True)
        ok.on_click(lambda _b: approve(True))
        no.on_click(lambda _b: approve(False))
        self.buttons = [ok, no]
        self.row = ipywidgets.HBox([ipywidgets.HTML("<b>tools</b>"), *self.switches.values(), ok, no])

    def show(self, tools: Mapping[str, bool], waiting: bool, set_: Callable[[Any, str, Any], None]) -> None:
        """Project ``tools`` (name -> on) and whether an approval request ``waiting``, with the
        panel's writer ``set_``."""
        for name, on in tools.items():
            box = self.switches.get(name)
            if box is not None:
                set_(box, "value", on)
        for button in self.buttons:
            set_(button, "disabled", not waiting)
