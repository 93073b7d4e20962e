"""The session thread's body: one asyncio loop, the engine's run on it, nothing escaping.

:func:`run_session_thread` is what :meth:`VoiceSession.start <voicelive_nb.session.VoiceSession.start>`
starts on its daemon thread: a new event loop, the embedded emulator when no endpoint is
configured, the ``session.info`` record once the speaker runs (:func:`session_info`), and
:meth:`SessionEngine.run <voicelive_nb.session.engine.SessionEngine.run>` until it returns.  An
exception that still gets out becomes ``local.error`` and ``connection.state`` ``failed``
records; the loop, the tool workers and the emulator are closed whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import platform
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from voicelive_nb.audio.sources import InputStats, OutputStats
from voicelive_nb.events import EventBus, EventRecord, Local
from voicelive_nb.session.devices import describe, transport

if TYPE_CHECKING:  # pragma: no cover
    from voicelive_nb.connection import ConnectionSettings
    from voicelive_nb.session.engine import SessionEngine

__all__ = ["run_session_thread", "session_info"]

log = logging.getLogger(__name__)


def run_session_thread(
    engine: SessionEngine,
    settings: ConnectionSettings,
    ready: threading.Event,
    *,
    bus: EventBus,
    set_loop: Callable[[asyncio.AbstractEventLoop | None], None],
    close_tools: Callable[[], None],
) -> None:
    """Run ``engine`` on a new loop in this thread until it returns; never raises.

    ``set_loop`` is told the loop (before ``ready`` is set) and None once it is closed;
    ``close_tools`` releases the tool workers at the end.
    """
    loop = asyncio.new_event_loop()
    set_loop(loop)
    ready.set()
    emulator = None
    try:
        if settings.uses_emulator:
            from voicelive_nb.emulator import Emulator

            emulator = Emulator()
            emulator.start()
            # not a warning: it is the documented default, and a notebook would show it as a
            # pink stderr box; the panel's status line says it instead (connection.state "emulator")
            log.info("no Voice Live endpoint configured: using the embedded emulator at %s", emulator.endpoint)
            settings = settings.for_endpoint(emulator.endpoint)
            engine.settings = settings
            engine.embedded = True
        engine.on_sink_started = lambda: bus.publish(
            EventRecord.now("local", Local.SESSION_INFO, session_info(engine, engine.settings))
        )
        loop.run_until_complete(engine.run())
    except BaseException as exc:  # nothing escapes the session thread
        log.exception("the session thread failed")
        engine.state = "failed"
        bus.publish(
            EventRecord.now("local", Local.ERROR, {"message": f"The session failed: {exc!r}", "where": "session"})
        )
        bus.publish(EventRecord.now("local", Local.CONNECTION, {"state": "failed", "detail": repr(exc)}))
        for part in (engine.source, engine.sink):
            with contextlib.suppress(Exception):
                part.stop()
    finally:
        close_tools()
        if emulator is not None:
            try:
                emulator.close()  # stop + release its worker threads (it is ours alone)
            except Exception:
                log.exception("stopping the embedded emulator failed")
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()
            set_loop(None)


def session_info(engine: SessionEngine, settings: ConnectionSettings) -> dict[str, Any]:
    """The data of the ``session.info`` record of ``engine``'s run: config, endpoint (no secrets:
    ``settings.describe()``), devices, rates, latencies, versions; recordings keep it in ``session.json``."""
    import azure.ai.voicelive as sdk

    from voicelive_nb._version import __version__

    return {
        "config": engine.config.to_dict(),
        "connection": settings.describe(),
        "mic": describe(engine.source),
        "speaker": describe(engine.sink),
        "transport": {"mic": transport(engine.source), "speaker": transport(engine.sink)},
        "input_rate": int(engine.source.rate),
        "output_rate": engine.player.rate,
        "input_latency_s": _latency(engine.source.input_latency_s if isinstance(engine.source, InputStats) else 0),
        "output_latency_s": _latency(engine.sink.output_latency_s if isinstance(engine.sink, OutputStats) else 0),
        "versions": {
            "voicelive_nb": __version__,
            "azure-ai-voicelive": getattr(sdk, "__version__", "?"),
            "python": platform.python_version(),
        },
    }


def _latency(value: float) -> float:
    """A device's reported latency as seconds (0.0 for a missing or nonsensical value)."""
    try:
        return max(0.0, float(value or 0.0))
    except (TypeError, ValueError):
        return 0.0
