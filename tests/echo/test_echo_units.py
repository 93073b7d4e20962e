"""The echo canceller's pieces on synthetic audio (no devices): WebRTC AEC3 through livekit, for real."""

from __future__ import annotations

import numpy as np
import pytest

from tests.speech import speak
from voicelive_nb.audio.echo import EchoCanceller, apm_delay_samples
from voicelive_nb.audio.echo_mic import EchoReference
from voicelive_nb.emulator.echo import ServerEchoCanceller

RATE = 24000


def _room(far: np.ndarray, delay_ms: float, gain: float = 0.5) -> np.ndarray:
    h = np.zeros(round(0.05 * RATE))
    for k in range(6):  # direct sound and reflections every 7 ms, as in the virtual room
        h[k * 168] = 0.45**k
    echo = np.convolve(far.astype(np.float64), h)[: len(far)] * gain
    d = round(delay_ms * RATE / 1000)
    return np.concatenate([np.zeros(d), echo])[: len(far)]


def _db(x: np.ndarray) -> float:
    return 10 * np.log10(float(np.mean(x.astype(np.float64) ** 2)) + 1e-9)


@pytest.fixture(scope="module")
def far() -> np.ndarray:
    reply = speak("Sure. Here is my answer: the weather stays mild and sunny all afternoon, with a light breeze.")
    return np.concatenate([np.zeros(RATE // 2, np.int16), reply, reply, np.zeros(RATE, np.int16)])


def test_canceller_removes_a_delayed_echo_and_keeps_the_near_talker(far: np.ndarray) -> None:
    user = speak("Wait, stop, tell me about tomorrow instead.", voice="en-gb")
    near = _room(far, 120)
    u0 = len(far) - len(user) - RATE  # the user talks over the second half of the reply
    near[u0 : u0 + len(user)] += user
    near_i = np.clip(near, -32768, 32767).astype(np.int16)

    def far_fn(pos: int, out: np.ndarray) -> None:
        out.fill(0)
        lo, hi = max(pos, 0), min(pos + len(out), len(far))
        if hi > lo:
            out[lo - pos : hi - pos] = far[lo:hi]

    ec = EchoCanceller(RATE, far_fn)
    out = np.concatenate([ec.process(near_i[k : k + 480], lambda j, k=k: k + j) for k in range(0, len(near_i), 480)])
    d = ec.delay
    assert d == apm_delay_samples(RATE)
    single = slice(3 * RATE, u0 - RATE // 2)  # converged, only the assistant speaks
    erle = _db(near_i[single]) - _db(out[single.start + d : single.stop + d])
    assert erle > 20, erle
    # double talk: the user comes through (ducked a little, not gone)
    talk = slice(u0, u0 + len(user))
    assert _db(out[talk.start + d : talk.stop + d]) > _db(user) - 10
    stats = ec.stats()
    assert stats["frames"] > 0 and 0 < stats["cpu_share"] < 0.5


def test_gate_lets_the_near_end_through_when_there_is_no_echo(far: np.ndarray) -> None:
    """Headphones: no echo, and AEC3 alone would duck a barge-in by 9-23 dB for ~8 s."""
    user = speak("Wait, stop, tell me about tomorrow instead.", voice="en-gb")
    near = np.zeros(len(far), np.int16)
    u0 = 3 * RATE
    near[u0 : u0 + len(user)] = user

    def far_fn(pos: int, out: np.ndarray) -> None:
        out.fill(0)
        lo, hi = max(pos, 0), min(pos + len(out), len(far))
        if hi > lo:
            out[lo - pos : hi - pos] = far[lo:hi]

    ec = EchoCanceller(RATE, far_fn)
    out = ec.process(near, lambda j: j)
    d = ec.delay
    assert not ec.gate.echo
    assert abs(_db(out[u0 + d : u0 + d + len(user)]) - _db(user)) < 1.0


def test_reference_follows_the_heard_clock() -> None:
    ref = EchoReference(RATE, capacity_s=1.0)
    block = np.arange(480, dtype=np.int16).reshape(-1, 1)
    t = 100.0
    for _ in range(3):  # contiguous blocks, heard times jittering by 3 ms
        ref.write(block, t + 0.003)
        t += 0.02
    out = np.zeros(960, np.int16)
    ref.read(round(100.003 * RATE) + 480, out)
    assert np.array_equal(out[:480], block[:, 0]) and np.array_equal(out[480:], block[:, 0])
    assert ref.reanchors == 1  # only the first block anchors
    ref.cut(100.03)  # an aborted stream: what it held after 30 ms was never heard
    ref.read(round(100.003 * RATE) + 960, out[:480])
    assert not out[240:480].any()
    ref.read(round(50.0 * RATE), out)  # never written: silence, not last lap's audio
    assert not out.any()


def test_server_canceller_is_bit_exact_without_a_far_end_and_cancels_its_reply(far: np.ndarray) -> None:
    ec = ServerEchoCanceller(RATE, RATE)
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(RATE) * 500).astype(np.int16)
    y = np.concatenate([ec.process(x[k : k + 333]) for k in range(0, len(x), 333)])
    assert np.array_equal(y, x[: len(y)])  # same timeline, same samples: no latency on the VAD's clock
    assert ec.processed_frames == 0
    # a reply goes out as 100 ms deltas (4x faster than real time: all of it before it plays)
    for k in range(0, len(far), 2400):
        ec.response_audio("item_1", far[k : k + 2400], RATE)
    ec.response_done("item_1")
    near = np.clip(_room(far, 250) + rng.standard_normal(len(far)) * 5, -32768, 32767).astype(np.int16)
    y = np.concatenate([ec.process(near[k : k + 480]) for k in range(0, len(near), 480)])
    single = slice(3 * RATE, len(far) - RATE)
    assert _db(near[single]) - _db(y[single]) > 20
    assert ec.processed_frames > 0 and (ec.echo_level_db or 0) > -20
    # a truncate cuts the modelled far end: later audio meets no reference
    ec.truncate("item_1", 0)


_RUNTIME_CHILD = """
import os
import numpy as np
from livekit.rtc._ffi_client import FfiClient
from voicelive_nb.emulator import Emulator
from voicelive_nb.emulator.echo import ServerEchoCanceller

def fds():
    return len(os.listdir("/proc/self/fd"))

before = fds()
assert FfiClient._instance is None
emu = Emulator(asr=False).start()
assert FfiClient._instance is not None, "the emulator did not start the echo runtime"
started = fds()
far = (np.sin(np.arange(24000) / 7.0) * 8000).astype(np.int16)
for _ in range(20):  # cancellers for 20 sessions, 5 replies each: a fresh AEC3 per reply
    ec = ServerEchoCanceller(24000, 24000)
    for reply in range(5):
        ec.response_audio(f"item_{reply}", far, 24000)
        ec.response_done(f"item_{reply}")
        for k in range(0, 24000, 480):
            ec.process(far[k : k + 480] // 4)
    assert ec.replies == 5 and ec.processed_frames > 0
del ec
print(before, started, fds())
emu.close()
"""


def test_the_emulator_starts_the_echo_runtime_and_cancellers_own_no_descriptors() -> None:
    # livekit's runtime is process-wide and never freed (10 descriptors); a fresh process shows
    # where it starts: at Emulator.start(), not in the first session that cancels echo
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _RUNTIME_CHILD], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    before, started, after = (int(x) for x in out.split())
    assert started > before  # the runtime (and the listening socket)
    assert after == started, f"{after - started} descriptors opened by 100 replies' cancellers"
