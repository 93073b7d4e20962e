"""SessionControl alone: the panel's session side, built without a Panel or its widget tree.

Real parts only: a real PanelState, the real controls of ``widgets.build_controls`` (ipywidgets
work without a frontend), a real AudioChoice, and a refresh that counts its calls (the panel's
refresh is the one writer of widgets; the control only asks for it).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from voicelive_nb.config import SessionConfig
from voicelive_nb.panel.audio import AudioChoice
from voicelive_nb.panel.control import SessionControl
from voicelive_nb.panel.state import PanelState
from voicelive_nb.panel.widgets import build_controls


class Refreshes:
    """A refresh callable that counts the calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


def make_control(debounce_s: float = 0.0, **kwargs: Any) -> tuple[SessionControl, Refreshes]:
    config = SessionConfig()
    controls, conn_box, _vad_box = build_controls(config, None, "local")
    refresh = Refreshes()
    state = PanelState()
    control = SessionControl(
        state,
        controls,
        refresh,
        audio=AudioChoice(controls, conn_box, "local"),
        config=config,
        debounce_s=debounce_s,
        **kwargs,
    )
    return control, refresh


def test_a_refused_set_vad_raises_shows_why_and_asks_for_a_refresh() -> None:
    control, refresh = make_control()
    with pytest.raises(ValueError, match=r"threshold=.* not valid"):
        control.set_vad(threshold=2)
    assert refresh.calls == 1
    field = control.state.snapshot(0).fields["threshold"]
    assert field.state == "error" and "threshold" in field.detail
    assert control.state.snapshot(0).error  # the status line says it too
    assert control.take_shown() == {"threshold": 0.5}  # the control goes back to the value in force
    assert control.take_shown() == {}  # (taken once)
    assert control.config.turn_detection.threshold == 0.5
    assert control.c.fields["threshold"].value == 0.5  # no widget written here
    with pytest.raises(ValueError, match="unknown setting"):
        control.set_vad(silence=3)
    assert refresh.calls == 1  # (an unknown name is refused before anything is shown)


def test_control_changes_are_debounced_into_one_pending_change() -> None:
    control, refresh = make_control(debounce_s=0.05)

    async def move_the_controls() -> dict[str, Any]:
        control.change("threshold", 0.6)
        control.change("silence_duration_ms", 800)
        control.change("threshold", 0.7)  # the same control again: its last value counts
        pending = dict(control.pending)
        await asyncio.sleep(0.2)
        return pending

    pending = asyncio.run(move_the_controls())
    assert pending == {"threshold": 0.7, "silence_duration_ms": 800}
    assert dict(control.pending) == {}
    assert refresh.calls == 1  # applied once, as one change
    vad = control.config.turn_detection
    assert (vad.threshold, vad.silence_duration_ms) == (0.7, 800)
    fields = control.state.snapshot(0).fields
    assert fields["threshold"].detail == fields["silence_duration_ms"].detail == "used on connect"
    assert control.take_shown() == {"threshold": 0.7, "silence_duration_ms": 800}


def test_the_vad_type_asks_for_a_refresh_at_once() -> None:
    """speech_duration_ms is for semantic VAD only: the panel greys it out at that refresh."""
    control, refresh = make_control(debounce_s=0)  # 0: applied at once, without a loop
    control.change("type", "azure_semantic_vad")
    assert refresh.calls == 2  # the change applied, then the type's own refresh
    assert control.config.turn_detection.type == "azure_semantic_vad"


def test_a_typed_key_is_taken_into_memory_and_the_box_is_to_be_emptied(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("AZURE_VOICELIVE_ENDPOINT", "AZURE_VOICELIVE_API_KEY", "AZURE_VOICELIVE_AUTH"):
        monkeypatch.delenv(name, raising=False)
    control, refresh = make_control()
    assert control.session is None and control.own_session
    assert control.record(True) is None  # not connected: recorded from connect on
    assert control.recording and control.recorder is None
    control.c.api_key.value = "typed-secret-key"
    control.build_session()  # (not started)
    assert control.session is not None
    assert control.c.api_key.value == "typed-secret-key"  # the panel's refresh empties it ...
    assert control.take_key_clear() and not control.take_key_clear()  # ... asked once
    assert refresh.calls == 0
    control.close()
