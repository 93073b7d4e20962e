"""What a session command returns: :class:`CommandResult`, in a :class:`CommandFuture`.

:meth:`~voicelive_nb.session.VoiceSession.update`, ``update_vad`` and ``enable_tool`` hand the
command to the session loop and return at once; the Future settles with the server's answer to
exactly that command (the protocol core matches it), which is also published as a
``command.result`` record carrying the same id.
"""

from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass
from typing import Any

__all__ = ["CommandFuture", "CommandResult"]


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The server's answer to a command such as :meth:`VoiceSession.update_vad`.

    Attributes:
        command: ``"update"``, ``"update_vad"`` or ``"enable_tool"``.
        ok: True if the server accepted it (``session.updated``).
        detail: The confirmed session dict, or the reason it failed, in plain words.
        id: The command's id (also in its ``command.result`` record, and the Future's ``command_id``).
    """

    command: str
    ok: bool
    detail: Any = None
    id: str = ""


class CommandFuture(concurrent.futures.Future[CommandResult]):
    """The Future of a command's :class:`CommandResult`, named by ``command_id`` from the start.

    The same id is in the ``command.result`` record of the answer, so an observer of the
    records (the panel) can tell which of its commands an answer belongs to.
    """

    def __init__(self, command_id: str) -> None:
        super().__init__()
        self.command_id = command_id
