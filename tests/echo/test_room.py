"""Open speakers in the virtual room: the assistant must not interrupt itself, and the user still can.

Real sessions on the PulseAudio virtual devices, the real emulator over a socket, the room's
echo made by PulseAudio itself (:class:`~voicelive_nb.audio.room.VirtualRoom`: 60 ms, 0 dB
loopback, 7 ms reflections).  Without cancellation the assistant barges in on its own voice;
with the local canceller, and separately with the emulator's server_echo_cancellation, it
does not over several replies, and a user talking over a reply still interrupts it.
Tallies are printed (pytest -s) for the record.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.echo.harness import REPLY, Tally, erle, open_session, run_cycles, warm_up
from tests.speech import speak
from voicelive_nb.audio.echo_mic import EchoCancellingMic
from voicelive_nb.audio.room import VirtualRoom
from voicelive_nb.connection import ConnectionSettings
from voicelive_nb.events import Local
from voicelive_nb.recording.recording import Recording

pytestmark = pytest.mark.pulse

DELAY_MS = 60.0
GAIN_DB = 0.0


@pytest.fixture(scope="module")
def emulator() -> Iterator[Any]:
    from voicelive_nb.emulator import Emulator, EmulatorSettings

    emu = Emulator(responder=lambda text, session: REPLY, settings=EmulatorSettings(transcribe_for_responder=False))
    emu.start()
    try:
        yield emu
    finally:
        emu.close()


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, np.ndarray]:
    pad = np.zeros(2400, np.int16)
    prompt = np.concatenate([pad, speak("What is the weather like today?", voice="en-gb"), pad])
    interruption = np.concatenate([speak("Wait, stop, tell me about tomorrow instead.", voice="en-gb"), pad])
    return prompt, interruption


@pytest.fixture
def room(virtual_audio: Any) -> Iterator[VirtualRoom]:
    with VirtualRoom(virtual_audio, delay_ms=DELAY_MS, gain_db=GAIN_DB) as r:
        yield r


def _connection(emu: Any) -> ConnectionSettings:
    return ConnectionSettings(endpoint=emu.endpoint, api_key="test-key")


def _show(t: Tally, extra: str = "") -> None:
    print(
        f"\n{t.mode}: {t.false_barge_ins} false barge-ins over {t.replies} replies, "
        f"{t.true_detected}/{t.interruptions} interruptions detected {extra}"
    )


def test_without_cancellation_the_assistant_barges_in_on_its_own_voice(
    virtual_audio: Any, room: VirtualRoom, emulator: Any, speech: tuple[np.ndarray, np.ndarray]
) -> None:
    session = open_session("off", _connection(emulator))
    with session:
        warm_up(session, virtual_audio)
        tally = run_cycles(session, virtual_audio, Tally("off"), *speech, cycles=1, interrupt=False)
    _show(tally)
    assert tally.false_barge_ins >= 1


def test_local_cancellation_no_self_interruption_and_the_user_still_interrupts(
    virtual_audio: Any, room: VirtualRoom, emulator: Any, speech: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    """SessionConfig(echo_cancellation="local"): the session pairs the device mic and speaker."""
    session = open_session("local", _connection(emulator), record=tmp_path / "rec")
    echo: list[Any] = []
    session.subscribe(lambda r: echo.append(r.data) if r.type == Local.ECHO else None)
    with session:
        warm_up(session, virtual_audio)
        mic = session.mic
        assert isinstance(mic, EchoCancellingMic) and mic.enabled
        tally = run_cycles(
            session, virtual_audio, Tally("local"), *speech, cycles=3, meters=lambda: mic.canceller.meter.totals()
        )
        stats = mic.stats()
        # switched live: the local half goes off at once, the server half is sent
        result = session.update(session.config.replace(echo_cancellation="server")).result(10)
        assert result.ok and not mic.enabled and session.config.echo_cancellation == "server"
    single_talk_erle = erle(tally.meter_spans)
    _show(tally, f"ERLE {single_talk_erle} dB, {stats}")
    assert tally.false_barge_ins == 0
    assert tally.true_detected == tally.interruptions == 3
    assert single_talk_erle is not None and single_talk_erle > 15
    assert stats["restarts"] >= 3  # a fresh canceller at each answer's restarted speaker stream
    # the panel's figures: audio.echo records while the assistant spoke, the canceller's share in them
    assert len(echo) >= 6 and all(r["enabled"] for r in echo)
    erles = [r["erle_db"] for r in echo if r["erle_db"] is not None]
    assert max(erles) > 20 and min(r["erl_db"] for r in echo if r["erl_db"] is not None) < 10
    # the recording's mic track is what was sent: the echo is gone from it while the assistant
    # speaks alone (the 0.5 s after each reply started, well before any interruption)
    rec = Recording.load(tmp_path / "rec")
    starts = [r["t"] for r in rec.events if r["type"] == "playback.started"]
    mic_db, played_db = [], []
    for t in starts:
        a = round(rec.seconds(t) * rec.rate) + 2400
        b = a + rec.rate // 2
        mic_db.append(_db(rec.mic[a:b]))
        played_db.append(_db(rec.assistant[a:b]))
    assert max(played_db) > -40  # the assistant was playing there
    assert np.median(np.array(played_db) - np.array(mic_db)) > 20, (played_db, mic_db)


def test_server_cancellation_no_self_interruption_and_the_user_still_interrupts(
    virtual_audio: Any, room: VirtualRoom, emulator: Any, speech: tuple[np.ndarray, np.ndarray]
) -> None:
    """The emulator's server_echo_cancellation: every reply (to a prompt, and to an
    interruption) plays without a false barge-in, and every interruption is detected."""
    session = open_session("server", _connection(emulator))
    with session:
        warm_up(session, virtual_audio)
        assert not session.mic.enabled  # (the device pair is metered, not cancelled, locally)
        conv = emulator.conversations[-1]

        def meters() -> Any:
            return conv.echo._ec.meter.totals()

        tally = run_cycles(session, virtual_audio, Tally("server"), *speech, cycles=3, meters=meters)
        stats = conv.echo.stats()
    _show(tally, f"ERLE {erle(tally.meter_spans)} dB, {stats}")
    assert tally.false_barge_ins == 0
    assert tally.true_detected == tally.interruptions == 3
    assert stats["replies"] >= tally.replies == 6  # each started a fresh canceller
    assert stats["processed_frames"] > 0


def _db(x: np.ndarray) -> float:
    return 10 * np.log10(float(np.mean(np.asarray(x, np.float64) ** 2)) + 1e-9) - 90.3  # dBFS
