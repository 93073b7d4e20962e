"""WAV I/O, resampling, WavMic and CaptureSpeaker (threads on the real clock, short runs)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from voicelive_nb.audio.player import Player
from voicelive_nb.audio.resample import Resampler, resample
from voicelive_nb.audio.sources import AudioSink, AudioSource
from voicelive_nb.audio.wav import CaptureSpeaker, WavMic, load_audio, read_wav, write_wav


def sine(rate: int, seconds: float, freq: float = 440.0, amp: float = 10000.0) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.int16)


@pytest.mark.parametrize(("src", "dst"), [(48000, 24000), (16000, 24000), (44100, 24000), (24000, 8000)])
def test_resample_is_time_aligned_and_accurate(src: int, dst: int) -> None:
    y = resample(sine(src, 0.5), src, dst)
    assert y.shape[0] == round(dst * 0.5)
    ref = sine(dst, 0.5).astype(float)
    assert np.abs(y[100:-100] - ref[100:-100]).max() < 4  # a few LSB


def test_streaming_resampler_matches_one_shot() -> None:
    x = sine(48000, 0.3, freq=1000)
    r = Resampler(48000, 24000)
    blocks = [r.process(b) for b in np.array_split(x, 17)]
    ys = np.concatenate(blocks)
    y = resample(x, 48000, 24000)
    assert np.array_equal(ys, y[: ys.shape[0]])
    assert ys.shape[0] >= y.shape[0] - round(r.delay_s * 24000) - 1


def test_resample_rejects_odd_ratios() -> None:
    with pytest.raises(ValueError, match="standard rates"):
        Resampler(24001, 24000)
    with pytest.raises(ValueError, match="positive"):
        Resampler(0, 24000)


def test_wav_roundtrip_and_formats(tmp_path: Path) -> None:
    x = sine(16000, 0.1)
    p = write_wav(tmp_path / "a.wav", x, 16000)
    y, rate = read_wav(p)
    assert rate == 16000 and np.array_equal(x, y)
    z = load_audio(p, 24000)
    assert z.shape[0] == 2400
    assert np.array_equal(load_audio((x, 24000), 24000), x)
    f = load_audio(np.array([0.0, 0.5, -1.0]), 24000)
    assert f.tolist() == [0, 16384, -32767]


def test_wav_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="WAV file not found"):
        read_wav(tmp_path / "missing.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav")
    with pytest.raises(ValueError, match="not a PCM WAV"):
        read_wav(bad)
    with pytest.raises(ValueError, match="mono"):
        load_audio(np.zeros((10, 2), np.int16), 24000)


def test_wavmic_fast_mode_blocks_and_virtual_clock() -> None:
    x = np.arange(1000, dtype=np.int16)
    mic = WavMic(x, blocksize=480, realtime=False, lead_silence_s=0.01, tail_silence_s=0.0)
    assert isinstance(mic, AudioSource)
    assert mic.read() is None  # not started
    mic.start()
    got = []
    while (item := mic.read()) is not None:
        got.append(item)
    assert mic.finished
    blocks = np.concatenate([b for b, _ in got])
    assert blocks.shape[0] == 1440  # 240 lead + 1000 + pad to 3 blocks
    assert np.array_equal(blocks[240:1240], x)
    ts = [t for _, t in got]
    assert np.allclose(np.diff(ts), 0.02)


def test_wavmic_realtime_paces_and_notifies() -> None:
    mic = WavMic(np.zeros(2400, np.int16), blocksize=480, tail_silence_s=0.0)
    arrived = threading.Semaphore(0)
    t0 = time.monotonic()
    mic.start(arrived.release)
    got: list[tuple[np.ndarray, float]] = []
    try:
        while len(got) < 5:
            assert arrived.acquire(timeout=5)
            while (item := mic.read()) is not None:
                got.append(item)
    finally:
        mic.stop()
    elapsed = time.monotonic() - t0
    assert 0.07 < elapsed < 3.0  # 5 blocks of 20 ms take ~100 ms, generously bounded
    assert got[0][1] == pytest.approx(t0, abs=0.05)
    assert mic.finished


def test_wavmic_loop_never_finishes() -> None:
    mic = WavMic(np.ones(480, np.int16), blocksize=480, realtime=False, loop=True, tail_silence_s=0.0)
    mic.start()
    for _ in range(5):
        item = mic.read()
        assert item is not None and item[0].shape == (480,)
    assert not mic.finished


def test_capture_speaker_drains_player_into_wav(tmp_path: Path) -> None:
    player = Player(24000)
    speech = sine(24000, 0.2)
    player.push(speech.tobytes(), "r1", "i1")
    player.done("r1", "i1")
    sink = CaptureSpeaker(tmp_path / "out.wav", realtime=False)
    assert isinstance(sink, AudioSink)
    sink.start(player)
    deadline = time.monotonic() + 5
    while player.queued_ms > 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    sink.stop()
    assert np.array_equal(sink.samples[: speech.shape[0]], speech)
    y, rate = read_wav(tmp_path / "out.wav")
    assert rate == 24000 and np.array_equal(y[: speech.shape[0]], speech)
    kinds = [m.kind for m in player.drain_marks()]
    assert kinds[0] == "started" and kinds[-1] == "stopped"


def test_capture_speaker_realtime_rate_matches() -> None:
    player = Player(24000)
    with CaptureSpeaker(realtime=True) as sink:
        sink.start(player)
        time.sleep(0.3)
    n = sink.samples.shape[0]
    assert 0.1 * 24000 < n < 1.0 * 24000  # ~0.3 s of silence, generous bounds
    with pytest.raises(ValueError, match="rate"):
        CaptureSpeaker(rate=16000).start(player)
