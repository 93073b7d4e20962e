"""Corrupt recording folders: Recording.load gives a recording or a clear error, never a crash.

A real folder is written by the real :class:`Recorder`; then hypothesis damages one of its
files (cut short, bytes overwritten, replaced by other valid JSON) and loads it back.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voicelive_nb.events import EventRecord, Local
from voicelive_nb.recording import Recorder, Recording

RATE = 24_000
BLOCK = 480
FILES = ["events.jsonl", "session.json", "mic.wav", "assistant.wav"]
CLEAR_ERRORS = (ValueError, FileNotFoundError)


def write_recording(folder: Path, seconds: float = 1.0) -> Path:
    """A small but complete recording: session info, mic blocks, a response with audio."""
    t = 100.0
    rec = Recorder(folder, config={"voice": "alloy"})
    rec(EventRecord(t, 1.7e9, "local", Local.SESSION_INFO, {"config": {"voice": "alloy"}, "input_rate": RATE}))
    mic = (np.sin(np.arange(int(seconds * RATE)) / 5.0) * 3000).astype(np.int16)
    for off in range(0, len(mic) - BLOCK + 1, BLOCK):
        t += BLOCK / RATE
        data = {"samples": BLOCK, "rate": RATE, "rms_db": -20.0, "peak_db": -10.0, "offset": off}
        rec(EventRecord(t, 1.7e9 + t, "local", Local.MIC_AUDIO, data, mic[off : off + BLOCK].tobytes()))
    server = [
        ("input_audio_buffer.speech_started", {"audio_start_ms": 100, "item_id": "u1"}),
        ("input_audio_buffer.speech_stopped", {"audio_end_ms": 600, "item_id": "u1"}),
        ("response.created", {"response": {"id": "r1"}}),
        ("response.audio.delta", {"response_id": "r1", "item_id": "a1", "delta_bytes": 960}),
        ("response.done", {"response": {"id": "r1", "status": "completed"}}),
    ]
    for typ, data in server:
        t += 0.01
        rec(EventRecord(t, 1.7e9 + t, "server", typ, data))
    rec(EventRecord(t, 1.7e9 + t, "local", Local.PLAYBACK_STARTED, {"response_id": "r1", "item_id": "a1"}))
    rec(
        EventRecord(t, 1.7e9 + t, "local", Local.SPEAKER_AUDIO, {"samples": BLOCK, "rate": RATE}, mic[:BLOCK].tobytes())
    )
    rec.close()
    return folder


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = write_recording(tmp_path_factory.mktemp("rec") / "good")
    loaded = Recording.load(folder)
    assert len(loaded.mic) > 0 and len(loaded.events) > 10
    return folder


def load_or_clear_error(folder: Path) -> Recording | None:
    """Load; any failure must be a clear error naming the folder or file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rec = Recording.load(folder)
    except CLEAR_ERRORS as exc:
        text = str(exc)
        assert folder.name in text or any(name in text for name in FILES), text
        return None
    # a loaded recording must be usable
    assert rec.duration >= 0
    rec.summary()
    repr(rec)
    rec.event_table()
    return rec


damage = st.tuples(
    st.sampled_from(FILES),
    st.sampled_from(["truncate", "overwrite", "replace"]),
    st.floats(0, 1),
    st.binary(min_size=1, max_size=64),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damage)
def test_any_damaged_file_loads_or_fails_clearly(
    pristine: Path, tmp_path_factory: pytest.TempPathFactory, hit: tuple[str, str, float, bytes]
) -> None:
    name, how, where, junk = hit
    folder = tmp_path_factory.mktemp("bad") / "rec"
    shutil.copytree(pristine, folder)
    path = folder / name
    raw = path.read_bytes()
    at = int(where * len(raw))
    if how == "truncate":
        path.write_bytes(raw[:at])
    elif how == "overwrite":
        path.write_bytes(raw[:at] + junk + raw[at + len(junk) :])
    else:
        path.write_bytes(junk)
    load_or_clear_error(folder)


@pytest.mark.parametrize(
    "events_text",
    [
        "[]\n",
        "123\n",
        '"text"\n',
        "null\n",
        '{"t": "soon", "type": "x"}\n',
        '{"type": "response.done"}\n',
        '{"t": 1.0}\n',
        '{"t": 1.0, "type": 5, "data": [1, 2]}\n',
        '{"t": 1.0, "type": "mic.audio", "data": {"rate": 0}, "audio": {"track": "mic"}}\n',
        '{"t": 1.0, "type": "mic.audio", "data": null, "audio": {"track": "mic", "offset": "x", "samples": 1}}\n',
        '{"t": 1e308, "wall": -1, "kind": "server", "type": "response.created", "data": {"response": 7}}\n',
    ],
)
def test_valid_json_of_the_wrong_shape_in_events(tmp_path: Path, pristine: Path, events_text: str) -> None:
    folder = tmp_path / "rec"
    shutil.copytree(pristine, folder)
    (folder / "events.jsonl").write_text(events_text)
    (folder / "session.json").unlink()
    load_or_clear_error(folder)


@pytest.mark.parametrize(
    "session_text", ["[]", "null", "7", '{"t0": "x"}', '{"config": 5}', '{"t0": null, "config": []}', "{"]
)
def test_valid_json_of_the_wrong_shape_in_session(tmp_path: Path, pristine: Path, session_text: str) -> None:
    folder = tmp_path / "rec"
    shutil.copytree(pristine, folder)
    (folder / "session.json").write_text(session_text)
    load_or_clear_error(folder)


def test_wav_with_a_zero_rate_or_wrong_format(tmp_path: Path, pristine: Path) -> None:
    import struct

    for fmt, channels, rate, bits in [(1, 1, 0, 16), (3, 1, 24000, 32), (1, 0, 24000, 16), (1, 1, 24000, 8)]:
        folder = tmp_path / f"rec{fmt}{channels}{rate}{bits}"
        shutil.copytree(pristine, folder)
        path = folder / "mic.wav"
        raw = bytearray(path.read_bytes())
        struct.pack_into("<HHI", raw, 20, fmt, channels, rate)
        struct.pack_into("<H", raw, 34, bits)
        path.write_bytes(bytes(raw))
        load_or_clear_error(folder)


def test_missing_folder_and_folder_without_events(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="events.jsonl"):
        Recording.load(tmp_path / "nothing-here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="events.jsonl"):
        Recording.load(tmp_path / "empty")


def test_only_events_survive(tmp_path: Path, pristine: Path) -> None:
    folder = tmp_path / "rec"
    folder.mkdir()
    shutil.copy(pristine / "events.jsonl", folder / "events.jsonl")
    rec = load_or_clear_error(folder)
    assert rec is not None and len(rec.events) > 10


def test_a_recorder_folder_is_never_reused(pristine: Path) -> None:
    with pytest.raises(FileExistsError, match="already holds a recording"):
        Recorder(pristine)
    assert json.loads((pristine / "session.json").read_text())["format"] == 1


@pytest.mark.parametrize("name", ["mic.wav", "assistant.wav"])
def test_wav_cut_inside_its_header(tmp_path: Path, pristine: Path, name: str) -> None:
    raw = (pristine / name).read_bytes()
    for cut in range(0, 60):
        folder = tmp_path / f"cut{cut}"
        shutil.copytree(pristine, folder)
        (folder / name).write_bytes(raw[:cut])
        load_or_clear_error(folder)
