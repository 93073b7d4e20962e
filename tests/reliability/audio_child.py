"""Audio-fault scenarios, each run in a child process by test_audio_faults.py.

A child process owns its private PulseAudio daemon and its PortAudio state, so pulling a
device out from under a stream (or killing the sound server) cannot disturb the other
tests, and a hang shows up as a child that misses its deadline instead of a frozen suite.
Usage: ``python -m tests.reliability.audio_child SCENARIO``; prints one JSON object
(the last line of stdout) with what the user saw.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from typing import Any

import numpy as np

RATE = 24_000


def _emulator() -> Any:
    from voicelive_nb.emulator import Emulator, EmulatorSettings

    return Emulator(settings=EmulatorSettings(transcribe_for_responder=False), asr=False).start()


def _session(emu: Any, **kw: Any) -> Any:
    from voicelive_nb.connection import ConnectionSettings
    from voicelive_nb.session import VoiceSession

    return VoiceSession(connection=ConnectionSettings(endpoint=emu.endpoint, api_key="child-key"), **kw)


def _errors(session: Any) -> list[str]:
    from voicelive_nb.events import Local

    return [str(r.get("message")) for r in session.records(Local.ERROR)]


def _timed_stop(session: Any) -> float:
    t = time.monotonic()
    session.stop(timeout=20)
    return round(time.monotonic() - t, 2)


def missing_device() -> dict[str, Any]:
    """A mic name that does not exist: a clear error, and the session still talks (text)."""
    from voicelive_nb.audio.pulse import VirtualAudio
    from voicelive_nb.audio.wav import CaptureSpeaker
    from voicelive_nb.panel.state import PanelState
    from voicelive_nb.panel.views import status_html

    with VirtualAudio(), _emulator() as emu:
        session = _session(emu, mic="no-such-mic", speaker=CaptureSpeaker(max_s=5))
        panel = PanelState()
        session.subscribe(panel.feed)
        session.start()
        ready = session.wait_for("session.updated", timeout=30, since=0)
        session.send_text("hello")
        done = session.wait_for("response.done", timeout=30, since=ready.t)
        out = {"errors": _errors(session), "state": session.state, "response": done.data["response"]["status"]}
        session.bus.flush()
        snap = panel.snapshot(time.monotonic())
        out["panel"] = {"status": snap.status, "trouble": list(snap.device_trouble), "html": status_html(snap)}
        out["stop_s"] = _timed_stop(session)
        # a missing speaker: the same, for output
        session = _session(emu, mic=None, speaker="no-such-speaker")
        session.start()
        t0 = time.monotonic()
        while session.running and time.monotonic() - t0 < 30 and not _errors(session):
            time.sleep(0.05)
        out["speaker_errors"] = _errors(session)
        out["speaker_state"] = session.state
        out["speaker_stop_s"] = _timed_stop(session)
        return out


def portaudio_absent() -> dict[str, Any]:
    """PortAudio cannot load (what sounddevice raises without libportaudio2)."""
    import subprocess

    from voicelive_nb.audio import devices
    from voicelive_nb.audio.streams import DeviceMic

    out: dict[str, Any] = {}
    try:
        devices.sounddevice()
    except devices.AudioUnavailableError as exc:
        out["import_error"] = str(exc)
    try:
        DeviceMic().start()
    except Exception as exc:
        out["mic_error"] = f"{type(exc).__name__}: {exc}"
    cli = subprocess.run(
        [sys.executable, "-m", "voicelive_nb.cli", "devices"], capture_output=True, text=True, timeout=60
    )
    out["cli_rc"] = cli.returncode
    out["cli_output"] = (cli.stdout + cli.stderr)[-600:]
    with _emulator() as emu:
        from voicelive_nb.audio.wav import CaptureSpeaker

        session = _session(emu, mic=None, speaker=CaptureSpeaker(max_s=5))
        session.start()
        ready = session.wait_for("session.updated", timeout=30, since=0)
        session.send_text("hello")
        session.wait_for("response.done", timeout=30, since=ready.t)
        out["session_errors"] = _errors(session)
        out["state"] = session.state
        out["stop_s"] = _timed_stop(session)
    return out


def unplugged() -> dict[str, Any]:
    """The sound server dies mid-session (every device vanishes at once)."""
    from voicelive_nb.audio.pulse import VirtualAudio
    from voicelive_nb.audio.streams import DeviceMic, DeviceSpeaker
    from voicelive_nb.events import Local

    va = VirtualAudio().start()
    try:
        with _emulator() as emu:
            session = _session(emu, mic=DeviceMic(va.input_device), speaker=DeviceSpeaker(va.output_device))
            session.start()
            ready = session.wait_for("session.updated", timeout=30, since=0)
            session.wait_for(Local.MIC_AUDIO, timeout=30, since=ready.t)
            session.send_text("Please talk for a while so that the speaker is busy when it goes away.")
            session.wait_for(Local.PLAYBACK_STARTED, timeout=30, since=ready.t)
            assert va._proc is not None
            va._proc.kill()  # the sound server is gone: like pulling the USB headset
            va._proc.wait(10)
            unplug_t = time.monotonic()
            out: dict[str, Any] = {}
            try:
                err = session.wait_for(Local.ERROR, timeout=15, since=unplug_t)
                out["error"] = str(err.get("message"))
            except TimeoutError:
                out["error"] = None
            out["state_after"] = session.state
            out["mic_blocks_after"] = len([r for r in session.records(Local.MIC_AUDIO) if r.t > unplug_t + 0.5])
            # text still works without sound devices
            t = time.monotonic()
            session.send_text("Are you still there?")
            try:
                session.wait_for("response.done", timeout=30, since=t)
                out["text_after"] = True
            except TimeoutError:
                out["text_after"] = False
            out["errors"] = _errors(session)
            out["stop_s"] = _timed_stop(session)
            out["running_after_stop"] = session.running
            return out
    finally:
        va.stop()


def rate_refused() -> dict[str, Any]:
    """A rate the device refuses: the mic resamples from the device's rate; a speaker says why."""
    from voicelive_nb.audio.pulse import VirtualAudio
    from voicelive_nb.audio.streams import DeviceMic, DeviceSpeaker

    out: dict[str, Any] = {}
    with VirtualAudio() as va:
        for rate in (24000, 16000, 8000, 11025, 1):
            mic = DeviceMic(va.input_device, rate=rate, blocksize=max(1, rate // 50))
            try:
                mic.start()
                out[f"mic_{rate}"] = f"ok device {mic.device_rate}"
            except Exception as exc:
                out[f"mic_{rate}"] = f"{type(exc).__name__}: {exc}"
            finally:
                mic.stop()
        from voicelive_nb.audio.player import Player

        for rate in (24000, 1):
            spk = DeviceSpeaker(va.output_device, rate=rate, blocksize=max(1, rate // 50))
            try:
                spk.start(Player(rate=rate))
                out[f"speaker_{rate}"] = "ok"
            except Exception as exc:
                out[f"speaker_{rate}"] = f"{type(exc).__name__}: {exc}"
            finally:
                spk.stop()
    return out


def overflow() -> dict[str, Any]:
    """The session loop stalls for 1 s with a 0.3 s mic buffer: overflows counted, never fatal."""
    import asyncio

    from voicelive_nb.audio.pulse import VirtualAudio
    from voicelive_nb.audio.streams import DeviceMic, DeviceSpeaker
    from voicelive_nb.events import Local
    from voicelive_nb.panel.state import PanelState

    with VirtualAudio() as va, _emulator() as emu:
        session = _session(emu, mic=DeviceMic(va.input_device, buffer_s=0.3), speaker=DeviceSpeaker(va.output_device))
        panel = PanelState()
        session.subscribe(panel.feed)
        session.start()
        ready = session.wait_for("session.updated", timeout=30, since=0)
        session.wait_for(Local.MIC_AUDIO, timeout=30, since=ready.t)

        async def stall() -> None:
            time.sleep(1.0)  # the fault: something blocks the session's loop

        asyncio.run_coroutine_threadsafe(stall(), session._loop).result(10)
        t = time.monotonic()
        counters = session.wait_for(
            Local.COUNTERS, timeout=10, since=t, predicate=lambda r: r.get("input_overflows", 0) > 0
        )
        session.wait_for(Local.MIC_AUDIO, timeout=10, since=counters.t)
        out = {
            "counters": dict(counters.data),
            "panel_counters": dict(panel.snapshot(time.monotonic()).counters),
            "state": session.state,
            "errors": _errors(session),
        }
        out["stop_s"] = _timed_stop(session)
        return out


SCENARIOS = {f.__name__: f for f in (missing_device, portaudio_absent, unplugged, rate_refused, overflow)}


def main() -> None:
    name = sys.argv[1]
    t = time.monotonic()
    try:
        result = SCENARIOS[name]()
        result["ok"] = True
    except Exception as exc:
        result = {"ok": False, "exception": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    result["seconds"] = round(time.monotonic() - t, 1)
    print(json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
