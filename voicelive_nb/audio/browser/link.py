"""The browser audio link: an anywidget whose page half captures and plays audio.

:class:`BrowserAudioLink` is the kernel half.  Display it (the Panel and
``VoiceSession(mic="browser")`` do) and the page shows a Start button, a mic and a
speaker meter and a status line; :meth:`BrowserAudioLink.mic` and
:meth:`BrowserAudioLink.speaker` give the :class:`~voicelive_nb.audio.browser.mic.BrowserMic`
and :class:`~voicelive_nb.audio.browser.speaker.BrowserSpeaker` a session uses.  The
message vocabulary is in :mod:`voicelive_nb.audio.browser.messages`; the page's code (the
ESM module and its two AudioWorklets) ships in ``js/`` beside this file and is sent with the
widget, so nothing is fetched from the network.

Threads and routing.  The page's messages are handled on whatever thread the kernel gives
the comm.  ipykernel 7 routes a comm's messages to the shell (main or subshell) that sent
the comm's latest message, and JupyterLab 4 sends widget messages on a subshell; so every
send here runs in a :mod:`contextvars` context captured while handling a message that came
on that subshell: the page's audio then keeps flowing while a cell runs.  On kernels
without subshells the handler runs on the main thread; a busy cell holds it, the page stops
getting acks, pauses its mic and says "kernel busy — mic paused", and audio that arrives
more than a second late is dropped (:class:`~voicelive_nb.audio.browser.messages.MicTimeline`).
Nothing here may send on this widget from a cell's context while audio flows (no trait
changes after creation): that would route the page's messages back to the main shell.
"""

from __future__ import annotations

import contextvars
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from voicelive_nb.audio.browser.messages import (
    CHUNK_MS_CHOICES,
    PAGE_TEXTS,
    PROBLEM_STATES,
    RateCounter,
    pcm_buffers,
    to_buffers,
)

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.audio.browser.mic import BrowserMic
    from voicelive_nb.audio.browser.speaker import BrowserSpeaker

__all__ = ["BrowserAudioLink", "default_link"]

log = logging.getLogger(__name__)

_HELLO_UP = b"\x01\x02\x03\x04"
_HELLO_DOWN = b"\x05\x06\x07\x08"
_ACK_EVERY_S = 0.2


def _js(name: str) -> str:
    return resources.files("voicelive_nb.audio.browser").joinpath("js", name).read_text(encoding="utf-8")


def _esm() -> str:
    """The page module: the view, then the link with both worklets inlined (AudioWorklets cannot
    import: each is one self-contained string)."""
    src = _js("view.js") + "\n" + _js("link.js")
    src = src.replace('/*__CAPTURE_SRC__*/ ""', json.dumps(_js("capture.worklet.js")))
    return src.replace('/*__PLAYBACK_SRC__*/ ""', json.dumps(_js("playback.worklet.js")))


def _wall_ms() -> float:
    return time.time() * 1000.0


def _parent_subshell() -> tuple[bool, str | None]:
    """(inside a kernel request, its subshell id) for the message being handled."""
    try:
        from ipykernel.kernelbase import Kernel
    except ImportError:  # pragma: no cover - ipykernel comes with ipywidgets' kernels
        return False, None
    if not Kernel.initialized():
        return False, None
    parent: dict[str, Any] = Kernel.instance().get_parent()  # type: ignore[no-untyped-call]  # (ipykernel: untyped)
    header = parent.get("header") or {}
    sub = header.get("subshell_id")
    return bool(header), sub if isinstance(sub, str) else None


class BrowserAudioLink(anywidget.AnyWidget):
    """Kernel half of the browser audio link (display it to get the page half).

    Args:
        chunk_ms: Audio per message each way (default 100 ms, about 10 messages a second);
            60 is the low-latency option (about 17 a second: 40 ms less mic latency, more browser CPU).
        prebuffer_ms: Audio the page queues before it starts (or restarts after running dry).
        lead_ms: How far ahead of the page's playhead the speaker sends (covers the jitter
            of kernel -> page messages; a flush drops it at the page at once).
        max_mic_age_s: Mic audio older than this on arrival is dropped (a kernel that was busy).
        busy_ms: The page pauses its mic when no ack came for this long.
        cut: At a barge-in flush the page cuts its output (suspends and resumes its playback
            AudioContext), which drops what Chromium still holds, and reports what was heard
            up to the cut; on PulseAudio with the echo-cancelled mic the sink falls silent
            ~36 ms after the barge-in instead of ~56 (bench/browser_results.md); False: it only
            fades out (what is held plays out).
        tap: The page sends back what its playback worklet rendered and was heard (tests and benches).
        force_base64: The page behaves like a frontend that drops binary buffers (Colab's), so
            both directions fall back to base64 (tests of the fallback).
    """

    _esm = _esm()
    _css = _js("link.css")
    options = traitlets.Dict().tag(sync=True)
    link_id = traitlets.Unicode().tag(sync=True)
    texts = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        *,
        chunk_ms: int = 100,
        prebuffer_ms: int = 100,
        lead_ms: int = 300,
        max_mic_age_s: float = 1.0,
        busy_ms: int = 700,
        tap: bool = False,
        cut: bool = True,
        force_base64: bool = False,
    ) -> None:
        if chunk_ms not in CHUNK_MS_CHOICES:
            raise ValueError(f"chunk_ms={chunk_ms!r}: choose one of {CHUNK_MS_CHOICES} (100 default, 60 low latency)")
        if not 20 <= prebuffer_ms <= 1000:
            raise ValueError(f"prebuffer_ms={prebuffer_ms!r}: give 20..1000 ms (100 is the default)")
        if lead_ms < chunk_ms:
            raise ValueError(f"lead_ms={lead_ms!r} must be >= chunk_ms={chunk_ms}")
        super().__init__(
            options={
                "chunk_ms": chunk_ms,
                "prebuffer_ms": prebuffer_ms,
                "busy_ms": busy_ms,
                "tap": bool(tap),
                "cut": bool(cut),
                "force_base64": bool(force_base64),
            },
            texts=dict(PAGE_TEXTS),
            link_id=uuid.uuid4().hex,
        )
        self.chunk_ms = chunk_ms
        self.prebuffer_ms = prebuffer_ms
        self.lead_ms = lead_ms
        self.max_mic_age_s = max_mic_age_s
        self.tap_enabled = bool(tap)
        self._lock = threading.RLock()  # one message at a time, in order, whichever thread sends
        self._cond = threading.Condition(self._lock)
        self._ctx: contextvars.Context | None = None
        self._ctx_sub: str | None = None
        self._page_id: str | None = None
        self.history: list[tuple[float, str]] = []
        """(monotonic time, state) of each state the page reported."""
        self.page: dict[str, Any] = {"state": "absent"}
        """The page's latest ``state`` report (state, detail, ctx_state, rate, out_latency)."""
        self.binary_up = True
        self.binary_down = True
        self.routed: str | None = None
        """``"subshell"`` or ``"main"``: the thread the page's messages were last handled on."""
        self.rtt_ms: float | None = None
        self._want: dict[str, bool] | None = None
        self._mic: BrowserMic | None = None
        self._last_mic: BrowserMic | None = None  # (its counters stay in stats() after a stop)
        self._speaker: BrowserSpeaker | None = None
        self._last_ack = 0.0
        self._pending_ack: dict[str, Any] | None = None
        self.last_pcm_t = 0.0
        self.rx = RateCounter()
        self.tx = RateCounter()
        self._shown = False
        self.taps: list[tuple[float, int, bytes]] = []
        """With ``tap=True``: (page wall ms of the first sample, rate, PCM16) of what the page rendered."""
        self.on_msg(self._on_msg)

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> str:
        """The page's state: ``absent`` (not shown yet), ``idle``, ``running``, ``suspended``, ``busy`` ..."""
        return str(self.page.get("state", "absent"))

    @property
    def ready(self) -> bool:
        """True once a page answered (messages can be sent)."""
        return self._ctx is not None

    @property
    def problem(self) -> str | None:
        """Plain words for a state that needs the user (permission denied, insecure page ...), else None."""
        state = self.state
        if state in PROBLEM_STATES or state == "suspended":
            text = PAGE_TEXTS.get(state, state)
            detail = self.page.get("detail")
            return f"{text} ({detail})" if detail else text
        return None

    @property
    def output_latency_s(self) -> float:
        """The page's AudioContext output + base latency, once reported (else 0)."""
        try:
            return max(0.0, float(self.page.get("out_latency") or 0.0))
        except (TypeError, ValueError):
            return 0.0

    def stats(self) -> dict[str, Any]:
        """Message counts and rates each way, routing, transport, the mic timeline's counters."""
        out: dict[str, Any] = {
            "state": self.state,
            "routed": self.routed,
            "transport": "binary" if self.binary_up and self.binary_down else "base64",
            "rx_total": self.rx.total,
            "rx_max_per_s": self.rx.max_per_s,
            "tx_total": self.tx.total,
            "tx_max_per_s": self.tx.max_per_s,
            "rtt_ms": self.rtt_ms,
        }
        mic = self._mic or self._last_mic
        if mic is not None:
            out.update({f"mic_{k}": v for k, v in vars(mic.timeline.stats).items()})
        return out

    def wait_for_state(self, states: str | Sequence[str], timeout: float = 30.0) -> str:
        """Block until the page reports one of ``states``; returns it (TimeoutError naming the last state).

        Only from a thread the page's messages are not handled on (a cell while they go to
        a subshell, a script's thread): on the handling thread it would wait for itself.
        """
        wanted = (states,) if isinstance(states, str) else tuple(states)
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.state not in wanted:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"the page did not reach {wanted} in {timeout:g} s (it is {self.state!r})")
                self._cond.wait(left)
            return self.state

    # ------------------------------------------------------------------ commands

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self._shown = True  # (displayed by the user: show() does not add a second view)
        return super()._repr_mimebundle_(**kwargs)

    def show(self) -> None:
        """Display the link in the current cell's output, unless it was shown already."""
        if self._shown:
            return
        self._shown = True
        from IPython.display import display

        display(self)  # type: ignore[no-untyped-call]  # (IPython: untyped)

    def mic(self, blocksize: int = 480) -> BrowserMic:
        """A :class:`BrowserMic` reading this page's microphone."""
        from voicelive_nb.audio.browser.mic import BrowserMic

        return BrowserMic(self, blocksize=blocksize)

    def speaker(self) -> BrowserSpeaker:
        """A :class:`BrowserSpeaker` playing through this page."""
        from voicelive_nb.audio.browser.speaker import BrowserSpeaker

        return BrowserSpeaker(self)

    def start(self, mic: bool = True) -> None:
        """Ask the page to open its audio (and the mic): now, or in answer to its hello."""
        with self._lock:
            want = self._want or {"mic": False}
            self._want = {"mic": want["mic"] or mic}
            if self._ctx is not None:
                self.send_to_page({"t": "start", "mic": self._want["mic"]})

    def stop(self) -> None:
        """Ask the page to release its mic (the browser's mic indicator goes off)."""
        with self._lock:
            self._want = None
            if self._ctx is not None:
                self.send_to_page({"t": "stop"})

    def attach(self, part: BrowserMic | BrowserSpeaker) -> None:
        """A mic or speaker starts using the link (the page opens its audio)."""
        from voicelive_nb.audio.browser.mic import BrowserMic

        with self._lock:
            if isinstance(part, BrowserMic):
                self._mic = self._last_mic = part
            else:
                self._speaker = part
        self.start(mic=self._mic is not None)

    def detach(self, part: BrowserMic | BrowserSpeaker) -> None:
        """A mic or speaker stopped; the page releases its audio when neither is left."""
        with self._lock:
            if self._mic is part:
                self._mic = None
            if self._speaker is part:
                self._speaker = None
            if self._mic is None and self._speaker is None:
                self.stop()

    def send_to_page(self, content: dict[str, Any], parts: Sequence[bytes] = ()) -> bool:
        """Send one message to the page, routed like the page's own (False: no page yet)."""
        with self._lock:
            ctx = self._ctx
            if ctx is None:
                return False
            if self._page_id is not None:
                content.setdefault("to", self._page_id)
            if self._pending_ack is not None and content.get("t") == "pcm":
                ack, self._pending_ack = self._pending_ack, None
                ack["ks"] = _wall_ms()
                content["ack"] = ack
                self._last_ack = time.monotonic()
            buffers = to_buffers(content, parts, self.binary_down)
            content["kw"] = round(_wall_ms(), 1)  # (the page measures each message's trip)
            self.tx.add(time.monotonic())
            try:
                ctx.copy().run(self.send, content, buffers or None)
            except Exception as exc:  # a closed comm: the page is gone
                log.debug("send to the page failed: %r", exc)
                return False
            return True

    # ------------------------------------------------------------------ messages from the page

    def _on_msg(self, _widget: Any, content: Any, buffers: list[Any]) -> None:
        try:
            self._handle(content, buffers)
        except Exception:  # never let a bad message surface in a cell's output
            log.exception("browser audio: a page message could not be handled")

    def _handle(self, content: Any, buffers: list[Any]) -> None:
        if not isinstance(content, dict):
            return
        now, wall = time.monotonic(), _wall_ms()
        self.rx.add(now)
        kind = content.get("t")
        pid = content.get("pid")
        if kind == "hello":
            self._hello(content, buffers, pid, wall)
            return
        if pid != self._page_id:
            return  # an older page that a reload replaced
        self._route()
        parts = pcm_buffers(content, buffers)
        if kind == "up":
            self._up(content, parts, now, wall)
        elif kind == "ping":
            self._ack(content, wall, now)
        elif kind == "flushed":
            speaker = self._speaker
            if speaker is not None:
                speaker.page_flushed(content, now, wall)
        elif kind == "state":
            with self._cond:
                self.page = {k: content.get(k) for k in ("state", "detail", "ctx_state", "rate", "out_latency")}
                if len(self.history) < 1000:
                    self.history.append((now, str(self.page["state"])))
                self._cond.notify_all()
            log.info("browser audio: page %s %s", self.page.get("state"), self.page.get("detail") or "")
        elif kind == "hello2":
            self.binary_down = bool(content.get("down"))

    def _route(self) -> None:
        """Capture the routing context when the page's messages arrive on a new (sub)shell."""
        self.routed = "main" if threading.current_thread() is threading.main_thread() else "subshell"
        in_request, sub = _parent_subshell()
        with self._lock:
            if self._ctx is None or (in_request and sub != self._ctx_sub):
                self._ctx = contextvars.copy_context()
                self._ctx_sub = sub
                self._last_ack = 0.0  # answer now: sending from here moves the routing to this shell

    def _hello(self, content: dict[str, Any], buffers: list[Any], pid: Any, wall: float) -> None:
        if not isinstance(pid, str):
            return
        with self._lock:
            old = self._page_id
            if old == pid and self._ctx is not None:
                return  # a repeated hello (the first answer is on its way)
            self._page_id = pid
            self._route()
            if old is not None and old != pid:
                self.send_to_page({"t": "taken", "to": old})
            got = [bytes(b) for b in buffers] == [_HELLO_UP]
            self.binary_up = got
            want = self._want
            reply: dict[str, Any] = {"t": "hello", "got": got, "pt": content.get("pt"), "kt": wall}
            if want is not None:
                reply.update(start=True, mic=want["mic"])
            reply["ks"] = _wall_ms()
            self.send_to_page(reply, [_HELLO_DOWN])
        with self._cond:
            state = content.get("state")
            self.page = {"state": state if isinstance(state, str) else "idle"}
            self._cond.notify_all()

    def _up(self, content: dict[str, Any], parts: list[bytes], now: float, wall: float) -> None:
        rtt = content.get("rtt")
        if isinstance(rtt, (int, float)) and rtt >= 0:
            self.rtt_ms = float(rtt)
        if content.get("n"):
            mic = self._mic
            if mic is not None and parts:
                mic.page_audio(content, parts[0], now, wall / 1000.0)
        speaker = self._speaker
        if speaker is not None:
            speaker.page_report(content, now, wall)
        tap = content.get("tap")
        if self.tap_enabled and isinstance(tap, dict):
            i = tap.get("i")
            if isinstance(i, int) and 0 <= i < len(parts):
                self.taps.append((float(tap.get("tw") or 0.0), int(tap.get("rate") or 0), parts[i]))
        self._ack(content, wall, now)

    def _ack(self, content: dict[str, Any], wall: float, now: float) -> None:
        if now - self._last_ack < _ACK_EVERY_S and content.get("t") != "ping":
            return
        ack = {"pt": content.get("pt"), "kt": wall}
        if now - self.last_pcm_t < 0.15 and content.get("t") != "ping":
            with self._lock:
                self._pending_ack = ack  # the next pcm message carries it (no extra message)
            return
        self._last_ack = now
        self.send_to_page({"t": "ack", "ack": {**ack, "ks": _wall_ms()}})


_DEFAULT: BrowserAudioLink | None = None


def default_link(factory: Callable[[], BrowserAudioLink] = BrowserAudioLink) -> BrowserAudioLink:
    """The kernel's shared link (made on first use): ``mic="browser"`` and ``speaker="browser"`` share it."""
    global _DEFAULT
    if _DEFAULT is None or getattr(_DEFAULT, "comm", None) is None:
        _DEFAULT = factory()
    return _DEFAULT
