"""API keys never reach logs, records, files, notebook outputs or exception text.

A full session runs with a known fake key against an emulator that requires it, with every
logger (ours, the SDK's ``azure``, ``aiohttp``, ``asyncio``) at DEBUG; then every byte that
was written -- the log, ``events.jsonl``, ``session.json``, both WAVs, the records' reprs,
exception messages -- is scanned for the key (plain and base64).  A notebook run through
nbclient (kernel, widgets, tracebacks) is scanned the same way.  The emulator binds
loopback by default and, with a key set, refuses handshakes without it.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import pickle
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from voicelive_nb.audio.wav import CaptureSpeaker, WavMic
from voicelive_nb.connection import ConnectionSettings, Secret
from voicelive_nb.events import Local
from voicelive_nb.session import VoiceSession

from .conftest import silence

KEY = "fake-key-7f3a9c1e5b2d4680aceg"
WRONG = "wrong-key-0b1c2d3e4f5a6978zz"
NEEDLES = [KEY, WRONG, base64.b64encode(KEY.encode()).decode(), KEY[4:20]]
LOGGERS = ["", "voicelive_nb", "azure", "azure.ai.voicelive", "aiohttp", "asyncio", "urllib3"]


def leaks(blob: bytes | str) -> list[str]:
    data = blob.encode("utf-8", "surrogateescape") if isinstance(blob, str) else blob
    return [n for n in NEEDLES if n.encode() in data]


@pytest.fixture(scope="module")
def locked_emulator() -> Iterator[Any]:
    from voicelive_nb.emulator import Emulator, EmulatorSettings

    with Emulator(api_key=KEY, settings=EmulatorSettings(transcribe_for_responder=False), asr=False) as emu:
        yield emu


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """Everything every logger says, at DEBUG, into one buffer."""
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    saved = {name: logging.getLogger(name).level for name in LOGGERS}
    root = logging.getLogger()
    root.addHandler(handler)
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield buf
    finally:
        root.removeHandler(handler)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.speech import speech_wav as write

    path = tmp_path_factory.mktemp("speech") / "turn.wav"
    write(path, [0.3, "Hello there, can you hear me?", 2.5])
    return path


def test_a_full_session_writes_the_key_nowhere(
    locked_emulator: Any, debug_log: io.StringIO, speech_wav: Path, tmp_path: Path
) -> None:
    connection = ConnectionSettings(endpoint=locked_emulator.endpoint, api_key=KEY)
    session = VoiceSession(
        connection=connection, mic=WavMic(str(speech_wav)), speaker=CaptureSpeaker(max_s=30), record=tmp_path / "rec"
    )
    texts: list[str] = [repr(connection), str(connection), f"{connection}", json.dumps(connection.describe())]
    with session:
        session.wait_for(Local.PLAYBACK_STOPPED, timeout=60, since=0)
        assert session.update_vad(silence_duration_ms=650).result(timeout=15).ok
        ready = session.wait_for("session.updated", timeout=5, since=0)
        session.send_text("Say something else.")
        session.wait_for("response.created", timeout=20, since=ready.t)
        session.cancel_response()
        session.wait_for("response.done", timeout=20, since=ready.t)
        texts += [repr(session), repr(session.config), repr(session.counters)]
    assert locked_emulator.total_connections >= 1  # the right key was accepted
    assert session.state == "closed"
    records = session.records()
    assert any(r.type == "response.audio.delta" for r in records)
    texts += [repr(r.data) for r in records] + [r.type for r in records]
    # exceptions' text
    for bad in (
        lambda: ConnectionSettings(endpoint="ftp://nowhere", api_key=KEY),
        lambda: ConnectionSettings(endpoint="https://", api_key=KEY),
        lambda: pickle.dumps(connection),
        lambda: pickle.dumps(Secret(KEY)),
    ):
        with pytest.raises(Exception) as info:  # any exception: its text is what matters
            bad()
        texts += [str(info.value), repr(info.value), str(info.getrepr())]
    found = {f"text {i}": leaks(t) for i, t in enumerate(texts) if leaks(t)}
    log_text = debug_log.getvalue()
    assert "azure.ai.voicelive" in log_text or "Connecting to" in log_text, "the SDK's DEBUG log was not captured"
    assert "Received websocket text message" in log_text or "aiohttp" in log_text
    if leaks(log_text):
        line = next(x for x in log_text.splitlines() if leaks(x))
        found["DEBUG log"] = [line[:200]]
    for path in sorted((tmp_path / "rec").rglob("*")):
        if path.is_file() and leaks(path.read_bytes()):
            found[str(path.name)] = leaks(path.read_bytes())
    assert {p.name for p in (tmp_path / "rec").iterdir()} >= {"events.jsonl", "session.json", "mic.wav"}
    assert not found, f"the API key leaked: {found}"


def test_a_refused_key_is_not_echoed_in_errors_or_logs(locked_emulator: Any, debug_log: io.StringIO) -> None:
    session = VoiceSession(
        connection=ConnectionSettings(endpoint=locked_emulator.endpoint, api_key=WRONG),
        mic=WavMic(silence(), loop=True),
        speaker=CaptureSpeaker(max_s=1),
        max_failures=2,
    )
    with session:
        failed = session.wait_for(Local.CONNECTION, timeout=30, since=0, predicate=lambda r: r.get("state") == "failed")
    assert "401" in failed.get("detail")
    everything = debug_log.getvalue() + "".join(repr(r.data) for r in session.records())
    assert not leaks(everything), leaks(everything)


def test_emulator_binds_loopback_and_refuses_handshakes_without_the_key(locked_emulator: Any) -> None:
    import asyncio

    assert locked_emulator.host == "127.0.0.1"
    # nothing listens on the machine's other addresses
    with socket.socket() as s:
        s.settimeout(2)
        other = socket.gethostbyname(socket.gethostname())
        if not other.startswith("127."):
            assert s.connect_ex((other, locked_emulator.port)) != 0
    url = locked_emulator.endpoint.replace("http", "ws") + "/voice-live/realtime?model=gpt-realtime"

    async def handshake(headers: dict[str, str]) -> int:
        async with aiohttp.ClientSession() as http:
            try:
                async with http.ws_connect(url, headers=headers) as ws:
                    await ws.close()
                    return 101
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status

    assert asyncio.run(handshake({})) == 401
    assert asyncio.run(handshake({"api-key": WRONG})) == 401
    assert asyncio.run(handshake({"Authorization": f"Bearer {WRONG}"})) == 401
    assert asyncio.run(handshake({"api-key": KEY})) == 101


def test_emulator_refuses_an_empty_key() -> None:
    from voicelive_nb.emulator import Emulator

    with pytest.raises(ValueError, match="api_key"):
        Emulator(api_key="")


NOTEBOOK_CELLS = [
    "import logging, os, sys\nlogging.basicConfig(level=logging.DEBUG, stream=sys.stdout, force=True)",
    "from voicelive_nb import ConnectionSettings, VoiceSession\nsettings = ConnectionSettings.resolve()\nsettings",
    "print(settings, settings.describe(), os.environ.get('AZURE_VOICELIVE_ENDPOINT'))",
    (
        "from voicelive_nb.audio.wav import CaptureSpeaker, WavMic\n"
        "session = VoiceSession(mic=WavMic(os.environ['TURN_WAV']), speaker=CaptureSpeaker(max_s=5),"
        " record=os.environ['REC_DIR'])\n"
        "session.start()\n"
        "session.wait_for('session.updated', timeout=60, since=0)"
    ),
    "session.send_text('hello')\nsession.wait_for('response.done', timeout=60, since=0)",
    "session.records()[-40:]",
    "session.stop()\nsession.state, session.counters",
    "from voicelive_nb import Panel\npanel = Panel(mic=os.environ['TURN_WAV'], speaker=os.environ['OUT_WAV'])\n"
    "panel.c.api_key.value = os.environ['AZURE_VOICELIVE_API_KEY']\npanel.c.endpoint.value = "
    "os.environ['AZURE_VOICELIVE_ENDPOINT']\npanel.connect()\npanel.session.wait_for('session.updated', 60, since=0)\n"
    "panel",
    "panel.refresh(); panel.disconnect(); panel.state.snapshot(0).connection",
    "ConnectionSettings(endpoint='ftp://x', api_key=os.environ['AZURE_VOICELIVE_API_KEY'])",
]


def test_notebook_outputs_and_widget_state_never_hold_the_key(
    locked_emulator: Any, speech_wav: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in NOTEBOOK_CELLS]
    env = {
        "AZURE_VOICELIVE_ENDPOINT": locked_emulator.endpoint,
        "AZURE_VOICELIVE_API_KEY": KEY,
        "TURN_WAV": str(speech_wav),
        "REC_DIR": str(tmp_path / "rec"),
        "OUT_WAV": str(tmp_path / "out.wav"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        store_widget_state=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    path = tmp_path / "run.ipynb"
    nbformat.write(nb, str(path))
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    # only the last cell fails, on purpose (bad endpoint), with a clear message
    assert len(errors) == 1 and "endpoint" in errors[0]["evalue"], [e.get("evalue") for e in errors]
    text = path.read_text()
    assert "session.updated" in text and "Connecting to" in text  # the DEBUG log and records were shown
    assert "widgets" in json.dumps(nb.metadata)  # the widget state was saved too
    assert not leaks(text), leaks(text)
    for f in sorted((tmp_path / "rec").rglob("*")):
        assert not leaks(f.read_bytes()), f


def test_a_key_given_in_code_is_masked_even_if_a_record_echoes_it(locked_emulator: Any, tmp_path: Path) -> None:
    """Defence in depth: should anything ever put the key into a record (a server echoing a
    header in an error, a user's observer), the recording masks the key the session was given."""
    from voicelive_nb.events import EventRecord

    connection = ConnectionSettings(endpoint=locked_emulator.endpoint, api_key=KEY)  # not from the environment
    session = VoiceSession(
        connection=connection, mic=WavMic(silence(1.0)), speaker=CaptureSpeaker(max_s=5), record=tmp_path / "rec"
    )
    with session:
        session.wait_for("session.updated", timeout=30, since=0)
        session.bus.publish(EventRecord.now("local", Local.ERROR, {"message": f"server said: bad key {KEY}"}))
        session.bus.flush()
    events = (tmp_path / "rec" / "events.jsonl").read_text()
    assert "server said: bad key" in events, "the echoing record was recorded"
    for path in (tmp_path / "rec").rglob("*"):
        if path.is_file():
            assert not leaks(path.read_bytes()), f"{path.name} holds the key"
