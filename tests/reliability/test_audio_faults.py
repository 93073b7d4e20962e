"""Audio faults: missing or vanished devices, no PortAudio, refused rates, overflow, underflow.

Device scenarios run in child processes (:mod:`tests.reliability.audio_child`), each with its
own PulseAudio daemon, so killing the sound server cannot disturb other tests and a hang is
a child that misses its deadline, not a frozen suite.  The underflow test runs in-process:
the emulator sends audio slower than real time, so the player runs dry mid-response.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.emulated import Responder
from voicelive_nb.audio.wav import CaptureSpeaker, WavMic
from voicelive_nb.connection import ConnectionSettings
from voicelive_nb.events import Local
from voicelive_nb.panel.state import PanelState
from voicelive_nb.session import VoiceSession

from .conftest import silence

ROOT = Path(__file__).resolve().parents[2]
CHILD_TIMEOUT_S = 120.0  # generous: the scenarios take 3-20 s on a loaded 2-core machine


def run_child(scenario: str, extra_path: str | None = None) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (extra_path, str(ROOT), env.get("PYTHONPATH")) if p)
    env.pop("PULSE_SERVER", None)  # the child starts its own daemon
    proc = subprocess.run(
        [sys.executable, "-m", "tests.reliability.audio_child", scenario],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,  # a hang (a frozen stream.stop(), a stuck thread) fails here
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("{")]
    assert proc.returncode == 0 and lines, f"child failed ({proc.returncode}): {proc.stderr[-2000:]}"
    result: dict[str, Any] = json.loads(lines[-1])
    assert result["ok"], result.get("traceback")
    return result


@pytest.mark.pulse
def test_missing_devices_are_named_with_the_fix_and_text_still_works() -> None:
    r = run_child("missing_device")
    (mic_error,) = r["errors"]
    assert "no input device named 'no-such-mic'" in mic_error and "voicelive-nb devices" in mic_error
    assert r["state"] == "connected" and r["response"] == "completed"  # not fatal: text still works
    # the panel does not say a plain green "Connected": it says the mic is down, and what to do
    panel = r["panel"]
    assert panel["trouble"] == ["mic"] and "but the mic is not working" in panel["status"], panel
    assert "#f59e0b" in panel["html"] and "voicelive-nb devices" in panel["html"], panel
    (speaker_error,) = r["speaker_errors"]
    assert "no output device named 'no-such-speaker'" in speaker_error and "Available output devices" in speaker_error
    assert r["speaker_state"] == "failed"
    assert r["stop_s"] < 10 and r["speaker_stop_s"] < 10


def test_portaudio_absent_says_what_to_install(tmp_path: Path) -> None:
    # What sounddevice raises when libportaudio2 is missing (it cannot be uninstalled here).
    (tmp_path / "sounddevice.py").write_text('raise OSError("PortAudio library not found")\n')
    r = run_child("portaudio_absent", extra_path=str(tmp_path))
    for text in (r["import_error"], r["mic_error"], r["cli_output"], r["session_errors"][0]):
        assert "libportaudio2" in text and "WAV" in text, text
    assert r["cli_rc"] == 1 and "Traceback" not in r["cli_output"]
    assert r["state"] == "connected"  # the session runs on without a mic


@pytest.mark.pulse
def test_refused_sample_rates_resample_or_fail_clearly() -> None:
    r = run_child("rate_refused")
    for rate in (24000, 16000, 8000, 11025):
        assert r[f"mic_{rate}"].startswith("ok"), r
    assert r["mic_1"].startswith("ok device"), r  # refused by the device: opened at its rate, resampled
    assert r["speaker_24000"] == "ok"
    assert "cannot play 1 Hz" in r["speaker_1"] and "pick another device" in r["speaker_1"]


@pytest.mark.pulse
def test_sound_server_dying_mid_session_is_shown_and_never_hangs() -> None:
    r = run_child("unplugged")
    assert r["error"] and "mic" in r["error"].lower() and "unplugged" in r["error"], r
    assert any("speaker" in e.lower() for e in r["errors"]), r["errors"]
    assert r["mic_blocks_after"] == 0
    assert r["text_after"] and r["state_after"] == "connected"  # never fatal
    assert r["stop_s"] < 10 and not r["running_after_stop"]


@pytest.mark.pulse
def test_input_overflow_is_counted_shown_and_not_fatal() -> None:
    r = run_child("overflow")
    assert r["counters"]["input_overflows"] > 0
    assert r["panel_counters"]["input_overflows"] == r["counters"]["input_overflows"]
    assert r["state"] == "connected" and r["errors"] == []


def test_output_underflow_is_counted_shown_and_not_fatal(emulator: Any, replies: Responder) -> None:
    """Audio arrives at half real time: the player runs dry mid-response; counted, shown, played on."""
    replies.reply = "This answer arrives more slowly than it can be played, so playback keeps running dry."
    saved = emulator.settings.realtime_factor
    emulator.settings.realtime_factor = 0.5
    emulator.faults.reset()
    try:
        session = VoiceSession(
            connection=ConnectionSettings(endpoint=emulator.endpoint, api_key="k"),
            mic=WavMic(silence(), loop=True),
            speaker=CaptureSpeaker(max_s=30),
        )
        panel = PanelState()
        session.subscribe(panel.feed)
        with session:
            ready = session.wait_for("session.updated", timeout=20, since=0)
            session.send_text("hello")
            stopped = session.wait_for(Local.PLAYBACK_STOPPED, timeout=60, since=ready.t)
            counters = session.wait_for(
                Local.COUNTERS, timeout=10, since=stopped.t, predicate=lambda r: r.get("output_underflows", 0) > 0
            )
            assert session.state == "connected"
            shown = panel.snapshot(time.monotonic()).counters
    finally:
        emulator.settings.realtime_factor = saved
    assert counters.get("output_underflows") > 0
    assert shown["output_underflows"] >= counters.get("output_underflows")
    done = session.wait_for("response.done", timeout=1, since=0)
    assert done.data["response"]["status"] == "completed"
