"""The audio half of the session engine: mic pump, player marks, counters.

:class:`AudioPump` is a part the :class:`~voicelive_nb.session.engine.SessionEngine` holds
and runs on the same event loop; it is given what it needs of the rest (the current
connection, whether the session is configured) as callables, so a pump works alone:

* a *round* runs as soon as the mic has captured a block, in the loop callback that hears
  of it (a device mic's pipe, watched with ``add_reader``; a WAV mic's ``notify``): it
  drains the mic source, meters each block and appends it (``input_audio_buffer.append``)
  once the session is configured, publishing a ``mic.audio`` record per block.  The append
  is written to the socket right there (:func:`~voicelive_nb.session.eager.start_eagerly`); if the
  socket pushes back, the rest of that send goes on in a task and the mic's blocks wait in
  its ring until it is done;
* every round drains the player's marks into ``playback.started``/``playback.stopped``/
  ``speaker.audio`` records, about once a second publishes ``audio.counters``, and twice a
  second ``audio.echo`` when the mic meters the speaker's echo (:mod:`voicelive_nb.session.echo`);
* a timer runs a round after ``watch_s`` (0.1 s) without one (a stalled mic), or every
  ``poll_s`` (10 ms) when no mic wakes the pump (none, finished, or a loop that cannot
  watch the pipe).

The mic timeline: ``mic.audio`` ``offset`` counts samples since the session started,
continuous across reconnects (blocks that could not be sent still advance it, so the
recording shows the gap as silence and both tracks stay aligned);
``connection_offset`` is the offset at which the current connection's audio began,
i.e. the server's 0 ms (its ``audio_start_ms``/``audio_end_ms`` are relative to it).

Clocks: playback records (``playback.*``, ``speaker.audio``) carry the player's mark
times, which are when a sample is *heard*: sinks pass PortAudio's DAC time of each
callback (a capture sink, the nominal play time).  So ``playback.started`` reports
``output_latency_s = 0.0`` (the device delay is already in ``t``; metrics must not add
it again) and the stream's reported latency as ``device_latency_s``, for display.
Converting back to "handed to the device" is not possible reliably: the delay varies
per callback (a stream primes its buffer in a burst; adaptive speakers re-open).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from voicelive_nb.audio.meters import levels
from voicelive_nb.audio.sources import AudioSink, AudioSource, FiniteSource, InputStats, OutputStats, WakeSource
from voicelive_nb.events import EventRecord, Kind, Local
from voicelive_nb.session.eager import start_eagerly
from voicelive_nb.session.transport import text_sender
from voicelive_nb.session.wire import append_text, b64encode

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.audio.player import Player

log = logging.getLogger(__name__)

Publish = Callable[[EventRecord], None]


class AudioPump:
    """The mic pump and the player's marks of one session (the engine's audio half).

    Run :meth:`run` as a task on the session loop; :meth:`start_mic` once the session is
    configured; :meth:`unwatch_mic` before the mic stops.

    Args:
        source: The mic (an ``AudioSource``), started by :meth:`start_mic`.
        sink: The speaker (an ``AudioSink``).
        player: The barge-in player the sink drains.
        publish: Where records go.
        connection: The SDK connection appends go to now (None while there is none).
        audio_enabled: True while the server has confirmed the session on this connection
            (appends sent before that would be refused): blocks are skipped until then.
        late_deltas_dropped: Reads the protocol's count of late audio deltas (for ``audio.counters``).
        poll_s: Pump interval.
        bus_dropped: Reads the bus's dropped-record count (for ``audio.counters``).
        stall_s: A started mic that delivers nothing, or a speaker that plays nothing
            while audio is queued, for this long is reported (``local.error``, once per
            stall, and counted in ``device_stalls``): a device was unplugged or the
            sound server stopped.  Never fatal: text still works.
    """

    watch_s = 0.1
    """A mic-driven pump is woken after this long without a mic block (marks, counters, stall checks)."""

    def __init__(
        self,
        *,
        source: AudioSource,
        sink: AudioSink,
        player: Player,
        publish: Publish,
        connection: Callable[[], Any] = lambda: None,
        audio_enabled: Callable[[], bool] = lambda: True,
        late_deltas_dropped: Callable[[], int] = lambda: 0,
        poll_s: float = 0.01,
        bus_dropped: Callable[[], int] = lambda: 0,
        stall_s: float = 2.0,
    ) -> None:
        self.source = source
        self.sink = sink
        self.player = player
        # the optional capabilities (audio/sources.py), looked up once
        self._finite = source if isinstance(source, FiniteSource) else None
        self._wakes = source if isinstance(source, WakeSource) else None
        self._in_stats = source if isinstance(source, InputStats) else None
        self._out_stats = sink if isinstance(sink, OutputStats) else None
        self._publish = publish
        self._connection = connection
        self._audio_enabled = audio_enabled
        self._late_deltas_dropped = late_deltas_dropped
        self.poll_s = poll_s
        self._bus_dropped = bus_dropped
        self.muted = False
        """Send digital silence instead of the mic (the timeline keeps running)."""
        self.mic_started = False
        self.offset = 0
        self.connection_offset = 0
        self.dropped_blocks = 0
        self.send_failures = 0
        self.counters: dict[str, Any] = {}
        """The latest ``audio.counters`` values."""
        self._silence: np.ndarray | None = None
        self.stall_s = stall_s
        self.device_stalls = 0
        self._mic_last_t = 0.0  # when the mic last delivered a block
        self._mic_wakes = False  # the mic runs a round per block (else the timer polls)
        self._mic_fd = -1  # the mic's wake pipe, watched by the loop (device mics)
        self._pumping = False  # between the start and the end of _pump
        self._timer: asyncio.Handle | None = None
        self._pumped_t = 0.0  # loop time of the last round
        self._counters_t = 0.0  # monotonic time of the last audio.counters
        self._echo_t = 0.0  # monotonic time of the last look at the echo meters
        self._send_task: asyncio.Task[Any] | None = None  # an append the socket pushed back
        self._reported: set[str] = set()  # pump failures reported (once per kind)
        self._played_last_t = 0.0  # when the player last handed audio to the sink
        self._queued_since: float | None = None  # since when audio waits for the sink
        self._mic_stalled = False
        self._speaker_stalled = False

    # ------------------------------------------------------------------ records

    def _emit(
        self,
        kind: Kind,
        type: str,
        data: Mapping[str, Any] | None = None,
        audio: bytes | None = None,
        t: float | None = None,
    ) -> None:
        self._publish(EventRecord.now(kind, type, data, audio, t))

    def _error(self, message: str, where: str, **extra: Any) -> None:
        log.warning("%s: %s", where, message)
        self._emit("local", Local.ERROR, {"message": message, "where": where, **extra})

    def send_failed(self, exc: BaseException) -> None:
        """Count a send the socket refused (a dying socket: the receive loop notices and reconnects)."""
        self.send_failures += 1
        log.debug("send failed: %r", exc)

    def _send_append(self, block: np.ndarray) -> bool:
        """Write one ``input_audio_buffer.append`` of ``block`` to the socket now (not recorded:
        mic.audio is).  False if there is no connection or the socket failed; if it pushes back,
        the send carries on in a task and the mic waits (see :meth:`_drain_mic`)."""
        conn = self._connection()
        if conn is None:
            return False
        send_text = text_sender(conn)
        try:
            if send_text is not None:
                sending = send_text(append_text(block))  # ready-made JSON: no dict, no json.dumps
            else:
                sending = conn.send({"type": "input_audio_buffer.append", "audio": b64encode(block)})
            task = start_eagerly(sending)
        except Exception as exc:  # a dying socket: the receive loop notices and reconnects
            self.send_failed(exc)
            return False
        if task is not None:
            self._send_task = task
            task.add_done_callback(self._sent)
        return True

    def _sent(self, task: asyncio.Task[Any]) -> None:
        """An append the socket pushed back is out: the mic's waiting blocks go next."""
        self._send_task = None
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.send_failed(exc)
        self._pump_round()

    # ------------------------------------------------------------------ mic and marks

    def start_mic(self) -> None:
        """The session is configured on a (new) connection: start the mic (once), and count
        the connection's audio from here (``connection_offset``)."""
        self.connection_offset = self.offset
        if self.mic_started:
            return
        self.mic_started = True
        self._mic_last_t = time.monotonic()
        loop = asyncio.get_running_loop()

        def notify() -> None:  # the source's own thread: a block arrived, send it now
            with contextlib.suppress(RuntimeError):  # the loop closed: the session is ending
                loop.call_soon_threadsafe(self._pump_round)

        wakes = self._wakes
        try:
            if wakes is not None:  # a device mic: its callback's pipe wakes the loop directly
                self.source.start()
                fd = int(wakes.wake_fileno())
                try:
                    loop.add_reader(fd, self._mic_readable, fd)
                except NotImplementedError:  # a loop without add_reader (Windows' proactor)
                    log.info("this event loop cannot watch the mic's pipe: polling it every %g s", self.poll_s)
                    return  # (the timer polls)
                self._mic_fd = fd
            else:
                self.source.start(notify)
        except Exception as exc:  # a mic that cannot open must not end the session (text still works)
            self.mic_started = False
            self._error(
                f"The mic could not be started: {exc}. Pick another mic (`voicelive-nb devices` lists them) "
                "and reconnect; typed text (send_text) still works.",
                "mic",
            )
            return
        self._mic_wakes = True

    def _mic_readable(self, fd: int) -> None:
        """The mic's wake pipe has bytes (one per captured block): empty it, run a round."""
        try:
            while True:
                data = os.read(fd, 4096)
                if not data:  # end of file: the mic closed its end; the timer polls from now on
                    self.unwatch_mic()
                    break
                if len(data) < 4096:
                    break
        except BlockingIOError:
            pass
        except OSError:  # closed under us
            self.unwatch_mic()
        self._pump_round()

    def unwatch_mic(self) -> None:
        """Stop watching the mic's wake pipe (before the mic closes it); the timer polls from now on."""
        self._mic_wakes = False
        fd, self._mic_fd = self._mic_fd, -1
        if fd >= 0:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(fd)

    async def run(self) -> None:
        """Keep the pump going until cancelled: the rounds run in loop callbacks (the mic's
        wake-ups, the timer, a finished send); this task only owns their lifetime."""
        loop = asyncio.get_running_loop()
        self._pumping = True
        self._counters_t = time.monotonic()
        self._timer = loop.call_soon(self._tick)
        try:
            await loop.create_future()  # (never done: cancelled when the session ends)
        finally:
            self._pumping = False
            timer, self._timer = self._timer, None
            if timer is not None:
                timer.cancel()
            task, self._send_task = self._send_task, None
            if task is not None:
                task.cancel()

    def _tick(self) -> None:
        """The pump's timer: a round every ``poll_s`` when no mic wakes the pump, else a
        watchdog that runs one after ``watch_s`` without a round (a stalled mic)."""
        if not self._pumping:
            return
        loop = asyncio.get_running_loop()
        polling = not self._mic_wakes or self._source_finished()
        interval = self.poll_s if polling else self.watch_s
        due = self._pumped_t + interval
        if loop.time() >= due:
            self._pump_round()
            due = loop.time() + interval
        self._timer = loop.call_at(due, self._tick)

    def _pump_round(self) -> None:
        """Drain the mic (sending its blocks) and the player's marks; counters once a second."""
        if not self._pumping:
            return
        self._pumped_t = asyncio.get_running_loop().time()
        try:
            self._drain_mic()
            self.drain_marks()
            now = time.monotonic()
            if now - self._echo_t >= 0.5:
                self._echo_t = now
                self.publish_echo()
            if now - self._counters_t >= 1.0:
                self._counters_t = now
                self._check_devices(now)
                self.publish_counters()
        except Exception as exc:  # keep pumping; report each kind of failure once
            if repr(exc) not in self._reported:
                self._reported.add(repr(exc))
                log.exception("audio pump failed")
                self._error(f"Audio pump problem: {exc!r}", "audio")

    def _drain_mic(self) -> None:
        if not self.mic_started:
            return
        while self._send_task is None:  # (while the socket pushes back, blocks wait in the mic)
            item = self.source.read()
            if item is None:
                return
            block, t_capture = item
            self._mic_last_t = time.monotonic()
            block = np.asarray(block, dtype=np.int16).reshape(-1)
            if self.muted:
                if self._silence is None or self._silence.shape != block.shape:
                    self._silence = np.zeros_like(block)
                block = self._silence
            if not self._audio_enabled():
                self._skip(block)
                continue
            if not self._send_append(block):
                self._skip(block)
                continue
            pcm = block.tobytes()
            rms, peak = levels(block)
            self._emit(
                "local",
                Local.MIC_AUDIO,
                {
                    "samples": int(block.size),
                    "rate": int(self.source.rate),
                    "rms_db": round(rms, 2),
                    "peak_db": round(peak, 2),
                    "offset": self.offset,
                    "connection_offset": self.connection_offset,
                    "captured_t": float(t_capture),
                    "muted": self.muted,
                },
                pcm,
            )
            self.offset += int(block.size)

    def _device_latency(self) -> float:
        try:
            return 0.0 if self._out_stats is None else max(0.0, float(self._out_stats.output_latency_s or 0.0))
        except (TypeError, ValueError):
            return 0.0

    def _source_finished(self) -> bool:
        return self._finite is not None and bool(self._finite.finished)

    def _skip(self, block: np.ndarray) -> None:
        """A block that could not be sent (no connection): count it and keep the timeline.

        The offset still advances, so the recording shows the gap as silence and the mic
        and assistant tracks stay aligned across reconnects.
        """
        self.dropped_blocks += 1
        self.offset += int(block.size)

    def drain_marks(self) -> None:
        """Turn the player's marks into ``playback.*`` and ``speaker.audio`` records."""
        rate = self.player.rate
        for mark in self.player.drain_marks():
            ids = {"response_id": mark.response_id, "item_id": mark.item_id}
            t = mark.t  # when the sample is heard (see the module docstring)
            if mark.kind == "started":
                data = {**ids, "output_latency_s": 0.0, "device_latency_s": self._device_latency()}
                self._emit("local", Local.PLAYBACK_STARTED, data, t=t)
            elif mark.kind == "stopped":
                played_ms = round(mark.offset * 1000.0 / rate, 3)
                self._emit("local", Local.PLAYBACK_STOPPED, {**ids, "played_ms": played_ms}, t=t)
            elif mark.pcm is not None:
                self._played_last_t = time.monotonic()
                rms, peak = levels(np.frombuffer(mark.pcm, dtype="<i2"))
                data = {
                    **ids,
                    "samples": mark.samples,
                    "rate": rate,
                    "rms_db": round(rms, 2),
                    "peak_db": round(peak, 2),
                    "offset": mark.offset,
                }
                self._emit("local", Local.SPEAKER_AUDIO, data, mark.pcm, t=t)

    def _check_devices(self, now: float) -> None:
        """Report a mic or speaker that stopped moving (unplugged, sound server gone)."""
        if self.mic_started and not self._source_finished():
            idle = now - self._mic_last_t
            if idle > self.stall_s and not self._mic_stalled:
                self._mic_stalled = True
                self.device_stalls += 1
                self._error(
                    f"The mic has delivered no audio for {idle:.1f} s: it was probably unplugged or the sound "
                    "server stopped. Check it (`voicelive-nb devices`) and restart the session; text still works.",
                    "mic",
                )
            elif idle <= self.stall_s and self._mic_stalled:
                self._mic_stalled = False
                log.warning("the mic delivers audio again")
        if self.player.queued_ms > 0:
            if self._queued_since is None:
                self._queued_since = now
            idle = now - max(self._played_last_t, self._queued_since)
            if idle > self.stall_s and not self._speaker_stalled:
                self._speaker_stalled = True
                self.device_stalls += 1
                self._error(
                    f"The speaker has played nothing for {idle:.1f} s although audio is waiting: it was probably "
                    "unplugged or the sound server stopped. Check it (`voicelive-nb devices`) and restart the session.",
                    "speaker",
                )
        else:
            self._queued_since = None
        if self._speaker_stalled and now - self._played_last_t <= self.stall_s:
            self._speaker_stalled = False
            log.warning("the speaker plays again")

    def publish_echo(self) -> None:
        """Publish ``audio.echo`` if the mic meters the echo and the speaker played since the last one."""
        stats = getattr(self.source, "echo_stats", None)
        figures = stats() if callable(stats) else None
        if figures:
            self._emit("local", Local.ECHO, figures)

    def publish_counters(self) -> None:
        """Publish ``audio.counters`` now (the pump does once a second)."""
        sink_underflows = 0 if self._out_stats is None else int(self._out_stats.underflows or 0)
        self.counters = {
            "input_overflows": 0 if self._in_stats is None else int(self._in_stats.overflows or 0),
            "output_underflows": int(self.player.underflows) + sink_underflows,
            "dropped_blocks": self.dropped_blocks,
            "queue_depth_ms": round(self.player.queued_ms, 1),
            "bus_dropped": self._bus_dropped(),
            "late_deltas_dropped": self._late_deltas_dropped(),
            "send_failures": self.send_failures,
            "marks_dropped": int(self.player.marks_dropped),
            "device_stalls": self.device_stalls,
        }
        self._emit("local", Local.COUNTERS, self.counters)
