"""The Panel's widgets without a kernel: built, fed records, refreshed, and driving a real session.

ipywidgets work without a frontend (their comm goes nowhere), so these tests check what
the widgets hold.  The live test runs a real VoiceSession on the embedded emulator with
the headless WAV mic; the panel is refreshed by hand, as a script would.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from voicelive_nb.config import SessionConfig
from voicelive_nb.events import EventRecord, Local

from .test_panel_state import one_turn, rec


@pytest.fixture
def no_azure(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in ("AZURE_VOICELIVE_ENDPOINT", "AZURE_VOICELIVE_API_KEY", "AZURE_VOICELIVE_AUTH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env; recordings land in tmp_path


def make_panel(**kwargs: Any) -> Any:
    from voicelive_nb.panel import Panel

    return Panel(**kwargs)


def test_panel_builds_with_defaults_and_shows_idle(no_azure: None) -> None:
    panel = make_panel()
    assert panel.session is None
    assert "Not connected" in panel._status.value
    assert panel.c.connect.description == "Connect"
    assert panel.c.endpoint.value == "local emulator"
    assert panel.c.api_key.value == ""
    assert panel.c.fields["silence_duration_ms"].value == 500
    assert panel.c.fields["speech_duration_ms"].disabled  # server_vad takes no speech duration
    assert panel.config.transcription_model == "azure-speech"  # so the transcript shows the user
    assert panel.chart.draws == 1
    panel.close()


def test_refresh_projects_records_into_widgets(no_azure: None) -> None:
    panel = make_panel()
    panel.state.feed(rec(1, "local", Local.CONNECTION, state="connected", endpoint="ws://127.0.0.1:9"))
    panel.state.feed_many(one_turn(cancelled=True))
    panel.state.feed(rec(12.0, "local", Local.MIC_AUDIO, rms_db=-23.0, peak_db=-12.0))
    panel.refresh()
    assert "Connected to ws://127.0.0.1:9" in panel._status.value
    assert panel.c.connect.description == "Disconnect"
    assert "hello there" in panel._transcript.value
    assert "interrupted" in panel._transcript.value
    assert "-23 dBFS" in panel._meters.value
    assert "user speaking" in panel._meters.value
    assert "device output ms: <b>40</b>" in panel._counters.value
    panel.close()


def test_refresh_sends_nothing_when_nothing_changed(no_azure: None) -> None:
    panel = make_panel()
    panel.refresh()
    before = panel.widget_updates
    for _ in range(50):
        panel.refresh()
    assert panel.widget_updates == before
    panel.close()


def test_html_from_the_server_is_escaped(no_azure: None) -> None:
    panel = make_panel()
    panel.state.feed(
        rec(1, "server", "conversation.item.input_audio_transcription.completed", item_id="u", transcript="<b>x</b>")
    )
    panel.refresh()
    assert "<b>x</b>" not in panel._transcript.value and "&lt;b&gt;x&lt;/b&gt;" in panel._transcript.value
    panel.close()


def test_vad_changes_before_connect_are_kept_for_connect(no_azure: None) -> None:
    panel = make_panel(debounce_s=0)
    panel.c.fields["silence_duration_ms"].value = 900
    panel.c.fields["type"].value = "azure_semantic_vad"
    assert not panel.c.fields["speech_duration_ms"].disabled
    panel.c.fields["end_of_utterance_detection"].value = "low"
    cfg = panel.config
    assert cfg.turn_detection.silence_duration_ms == 900
    assert cfg.turn_detection.type == "azure_semantic_vad"
    assert cfg.turn_detection.end_of_utterance_detection.threshold_level == "low"
    assert "used on connect" in panel.c.badges["silence_duration_ms"].value
    panel.close()


def test_set_vad_refuses_unknown_and_bad_values_with_the_reason(no_azure: None) -> None:
    panel = make_panel(debounce_s=0)
    with pytest.raises(ValueError, match="unknown setting"):
        panel.set_vad(silence=3)
    with pytest.raises(ValueError, match="voice"):
        panel.set_vad(voice="not a voice")
    assert "voice" in panel.c.badges["voice"].value and "✗" in panel.c.badges["voice"].value
    assert panel.config.voice.name != "not a voice"
    # out of range: a ValueError naming the field and its range (it used to return None, so the
    # quickstart's `panel.set_vad(...).result()` failed with AttributeError), shown refused
    for bad in (2, -1):
        with pytest.raises(ValueError, match=r"threshold=.* not valid: expected a number with 0\.01 <="):
            panel.set_vad(threshold=bad)
        assert "✗" in panel.c.badges["threshold"].value
    assert panel.config.turn_detection.threshold == 0.5
    # not connected: a settled result, so the same code works before connecting
    result = panel.set_vad(threshold=0.7).result(timeout=1)
    assert result.ok and "used on connect" in str(result.detail)
    assert panel.config.turn_detection.threshold == 0.7
    panel.close()


def test_given_session_locks_connection_fields(no_azure: None) -> None:
    from voicelive_nb.session import VoiceSession

    session = VoiceSession(SessionConfig().with_vad(silence_duration_ms=700))
    panel = make_panel(session=session)
    assert panel.session is session
    assert panel.c.endpoint.disabled and panel.c.model.disabled
    assert panel.c.fields["silence_duration_ms"].value == 700
    panel.close()


@pytest.mark.timeout(180)
def test_live_session_through_the_panel(no_azure: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Connect, a turn, a live VAD change acknowledged, a recording, disconnect -- all via the panel API."""
    monkeypatch.setenv("VOICELIVE_NB_HEADLESS", "1")
    panel = make_panel(record_dir=tmp_path / "rec", debounce_s=0)
    panel.c.api_key.value = "typed-secret-key"  # ignored by the emulator, must not linger
    panel.record(True)
    panel.connect()
    try:
        assert panel.c.api_key.value == "", "the typed key must leave the widget state on connect"
        session = panel.session

        def completed(r: EventRecord) -> bool:
            return r.get("response", {}).get("status") == "completed"

        session.wait_for("response.done", timeout=90, predicate=completed, since=0)
        deadline = time.monotonic() + 30
        while "assistant" not in panel._transcript.value and time.monotonic() < deadline:
            panel.refresh()
            time.sleep(0.05)
        lines = panel.state.snapshot(time.monotonic()).transcript
        assert any(line.role == "assistant" and line.text for line in lines), lines
        panel.c.fields["silence_duration_ms"].value = 750  # as if the slider moved
        session.wait_for(Local.COMMAND, timeout=10, since=0)
        deadline = time.monotonic() + 5
        while "applied" not in panel.c.badges["silence_duration_ms"].value and time.monotonic() < deadline:
            panel.refresh()
            time.sleep(0.05)
        assert "applied" in panel.c.badges["silence_duration_ms"].value
        assert session.config.turn_detection.silence_duration_ms == 750
        assert panel.chart.draws >= 2
    finally:
        panel.disconnect()
    snap = panel.refresh()
    assert snap.connection == "closed"
    folders = list((tmp_path / "rec").glob("*/events.jsonl"))
    assert len(folders) == 1
    text = folders[0].read_text()
    assert "typed-secret-key" not in text and "session.updated" in text
    panel.close()


def test_records_from_a_recording_replay_into_the_state() -> None:
    """PanelState is fed the same way from a loaded recording (records are the contract)."""
    from voicelive_nb.panel.state import PanelState

    st = PanelState()
    st.feed_many(EventRecord(r.t, r.wall, r.kind, r.type, r.data) for r in one_turn())
    assert len(st.snapshot(20).transcript) == 2


@pytest.mark.timeout(120)
def test_panel_attached_to_a_running_session_shows_it(no_azure: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A session started in code first, the panel made afterwards: it shows the live state and controls it."""
    from voicelive_nb.session import VoiceSession

    monkeypatch.setenv("VOICELIVE_NB_HEADLESS", "1")
    with VoiceSession() as session:
        session.wait_for("session.updated", timeout=30, since=0)
        panel = make_panel(session=session, debounce_s=0)
        snap = panel.refresh()
        assert snap.connection == "connected" and panel.c.connect.description == "Disconnect"
        future = panel.set_vad(threshold=0.6)
        assert future.result(timeout=10).ok
        assert session.config.turn_detection.threshold == 0.6
        sent = len(session.records("session.update"))
        with pytest.raises(ValueError, match="threshold"):
            panel.set_vad(threshold=2)
        assert len(session.records("session.update")) == sent  # refused before anything was sent
        assert session.config.turn_detection.threshold == 0.6
        panel.close()  # closing the panel leaves a session it did not build running
        assert session.running


def test_connect_without_a_key_for_azure_says_what_to_do(no_azure: None) -> None:
    """A typed Azure endpoint with no key: nothing starts, and the status line names the fix."""
    panel = make_panel()
    panel.c.endpoint.value = "https://example.services.ai.azure.com"
    panel.connect()
    snap = panel.refresh()
    assert panel.session is None
    assert "no API key" in snap.error and "AZURE_VOICELIVE_API_KEY" in snap.error
    assert "Could not connect" in panel._status.value
    panel.close()


@pytest.mark.timeout(120)
def test_reconnect_keeps_one_turn_history(no_azure: None, tmp_path: Any) -> None:
    """The transcript keeps the turns of an earlier connection; so does the chart, numbered on
    (it used to restart at turn 1 while the transcript went on)."""
    import numpy as np

    from voicelive_nb.audio.wav import CaptureSpeaker, write_wav
    from voicelive_nb.connection import ConnectionSettings
    from voicelive_nb.emulator import Emulator

    silence = write_wav(tmp_path / "silence.wav", np.zeros(24000, dtype=np.int16), 24000)
    with Emulator(asr=False) as emu:
        panel = make_panel(
            connection=ConnectionSettings(endpoint=emu.endpoint, api_key="k"),
            mic=str(silence),
            speaker=CaptureSpeaker(),
        )
        try:
            for text in ("first", "second"):
                panel.connect()
                session = panel.session
                session.wait_for("session.updated", timeout=30, since=0)
                session.send_text(text)
                session.wait_for("response.done", timeout=30, since=0)
                panel.refresh()
                panel.disconnect()
            snap = panel.refresh()
        finally:
            panel.close()
    assert [t.index for t in panel._control.turns()] == [1, 2]
    assert [t.index for t in snap.turns] == [1, 2]
    assert [t.index for t in panel.session.tracker.turns] == [1]  # the session's own tracker is untouched
    answers = [line.text for line in snap.transcript if line.role == "assistant"]
    assert len(answers) == 2, snap.transcript  # the transcript has both connections' answers too


def test_an_unset_setting_shows_the_service_default_as_a_default(no_azure: None) -> None:
    """speech_duration_ms=None is shown as "80 (service default)", not as a plain 80."""
    panel = make_panel(config=SessionConfig().with_vad(type="azure_semantic_vad"), debounce_s=0)
    assert panel.config.turn_detection.speech_duration_ms is None
    assert panel.c.fields["speech_duration_ms"].value == 80
    panel.refresh()
    assert "(service default)" in panel.c.badges["speech_duration_ms"].value
    assert "service default" not in panel.c.badges["silence_duration_ms"].value  # set: no mark
    # the server's answer decides: set there -> no mark; left out -> marked again
    session = {"turn_detection": {"type": "azure_semantic_vad", "speech_duration_ms": 120}}
    panel.state.feed(rec(1, "server", "session.updated", session=session))
    panel.refresh()
    panel.refresh()  # the marks follow the values on the next refresh (20 Hz)
    assert panel.c.fields["speech_duration_ms"].value == 120
    assert "service default" not in panel.c.badges["speech_duration_ms"].value
    panel.state.feed(rec(2, "server", "session.updated", session={"turn_detection": {"type": "azure_semantic_vad"}}))
    panel.refresh()
    panel.refresh()
    assert "(service default)" in panel.c.badges["speech_duration_ms"].value
    # a change the user makes replaces the mark
    panel.set_vad(speech_duration_ms=200)
    panel.refresh()
    assert "used on connect" in panel.c.badges["speech_duration_ms"].value


def _widgets(root: Any, match: Any) -> list[Any]:
    """Every widget under ``root`` (depth first) that ``match`` accepts."""
    found = [root] if match(root) else []
    for child in getattr(root, "children", ()):
        found += _widgets(child, match)
    return found


def test_audio_selector_switches_between_devices_and_the_browser(
    no_azure: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voicelive_nb.audio.browser import BrowserMic, BrowserSpeaker

    with pytest.raises(ValueError, match="'auto', 'local', 'browser'"):
        make_panel(audio="speakers")
    monkeypatch.setenv("VOICELIVE_NB_AUDIO", "browser")  # (auto's override; else: is there a local mic?)
    panel = make_panel()
    assert panel.audio == "browser"
    links = _widgets(panel.widget, lambda w: hasattr(w, "link_id"))
    assert len(links) == 1 and links[0].layout.display is None  # the page's strip is shown ...
    assert panel.c.mic.layout.display == "none" == panel.c.speaker.layout.display  # ... not the pickers
    panel._control.build_session()
    assert isinstance(panel.session._mic, BrowserMic) and isinstance(panel.session._speaker, BrowserSpeaker)
    panel.c.audio.value = "local"
    assert panel.audio == "local" and links[0].layout.display == "none" and panel.c.mic.layout.display is None
    panel._control.build_session()
    assert panel.session._mic is None  # the default device (the picker's 'default')
    panel.close()
    monkeypatch.setenv("VOICELIVE_NB_AUDIO", "")
    monkeypatch.setenv("VOICELIVE_NB_HEADLESS", "1")
    panel = make_panel()
    assert panel.audio == "local"  # headless runs use WAV prompts
    panel.close()


def test_the_audio_section_and_the_tool_switches_follow_the_state_at_refresh(
    no_azure: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audio choice and a tool switch's wish are state; only the panel's refresh writes
    their widgets (and its own writes are not taken for the user's)."""

    def get_weather(city: str) -> str:
        """The weather now in a city."""
        return "sunny"

    monkeypatch.setenv("VOICELIVE_NB_AUDIO", "local")
    panel = make_panel(tools=[get_weather])
    assert panel.audio == "local" and panel.c.audio.value == "local" and panel.c.mic.layout.display is None
    panel._audio.choose("browser")  # the state changes ...
    assert panel.c.audio.value == "local" and panel.c.mic.layout.display is None  # ... the widgets wait
    assert not _widgets(panel.widget, lambda w: hasattr(w, "link_id"))
    panel.refresh()
    links = _widgets(panel.widget, lambda w: hasattr(w, "link_id"))
    assert panel.c.audio.value == "browser" and panel.c.mic.layout.display == "none" == panel.c.speaker.layout.display
    assert len(links) == 1 and links[0].layout.display is None
    panel._audio.choose("local")
    panel.refresh()
    assert panel.c.audio.value == "local" and panel.c.mic.layout.display is None and links[0].layout.display == "none"

    panel._control.build_session()  # (not started: its tools are on)
    switch = panel._tools.switches["get_weather"]
    panel.state.wish_tool("get_weather", False)  # a switch sent, not answered yet
    assert switch.value
    panel.refresh()
    assert not switch.value and panel.session.tools == {"get_weather": True}  # shown, not sent again
    panel.state.settle_tool("get_weather")  # answered: the session's state shows
    panel.refresh()
    assert switch.value
    panel.close()


def test_a_typed_value_out_of_range_is_refused_not_clamped(no_azure: None) -> None:
    """Typing 2 into the threshold box: refused with the range, and the box goes back (a slider's
    own readout clamped it to 0.99 and called it "used on connect")."""
    panel = make_panel(debounce_s=0)
    box = panel.c.boxes["threshold"]
    for typed in (2.0, -1.0):
        box.value = typed  # as if typed into the box
        panel.refresh()
        badge = panel.c.badges["threshold"].value
        assert "✗" in badge and "threshold" in badge and "used on connect" not in badge, badge
        assert "0.01 &lt;= turn_detection.threshold &lt; 1.0" in panel._status.value  # HTML-escaped
        assert box.value == 0.5 and panel.c.fields["threshold"].value == 0.5
    assert panel.config.turn_detection.threshold == 0.5
    box.value = 0.7  # in range: taken, and the slider follows
    panel.refresh()
    assert panel.config.turn_detection.threshold == 0.7 and panel.c.fields["threshold"].value == 0.7
    assert "used on connect" in panel.c.badges["threshold"].value
    panel.c.fields["silence_duration_ms"].value = 800  # the slider moved: its box follows
    assert panel.c.boxes["silence_duration_ms"].value == 800
    panel.close()


def test_tool_switches_and_approval_buttons_drive_the_session(no_azure: None) -> None:
    """The tools row: a switch turned off by the user switches the tool off live (acknowledged);
    Approve answers the MCP approval request the session waits on, then the buttons go grey."""
    import numpy as np

    from tests.mcp_server import serve_mcp
    from voicelive_nb.audio.wav import CaptureSpeaker, WavMic

    def get_weather(city: str) -> str:
        """The weather now in a city."""
        return "sunny"

    def until(condition: Any, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            panel.refresh()
            time.sleep(0.02)

    with serve_mcp() as server:
        orders = {"type": "mcp", "server_label": "orders", "server_url": server.url, "require_approval": "always"}
        panel = make_panel(config=SessionConfig(parallel_tool_calls=False), tools=[get_weather, orders],
                           mic=WavMic(np.zeros(4800, dtype=np.int16), loop=True), speaker=CaptureSpeaker())  # fmt: skip
        switches, (approve, refuse) = panel._tools.switches, panel._tools.buttons
        assert list(switches) == ["get_weather", "orders"] and approve.disabled and refuse.disabled
        panel.connect()
        try:
            session = panel.session
            session.wait_for("mcp_list_tools.completed", timeout=30, since=0)
            switches["get_weather"].value = False  # the user turns it off
            until(lambda: session.tools == {"get_weather": False, "orders": True}, "the switch-off to be acknowledged")
            assert not switches["get_weather"].value and session.records(Local.COMMAND)[-1].data["ok"]
            mark = time.monotonic()
            session.send_text("Please look up order 5")
            until(lambda: not approve.disabled, "the Approve button to light up")
            approve.click()
            done = session.wait_for("response.audio_transcript.done", timeout=30, since=mark,
                                    predicate=lambda r: bool(r.data.get("transcript")))  # fmt: skip
            until(lambda: approve.disabled and refuse.disabled, "the buttons to go grey again")
        finally:
            panel.disconnect()
            panel.close()
    assert done.data["transcript"] == "Lookup order says: order 5 shipped."
    [approval] = [r.data for r in session.records(Local.TOOL_APPROVAL)]
    assert (approval["name"], approval["approve"], approval["by"]) == ("lookup_order", True, "user")
