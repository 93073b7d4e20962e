"""The panel's Audio selector: this kernel's sound devices, or the browser's microphone and speaker.

With ``browser`` the connection section shows the kernel's shared
:class:`~voicelive_nb.audio.browser.BrowserAudioLink` (Start button, meters, the page's state)
instead of the device pickers, and the session the panel builds gets its ``BrowserMic`` and
``BrowserSpeaker``.  The link is made on first use: a panel that stays local never loads the
page half.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AudioChoice"]


class AudioChoice:
    """Which audio the panel's next session uses, and the widgets that show it.

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
        self.show(audio)
        controls.audio.observe(lambda change: self.show(str(change["new"])), names="value")

    def show(self, audio: str) -> None:
        """Switch the section between the device pickers and the browser's strip."""
        self.audio = audio
        browser = audio == "browser"
        for picker in (self.c.mic, self.c.speaker):
            picker.layout.display = "none" if browser else None
        if browser:
            self.browser_link().layout.display = None
        elif self.link is not None:
            self.link.layout.display = "none"

    def browser_link(self) -> Any:
        """The kernel's shared link, placed after the selector (again if a closed one was replaced)."""
        from voicelive_nb.audio.browser import default_link

        link = default_link()
        if link is not self.link:
            self.link = link
            kept = [w for w in self.box.children if getattr(w, "link_id", None) is None]
            at = kept.index(self.c.audio) + 1 if self.c.audio in kept else len(kept)
            self.box.children = (*kept[:at], link, *kept[at:])
        return link

    def session_kwargs(self) -> dict[str, Any]:
        """``mic=``/``speaker=`` for a session built now (empty for local: the pickers decide)."""
        if self.audio != "browser":
            return {}
        link = self.browser_link()
        return {"mic": link.mic(), "speaker": link.speaker()}
