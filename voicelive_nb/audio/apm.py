"""WebRTC's audio processing module (AEC3 only) from the ``livekit`` wheel, on fixed 10 ms frames.

livekit's public ``AudioProcessingModule`` builds a protobuf request per call, serialises it,
releases and re-takes the GIL around the native call and parses a protobuf response: ~0.7 %
of a core per stream alone, and 5 % when other Python threads compete for the GIL (measured
with two busy threads, 10 ms frames).  Our frames never change -- the same preallocated
buffers, rate and handle on every call -- so :class:`Apm` serialises its two requests once
and sends those bytes straight to livekit's native library with the GIL held (the call is
~50 us of C): 0.5 % alone, 3 % contended, the same output sample for sample
(tests/echo/test_echo_units.py compares the two paths).  The fast path reads livekit
internals (pinned ``livekit>=1.2.1,<1.3``); if they are not as expected :class:`Apm` uses the
public API instead (:attr:`Apm.fast` says which).  A response other than the success
response seen at start is parsed and raised.
"""

from __future__ import annotations

import ctypes
import logging
from typing import Any

import numpy as np

__all__ = ["Apm", "EchoCancellerUnavailable", "check_rate", "livekit_rtc", "start_runtime"]

log = logging.getLogger(__name__)


class EchoCancellerUnavailable(RuntimeError):
    """The ``livekit`` package (which carries WebRTC's echo canceller) is not installed."""


INSTALL_HINT = "pip install 'livekit>=1.2.1,<1.3' (or pip install 'voicelive-nb[aec]')"


def livekit_rtc() -> Any:
    """``livekit.rtc``, or :class:`EchoCancellerUnavailable` naming the install command."""
    try:
        from livekit import rtc
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise EchoCancellerUnavailable(
            f"echo cancellation needs the livekit package (WebRTC's echo canceller): {INSTALL_HINT}"
        ) from exc
    return rtc


def start_runtime() -> bool:
    """Start livekit's native runtime now; False (nothing done) when livekit is not installed.

    The runtime is process-wide: livekit starts it on first use (its FFI client: native worker
    threads, epoll loops, eventfds and socket pairs -- 10 descriptors here) and keeps it until
    the process exits.  Each :class:`Apm` after that owns only a handle (no descriptor, no
    thread).  Started lazily, it would appear inside whatever first cancels echo -- for the
    emulator, the first session's ``session.update`` (which would also wait ~0.1 s for the
    import).  Owners of cancellers call this at their own start.  Idempotent, cheap after the first call.
    """
    try:
        livekit_rtc()
    except EchoCancellerUnavailable:
        return False
    from livekit.rtc._ffi_client import FfiClient

    FfiClient.instance  # noqa: B018 - creating the singleton starts the runtime
    return True


def check_rate(rate: int, what: str) -> None:
    """ValueError unless ``rate`` is one AEC3 takes (8-48 kHz in 100 Hz steps)."""
    if rate % 100 or not 8000 <= rate <= 48000:
        raise ValueError(f"echo canceller {what} rate must be 8000-48000 Hz in steps of 100, got {rate}")


class _FastCalls:
    """The two requests, serialised once, sent to the native library without the GIL dance."""

    def __init__(self, apm: Any, near: bytearray, far: bytearray, near_rate: int, far_rate: int) -> None:
        from livekit.rtc._ffi_client import FfiClient
        from livekit.rtc._proto import ffi_pb2
        from livekit.rtc._utils import get_address

        def request(field: str, buf: bytearray, rate: int) -> bytes:
            req = ffi_pb2.FfiRequest()
            msg = getattr(req, field)
            msg.apm_handle = apm._ffi_handle.handle
            msg.data_ptr = get_address(buf)
            msg.size = len(buf)
            msg.sample_rate = rate
            msg.num_channels = 1
            return bytes(req.SerializeToString())

        self._reqs = {"cap": request("apm_process_stream", near, near_rate)}
        self._reqs["ren"] = request("apm_process_reverse_stream", far, far_rate)
        self._keep = (apm, near, far)  # the handle and the pointers inside the requests stay valid
        cdll = FfiClient.instance._ffi_lib
        lib = ctypes.PyDLL(cdll._name, handle=cdll._handle)  # PyDLL: the GIL stays held
        self._request = lib.livekit_ffi_request
        self._request.restype = ctypes.c_uint64
        self._drop = lib.livekit_ffi_drop_handle
        self._drop.argtypes = [ctypes.c_uint64]
        self._drop.restype = ctypes.c_bool
        ubytes = ctypes.POINTER(ctypes.c_ubyte)
        self._cap = (ctypes.cast(ctypes.c_char_p(self._reqs["cap"]), ubytes), len(self._reqs["cap"]))
        self._ren = (ctypes.cast(ctypes.c_char_p(self._reqs["ren"]), ubytes), len(self._reqs["ren"]))
        self._resp = ubytes()
        self._resp_len = ctypes.c_size_t()
        self._resp_ref = ctypes.byref(self._resp)
        self._len_ref = ctypes.byref(self._resp_len)
        self._ok = {"cap": -1, "ren": -1}  # size of the success response (learnt on the first call)

    def _call(self, req: tuple[Any, int], kind: str) -> None:
        handle = self._request(req[0], req[1], self._resp_ref, self._len_ref)
        try:
            size = int(self._resp_len.value)
            if size != self._ok[kind]:
                self._check(kind)
                self._ok[kind] = size
        finally:
            self._drop(handle)

    def _check(self, kind: str) -> None:
        from livekit.rtc._proto import ffi_pb2

        resp = ffi_pb2.FfiResponse()
        resp.ParseFromString(ctypes.string_at(self._resp, self._resp_len.value))
        error = resp.apm_process_stream.error if kind == "cap" else resp.apm_process_reverse_stream.error
        if error:
            raise RuntimeError(f"echo canceller: {error}")

    def render(self) -> None:
        self._call(self._ren, "ren")

    def capture(self) -> None:
        self._call(self._cap, "cap")


class Apm:
    """WebRTC's audio processing module with only the echo canceller on, on 10 ms frames.

    :meth:`render` takes one far-end frame (``far_rate // 100`` samples) from
    :attr:`far_frame`; :meth:`capture` cleans :attr:`near_frame` in place.  Both buffers
    are allocated once; the caller copies samples into and out of them.

    Args:
        near_rate: Rate of the mic audio (8-48 kHz).
        far_rate: Rate of the far end (default: ``near_rate``).
        high_pass: WebRTC's high-pass filter (DC and rumble) on the mic audio.
        fast: Use the fast path when livekit's internals allow it (see the module docstring).
    """

    def __init__(
        self, near_rate: int = 24000, far_rate: int | None = None, *, high_pass: bool = True, fast: bool = True
    ) -> None:
        far_rate = far_rate or near_rate
        check_rate(near_rate, "near-end")
        check_rate(far_rate, "far-end")
        rtc = livekit_rtc()
        self.near_rate = near_rate
        self.far_rate = far_rate
        self.near_n = near_rate // 100
        self.far_n = far_rate // 100
        self._apm = rtc.AudioProcessingModule(echo_cancellation=True, high_pass_filter=high_pass)
        self._near_buf = bytearray(self.near_n * 2)
        self._far_buf = bytearray(self.far_n * 2)
        self.near_frame = np.frombuffer(self._near_buf, dtype=np.int16)
        """The near-end frame: write the mic's samples, call :meth:`capture`, read the result."""
        self.far_frame = np.frombuffer(self._far_buf, dtype=np.int16)
        """The far-end frame: write what the speaker played, call :meth:`render`."""
        self._near = rtc.AudioFrame(self._near_buf, near_rate, 1, self.near_n)
        self._far = rtc.AudioFrame(self._far_buf, far_rate, 1, self.far_n)
        self._apm.set_stream_delay_ms(0)  # AEC3 finds the delay itself; set once (it is kept)
        self._fast: _FastCalls | None = None
        if fast:
            try:
                self._fast = _FastCalls(self._apm, self._near_buf, self._far_buf, near_rate, far_rate)
            except Exception as exc:  # another livekit inside: the public API still works
                log.info("echo canceller: livekit's fast path is not available (%r); using its public API", exc)

    @property
    def fast(self) -> bool:
        """True when the frames go the fast path (see the module docstring)."""
        return self._fast is not None

    def render(self) -> None:
        """Feed :attr:`far_frame` (what was played) to the canceller."""
        if self._fast is not None:
            self._fast.render()
        else:
            self._apm.process_reverse_stream(self._far)

    def capture(self) -> None:
        """Clean :attr:`near_frame` in place (the far frames fed so far are its reference)."""
        if self._fast is not None:
            self._fast.capture()
        else:
            self._apm.process_stream(self._near)
