"""The status next to each control, as plain data: a change sent, accepted, refused, or the service's default.

:class:`ControlChanges` follows the panel's changes through their commands: controls sent in a
``session.update`` show "sent" until the ``command.result`` record of that very command (the
one answer the session matched to it), then "accepted" or the reason it was refused; an answer
that comes before the panel said what it was for waits for it; a session that ends fails what
is still unanswered.  It is part of :class:`~voicelive_nb.panel.state.PanelState` and runs
under its lock (no lock of its own).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from voicelive_nb.panel.snapshot import FieldStatus

__all__ = ["ControlChanges"]


class ControlChanges:
    """The controls' statuses (:attr:`fields`) and the changes awaiting their command's answer.

    The methods that can learn of a failed command return its error line (None otherwise);
    the state shows it.
    """

    def __init__(self) -> None:
        self.fields = _VersionedDict()
        """Control name -> its :class:`~voicelive_nb.panel.snapshot.FieldStatus` (``.version`` counts changes)."""
        # controls sent and not yet answered: name -> the id of the command that sent them
        self._pending: dict[str, str | None] = {}
        # answers (command.result data) that came before the panel said what they were for
        self._early: dict[str, Mapping[str, Any]] = {}

    def mark_pending(self, names: Iterable[str], command_id: str | None) -> str | None:
        """Controls sent in the command ``command_id``: "sent" until its answer (settled at once
        if it already came)."""
        for name in names:
            self._pending[name] = command_id
            self.fields[name] = FieldStatus("pending", "sent")
        early = self._early.pop(command_id, None) if command_id is not None else None
        if early is not None:  # the answer was faster than the caller
            return self._settle(early)
        return None

    def set_field(self, name: str, status: FieldStatus) -> None:
        """Show ``status`` next to the control ``name`` (it awaits no answer any more)."""
        self._pending.pop(name, None)
        self.fields[name] = status

    def mark_defaults(self, names: Iterable[str], all_defaultable: Iterable[str]) -> None:
        """Mark ``names`` as showing the service's default; unmark the others of ``all_defaultable``.
        A control with a change sent, applied or refused is left alone."""
        wanted = set(names)
        for name in all_defaultable:
            current = self.fields.get(name)
            if current is not None and current.state != "default":
                continue
            if name in wanted and current is None:
                self.fields[name] = FieldStatus("default", "service default")
            elif name not in wanted and current is not None:
                self.fields.pop(name)

    def answered(self, data: Mapping[str, Any]) -> str | None:
        """A ``command.result`` record's data: settle the controls its command sent."""
        command_id = data.get("id")
        if command_id is not None and command_id not in self._pending.values():
            # an answer before mark_pending (a fast server), or to someone else's command
            self._early[str(command_id)] = dict(data)
            while len(self._early) > 32:
                self._early.pop(next(iter(self._early)))
            if not data.get("ok"):
                return f"{data.get('command') or 'Command'} failed: {data.get('detail') or 'refused'}"
            return None
        return self._settle(data)

    def session_ended(self) -> None:
        """The session ended: no answer will come for what is still sent."""
        for name in self._pending:
            self.fields[name] = FieldStatus("error", "not applied: the session ended before the server answered")
        self._pending.clear()

    def _settle(self, data: Mapping[str, Any]) -> str | None:
        """Show a command's answer next to the controls it sent (records without an id: those sent without one)."""
        command_id = data.get("id")
        names = [name for name, cid in self._pending.items() if cid == command_id]
        ok = bool(data.get("ok"))
        text = str(data.get("detail") or "The server refused the change.")
        for name in names:
            del self._pending[name]
            # a refused session.update leaves the whole session as it was: every control it sent is refused
            self.fields[name] = FieldStatus("ok", "accepted") if ok else FieldStatus("error", text)
        if not ok:
            return f"{data.get('command') or 'Command'} failed: {text}"
        return None


class _VersionedDict(dict[str, FieldStatus]):
    """A dict that counts its changes (so the panel redraws the badges only when needed)."""

    version = 0

    def __setitem__(self, key: str, value: FieldStatus) -> None:
        self.version += 1
        super().__setitem__(key, value)

    def pop(self, key: str, *default: Any) -> Any:
        self.version += 1
        return super().pop(key, *default)
