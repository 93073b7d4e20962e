"""A Jupyter server extension: kernel websockets without Nagle's algorithm.

jupyter_server (2.x) never calls ``set_nodelay`` on its kernel websockets, so the kernel's small
messages to the page wait for the browser's delayed TCP acknowledgement of the previous one: on
loopback every kernel -> page message arrived 25-40 ms late (bench/browser_bench.py: a barge-in's
``flush`` 38 ms, then 7.6 ms with this extension).  Page -> kernel messages are not affected
(browsers set TCP_NODELAY themselves).

Installing voicelive-nb enables it for every jupyter_server started from the same environment:
the wheel puts ``etc/jupyter/jupyter_server_config.d/voicelive_nb.json``
(``jpserver_extensions: {"voicelive_nb": true}``) into the environment's Jupyter config path, and
``voicelive_nb._jupyter_server_extension_points`` names this module.  It changes every kernel
websocket of that server, to their benefit (small messages go out at once)::

    jupyter server extension list                 # "voicelive_nb enabled ... OK"
    jupyter server extension disable voicelive_nb # back to jupyter_server's own behaviour

When the server runs from another environment than the kernel (JupyterHub's hub image, a
system-wide server with the kernel in a conda environment) it does not have the extension unless
voicelive-nb is installed there too: browser audio still works, each kernel -> page message is
then 25-40 ms later (a barge-in's flush, and so the page's silence, included).  The server logs
:data:`NODELAY_MARK` at start when the extension is loaded.

It wraps ``KernelWebsocketHandler.open`` to set TCP_NODELAY first; nothing else changes.
"""

from __future__ import annotations

import contextlib
from typing import Any

__all__ = ["NODELAY_MARK"]

NODELAY_MARK = "voicelive-nb: TCP_NODELAY on kernel websockets"
"""What the server logs when the extension is loaded."""


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": __name__}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from jupyter_server.services.kernels.websocket import KernelWebsocketHandler

    if getattr(KernelWebsocketHandler, "_vlnb_nodelay", False):
        return
    original: Any = KernelWebsocketHandler.open

    async def open(self: Any, kernel_id: str) -> Any:
        with contextlib.suppress(Exception):  # a connection already gone: the original open copes
            self.set_nodelay(True)
        return await original(self, kernel_id)

    setattr(KernelWebsocketHandler, "open", open)  # noqa: B010 - (mypy: no method assignment)
    setattr(KernelWebsocketHandler, "_vlnb_nodelay", True)  # noqa: B010
    serverapp.log.info(NODELAY_MARK)
