"""The panel's Audio selector: this kernel's sound devices, or the browser's microphone and speaker.

With ``browser`` the connection section shows the kernel's shared
:class:`~voicelive_nb.audio.browser.BrowserAudioLink` (Start button, meters, the page's state)
instead of the device pickers, and the session the panel builds gets its ``BrowserMic`` and
``BrowserSpeaker``.  The link is made on first use: a panel that stays local never loads the
page half.

The choice is state (:attr:`AudioChoice.audio`, set by :meth:`AudioChoice.choose`); the
widgets only show it: :meth:`AudioChoice.show` projects it with the panel's writer, from the
panel's ``refresh()`` (the one place widgets are written).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["AudioChoice"]


class AudioChoice:
    """Which audio the panel's next session uses, and how its widgets show it.

    Args:
        controls: The panel's :class:`~voicelive_nb.panel.widgets.Controls` (``audio``, ``mic``,
            ``speaker``).
        box: The connection section (the link goes where the device pickers are).
        audio: ``"local"`` or ``"browser"`` (see :func:`voicelive_nb.session.devices.choose_audio`).
    """

    def __init__(self, controls: Any, box: Any, audio: str) -> None:
        self.c = controls
        self.box = box
        self.link: Any = None
        self.audio = audio

    def choose(self, audio: str) -> None:
        """Take ``audio`` (``"local"`` or ``"browser"``) for the next session; shown at the next refresh."""
        self.audio = audio

    def show(self, set_: Callable[[Any, str, Any], None]) -> None:
        """Project the choice with the panel's writer ``set_``: the selector, the device pickers
        (hidden for the browser) and the browser's strip (placed after the selector, shown for
        the browser)."""
        browser = self.audio == "browser"
        set_(self.c.audio, "value", self.audio)
        for picker in (self.c.mic, self.c.speaker):
            set_(picker.layout, "display", "none" if browser else None)
        link = self.browser_link() if browser else self.link
        if link is None:
            return
        if link not in self.box.children:  # (first use, or a closed link was replaced)
            kept = [w for w in self.box.children if getattr(w, "link_id", None) is None]
            at = kept.index(self.c.audio) + 1 if self.c.audio in kept else len(kept)
            set_(self.box, "children", (*kept[:at], link, *kept[at:]))
        set_(link.layout, "display", None if browser else "none")

    def browser_link(self) -> Any:
        """The kernel's shared link (made on first use; :meth:`show` places it in the section)."""
        from voicelive_nb.audio.browser import default_link

        self.link = default_link()
        return self.link

    def session_kwargs(self) -> dict[str, Any]:
        """``mic=``/``speaker=`` for a session built now (empty for local: the pickers decide)."""
        if self.audio != "browser":
            return {}
        link = self.browser_link()
        return {"mic": link.mic(), "speaker": link.speaker()}
