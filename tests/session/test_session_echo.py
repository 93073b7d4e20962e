"""``echo_cancellation="server" | "local" | "both" | "off"``: the config field, and the session's checks.

Sessions on the virtual devices, with the room's echo, are in tests/echo/test_room.py; here
the config and what a session refuses (clearly, before anything opens) run without devices.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from voicelive_nb.audio.wav import CaptureSpeaker, WavMic, write_wav
from voicelive_nb.config import ECHO_CANCELLATION_MODES, SessionConfig
from voicelive_nb.session import VoiceSession
from voicelive_nb.session.echo import with_echo_canceller

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("mode", "server", "local"),
    [("server", True, False), ("local", False, True), ("both", True, True), ("off", False, False)],
)
def test_modes_send_only_the_server_half(mode: str, server: bool, local: bool) -> None:
    cfg = SessionConfig(echo_cancellation=mode)
    assert (cfg.server_echo_cancellation, cfg.local_echo_cancellation) == (server, local)
    wire = cfg.to_dict()["input_audio_echo_cancellation"]
    assert wire == ({"type": "server_echo_cancellation"} if server else None)
    assert SessionConfig.from_dict(cfg.to_dict()).echo_cancellation == ("server" if server else "off")


def test_default_old_booleans_and_bad_values() -> None:
    assert SessionConfig().echo_cancellation == "server"
    assert ECHO_CANCELLATION_MODES == ("server", "local", "both", "off")
    assert SessionConfig(echo_cancellation=True).echo_cancellation == "server"  # the old switch
    assert SessionConfig(echo_cancellation=False).echo_cancellation == "off"
    with pytest.raises(ValueError, match=r"echo_cancellation='client' is not valid: expected one of 'both'"):
        SessionConfig(echo_cancellation="client")


def test_local_needs_a_sound_device_pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wav = write_wav(tmp_path / "q.wav", np.zeros(4800, np.int16), 24000)
    local = SessionConfig(echo_cancellation="local")
    with pytest.raises(ValueError, match=r"needs a sound-device mic and speaker.*WAV file.*echo_cancellation='server'"):
        VoiceSession(local, mic=str(wav))
    with pytest.raises(ValueError, match="browser page"):
        VoiceSession(SessionConfig(echo_cancellation="both"), speaker="browser")
    monkeypatch.setenv("VOICELIVE_NB_HEADLESS", "1")
    with pytest.raises(ValueError, match="headless"):
        VoiceSession(local)
    monkeypatch.delenv("VOICELIVE_NB_HEADLESS")
    session = VoiceSession(mic=str(wav), speaker=str(tmp_path / "a.wav"))  # server mode: any mic
    with pytest.raises(ValueError, match="needs a sound-device mic and speaker"):
        session.update(local)  # stored for the next start: refused before it is
    # objects of the caller's: the pair is checked where they are opened
    mic, spk = WavMic(str(wav)), CaptureSpeaker()
    with pytest.raises(ValueError, match="the mic is WavMic and the speaker CaptureSpeaker"):
        with_echo_canceller(mic, spk, "local")
    assert with_echo_canceller(mic, spk, "server") is mic  # nothing local: used as it is


def test_without_livekit_local_cancellation_names_the_install_command() -> None:
    """The livekit package hidden from a fresh interpreter: the error says what to install."""
    code = (
        "import sys; sys.modules['livekit'] = None\n"
        "from voicelive_nb.audio.echo import EchoCanceller, EchoCancellerUnavailable\n"
        "EchoCanceller(24000, enabled=False)  # metering needs no livekit\n"
        "try:\n"
        "    EchoCanceller(24000, enabled=True)\n"
        "except EchoCancellerUnavailable as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "needs the livekit package" in out.stdout and "pip install 'livekit>=1.2.1,<1.3'" in out.stdout
