"""A virtual room for the PulseAudio virtual devices: what the speaker plays comes back into the mic.

:class:`VirtualRoom` loads two modules into the private daemon of
:class:`~voicelive_nb.audio.pulse.VirtualAudio`:

* ``module-ladspa-sink`` ``vroom`` -> ``vmicsink``: a short room response, CMT's feedback delay
  line (direct sound plus reflections every ``reflection_ms``, each ``feedback`` times the one
  before: with 7 ms and 0.45, 40 dB down after ~45 ms);
* ``module-loopback`` ``vspeaker.monitor`` -> ``vroom``, ``latency_msec=delay_ms``, its volume
  set to ``gain_db``.

So whatever a session plays into the virtual speaker reaches the virtual mic attenuated,
delayed and smeared, mixed by PulseAudio with what
:meth:`VirtualAudio.play_into_mic <voicelive_nb.audio.pulse.VirtualAudio.play_into_mic>` plays
(the user's speech) -- a laptop with open speakers::

    with VirtualAudio() as va, VirtualRoom(va, delay_ms=60, gain_db=0):
        session = VoiceSession(mic=va.input_device, speaker=va.output_device, ...)

All of it runs inside PulseAudio (C, its own threads), so a loaded machine does not make the
echo path wander: a first version that piped parec -> Python -> pacat drifted by 20-300 ms under
load, which no echo canceller can follow and no room does.  The loopback keeps its latency
within a few ms of ``delay_ms`` (measured through a session: 54-62 ms for 60).  Needs the Debian
package ``cmt`` (scripts/install-system-deps.sh installs it).
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

__all__ = ["VirtualRoom"]

CMT = "/usr/lib/ladspa/cmt.so"


class VirtualRoom:
    """Echo the virtual speaker into the virtual mic (see the module docstring).

    Args:
        audio: A started :class:`~voicelive_nb.audio.pulse.VirtualAudio`.
        delay_ms: Echo delay (PulseAudio loopback latency), 30-150 ms for a laptop-like room.
        gain_db: Echo level relative to what the speaker plays (the direct sound).
        reflection_ms: Spacing of the room's reflections.
        feedback: Each reflection's level relative to the one before (0 = no room response).
    """

    def __init__(
        self,
        audio: Any,
        delay_ms: float = 60.0,
        gain_db: float = 0.0,
        reflection_ms: float = 7.0,
        feedback: float = 0.45,
    ) -> None:
        if not 10.0 <= delay_ms <= 1000.0:
            raise ValueError(f"VirtualRoom delay_ms must be 10-1000 ms, got {delay_ms}")
        if not 0.0 <= feedback < 1.0:
            raise ValueError(f"VirtualRoom feedback must be in [0, 1), got {feedback}")
        if not 0.0 < reflection_ms <= 100.0:
            raise ValueError(f"VirtualRoom reflection_ms must be in (0, 100], got {reflection_ms}")
        self.audio = audio
        self.delay_ms = delay_ms
        self.gain_db = gain_db
        self.reflection_ms = reflection_ms
        self.feedback = feedback
        self._modules: list[str] = []

    @property
    def running(self) -> bool:
        """The room's modules are loaded."""
        return bool(self._modules)

    def start(self) -> VirtualRoom:
        """Load the room into the daemon (returns self)."""
        if self._modules:
            return self
        if not os.path.exists(CMT):
            raise RuntimeError(
                f"{CMT} not found: the virtual room needs CMT's LADSPA plugins: sudo apt-get install cmt"
            )
        va = self.audio
        # the ladspa sink's wet path is the delay line; dry/wet 0.5 keeps the direct sound as loud
        wet = self.feedback / (1.0 + self.feedback) if self.feedback else 0.0
        try:
            room = va.pactl(
                "load-module",
                "module-ladspa-sink",
                "sink_name=vroom",
                "sink_master=vmicsink",
                f"plugin={CMT}",
                "label=fbdelay_0.1s",
                f"control={self.reflection_ms / 1000.0:.4f},{wet:.3f},{self.feedback:.3f}",
            ).strip()
            self._modules.append(room)
            loop = va.pactl(
                "load-module",
                "module-loopback",
                "source=vspeaker.monitor",
                "sink=vroom",
                f"latency_msec={round(self.delay_ms)}",
                "source_dont_move=true",
                "sink_dont_move=true",
            ).strip()
            self._modules.append(loop)
            self._set_gain(loop)
        except BaseException:
            self.stop()
            raise
        return self

    def _set_gain(self, module: str) -> None:
        va = self.audio
        for block in va.pactl("list", "sink-inputs").split("Sink Input #")[1:]:
            if f"Owner Module: {module}\n" in block:
                va.pactl("set-sink-input-volume", block.split()[0], f"{self.gain_db:.1f}dB")
                return
        raise RuntimeError("the virtual room's loopback did not appear in the daemon")

    def stop(self) -> None:
        """Unload the room (idempotent)."""
        modules, self._modules = self._modules, []
        for module in reversed(modules):
            with contextlib.suppress(Exception):  # the daemon is gone already
                self.audio.pactl("unload-module", module)

    def __enter__(self) -> VirtualRoom:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
