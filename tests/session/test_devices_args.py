"""mic= / speaker= argument resolution and the session's argument checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voicelive_nb.session import VoiceSession
from voicelive_nb.session.devices import make_sink, make_source


def test_mic_and_speaker_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from voicelive_nb.audio.wav import CaptureSpeaker, WavMic, write_wav

    wav = write_wav(tmp_path / "in.wav", np.zeros(4800, dtype=np.int16), 24000)
    assert isinstance(make_source(str(wav)), WavMic)
    assert isinstance(make_source(wav), WavMic)
    assert isinstance(make_sink(str(tmp_path / "out.wav")), CaptureSpeaker)
    monkeypatch.setenv("VOICELIVE_NB_HEADLESS", "1")
    assert isinstance(make_source(None), WavMic)
    assert isinstance(make_sink(None), CaptureSpeaker)
    with pytest.raises(ValueError, match="no such WAV file"):
        VoiceSession(mic=str(tmp_path / "missing.wav"))
    with pytest.raises(ValueError, match="AudioSink"):
        VoiceSession(speaker=object())
    with pytest.raises(ValueError, match="SessionConfig"):
        VoiceSession(config={"voice": "alloy"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_failures"):
        VoiceSession(max_failures=0)


def test_browser_audio_needs_a_notebook_and_transports_are_named() -> None:
    from voicelive_nb.audio.browser import BrowserAudioLink
    from voicelive_nb.audio.wav import CaptureSpeaker, WavMic
    from voicelive_nb.session.devices import transport

    for make in (make_source, make_sink):  # no Jupyter kernel here: no page to be the sound card
        with pytest.raises(ValueError, match="needs a notebook"):
            make("browser")
    VoiceSession(mic="browser", speaker="browser")  # the argument itself is fine (checked at start)
    link = BrowserAudioLink()
    try:
        assert transport(link.mic()) == transport(link.speaker()) == "browser"
    finally:
        link.close()
    assert transport(WavMic(np.zeros(480, dtype=np.int16))) == transport(CaptureSpeaker()) == "file"
    assert transport(object()) == "custom"
