"""A small generated corpus: eSpeak speech with known turn boundaries and pauses.

    calls/a.wav         16 kHz: one turn with a short pause inside it, then a second turn
    calls/b.wav         44.1 kHz (resampled to 24 kHz on load): two turns ~1.5 s apart
    calls/rec1/         a recording (24 kHz mic.wav); its reference = the session's own turns
    calls/damaged/      a recording whose mic.wav is garbage

Reference turns are measured from the samples (``tests.speech.speech_bounds``), and
labels files / the recording's server events carry them.  ``EXPECTED`` says what each
silence setting must find: 300 ms cuts a's turn at its pause, 800 ms gets every turn
right, 2000 ms merges the turns that are less than 2 s apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.speech import speech_pcm
from voicelive_nb.audio.wav import write_wav
from voicelive_nb.events import EventRecord, Local

RATE = 24_000
BLOCK = 480

# voiced starts and ends, so energy bounds and Silero agree closely
A = [0.5, "hello there how are you", 0.4, "I would like a table", 1.5, "for two people tonight", 1.0]
B = [0.6, "good morning", 1.2, "one more thing", 0.8]
REC = [0.5, "where is my order", 3.0, "thank you very much", 0.5]


@dataclass(frozen=True)
class Corpus:
    root: Path
    reference: dict[str, list[tuple[float, float]]]
    """Item name -> its reference turns (seconds)."""


EXPECTED: dict[int, dict[str, dict[str, int]]] = {
    # silence_duration_ms -> item -> counts
    300: {
        "a.wav": {"turns": 3, "found": 2, "cutoffs": 1, "merges": 0, "missed": 0, "false_starts": 0},
        "b.wav": {"turns": 2, "found": 2, "cutoffs": 0, "merges": 0, "missed": 0, "false_starts": 0},
        "rec1": {"turns": 2, "found": 2, "cutoffs": 0, "merges": 0, "missed": 0, "false_starts": 0},
    },
    800: {
        "a.wav": {"turns": 2, "found": 2, "cutoffs": 0, "merges": 0, "missed": 0, "false_starts": 0},
        "b.wav": {"turns": 2, "found": 2, "cutoffs": 0, "merges": 0, "missed": 0, "false_starts": 0},
        "rec1": {"turns": 2, "found": 2, "cutoffs": 0, "merges": 0, "missed": 0, "false_starts": 0},
    },
    2000: {
        "a.wav": {"turns": 1, "found": 2, "cutoffs": 0, "merges": 1, "missed": 0, "false_starts": 0},
        "b.wav": {"turns": 1, "found": 2, "cutoffs": 0, "merges": 1, "missed": 0, "false_starts": 0},
        "rec1": {"turns": 2, "found": 2, "cutoffs": 0, "merges": 0, "missed": 0, "false_starts": 0},
    },
}


def _write_labels(path: Path, turns: list[tuple[float, float]]) -> None:
    path.write_text("start_s,end_s,text\n" + "".join(f"{a:.4f},{b:.4f},turn\n" for a, b in turns))


def write_recording(folder: Path, pcm: np.ndarray, turns: list[tuple[float, float]]) -> None:
    """A recording folder (as a Recorder writes it) whose session's VAD found ``turns``."""
    from voicelive_nb.config import SessionConfig
    from voicelive_nb.recording import Recorder

    pcm = np.concatenate([pcm, np.zeros((-len(pcm)) % BLOCK, dtype=np.int16)])
    t0 = 500.0
    records = []
    for off in range(0, len(pcm), BLOCK):
        data = {"samples": BLOCK, "rate": RATE, "offset": off, "rms_db": -30.0, "peak_db": -20.0}
        records.append(EventRecord(t0 + (off + BLOCK) / RATE, 0.0, "local", Local.MIC_AUDIO, data,
                                   pcm[off : off + BLOCK].tobytes()))  # fmt: skip
    for i, (a, b) in enumerate(turns):
        item = f"item_{i}"
        records.append(EventRecord(t0 + a + 0.3, 0.0, "server", "input_audio_buffer.speech_started",
                                   {"audio_start_ms": round(a * 1000), "item_id": item}))  # fmt: skip
        records.append(EventRecord(t0 + b + 0.6, 0.0, "server", "input_audio_buffer.speech_stopped",
                                   {"audio_end_ms": round(b * 1000), "item_id": item}))  # fmt: skip
    records.sort(key=lambda r: r.t)
    with Recorder(folder, config=SessionConfig(voice="alloy").to_dict()) as rec:
        for r in records:
            rec(r)


def make_corpus(root: Path) -> Corpus:
    """Write the corpus under ``root / "calls"``."""
    calls = root / "calls"
    calls.mkdir(parents=True)
    reference: dict[str, list[tuple[float, float]]] = {}

    pcm, bounds = speech_pcm(A, rate=16_000)
    write_wav(calls / "a.wav", pcm, 16_000)
    reference["a.wav"] = [(bounds[0][0], bounds[1][1]), bounds[2]]  # the pause is inside the first turn
    _write_labels(calls / "a.labels.csv", reference["a.wav"])

    pcm, bounds = speech_pcm(B, rate=44_100)
    write_wav(calls / "b.wav", pcm, 44_100)
    reference["b.wav"] = bounds
    (calls / "b.labels.txt").write_text("".join(f"{a:.4f}\t{b:.4f}\tturn {i}\n" for i, (a, b) in enumerate(bounds)))

    pcm, bounds = speech_pcm(REC, rate=RATE)
    write_recording(calls / "rec1", pcm, bounds)
    reference["rec1"] = [(round(a, 3), round(b, 3)) for a, b in bounds]

    write_recording(calls / "damaged", pcm[: RATE * 2], [])
    (calls / "damaged" / "mic.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(64))
    return Corpus(calls, reference)
