"""Fault injection for tests of client robustness (``Emulator.faults``).

Set attributes from any thread; they apply to every connection of that emulator from
the next server event on.  One-shot faults disarm themselves when they fire.

    emu.faults.drop_after_events = 5        # abort the socket after 5 more events
    emu.faults.drop_mid_response = True     # abort right after the next response's first audio delta
    emu.faults.delay_ms = 300               # hold every server event 300 ms
    emu.faults.reorder = True               # swap each pair of consecutive server events
    emu.faults.fail_next_response = "boom"  # next response ends with response.done status failed
    emu.faults.refuse_handshakes = 2        # answer the next 2 handshakes with HTTP 503 (-1: all)
    emu.faults.silent = True                # send nothing at all (events are discarded)
    emu.faults.reset()
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields


@dataclass
class Faults:
    """The armed faults; see the module docstring."""

    drop_after_events: int | None = None
    drop_mid_response: bool = False
    delay_ms: float = 0.0
    reorder: bool = False
    fail_next_response: str | None = None
    refuse_handshakes: int = 0
    silent: bool = False
    fired: list[str] = field(default_factory=list)
    """Names of the one-shot faults that fired, in order (for test assertions)."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def reset(self) -> None:
        """Disarm everything (``fired`` is kept)."""
        with self._lock:
            for f in fields(self):
                if f.name not in ("fired", "_lock"):
                    setattr(self, f.name, f.default)

    def take_refusal(self) -> bool:
        """True if this handshake must be refused (consumes one)."""
        with self._lock:
            if self.refuse_handshakes == 0:
                return False
            if self.refuse_handshakes > 0:
                self.refuse_handshakes -= 1
            self.fired.append("refuse_handshake")
            return True

    def take_drop_after(self) -> bool:
        """Count one sent event; True when the socket must be dropped now."""
        with self._lock:
            if self.drop_after_events is None:
                return False
            self.drop_after_events -= 1
            if self.drop_after_events > 0:
                return False
            self.drop_after_events = None
            self.fired.append("drop_after_events")
            return True

    def take_drop_mid_response(self) -> bool:
        """True (once) when armed: drop after this audio delta."""
        with self._lock:
            if not self.drop_mid_response:
                return False
            self.drop_mid_response = False
            self.fired.append("drop_mid_response")
            return True

    def take_fail_next_response(self) -> str | None:
        """The failure message for this response, if armed (consumes it)."""
        with self._lock:
            message, self.fail_next_response = self.fail_next_response, None
            if message is not None:
                self.fired.append("fail_next_response")
            return message
