"""The panel's input controls and views: building the widgets (no session, no threads).

What their values mean as settings is :mod:`voicelive_nb.panel.mapping`; the
:class:`~voicelive_nb.panel.Panel` wires them to commands.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from voicelive_nb.config import SessionConfig
from voicelive_nb.panel.mapping import LIVE_FIELDS, SERVICE_DEFAULTS, VAD_FIELDS
from voicelive_nb.schema import NOISE_REDUCTION_TYPES, OPENAI_VOICES, TURN_DETECTION_TYPES

__all__ = ["DEFAULT_DEVICE", "EMULATOR_LABEL", "NUMERIC_FIELDS", "Controls", "Views", "build_controls", "build_views"]

EMULATOR_LABEL = "local emulator"
DEFAULT_DEVICE = "default"
"""Device picker value meaning: the session's default (a device, or WAV/capture when headless)."""

NUMERIC_FIELDS: tuple[str, ...] = ("threshold", "prefix_padding_ms", "silence_duration_ms", "speech_duration_ms")
"""The live controls that are sliders (each with a typed box beside it)."""

_EOU_LEVELS = (("off", ""), ("low", "low"), ("medium", "medium"), ("high", "high"), ("default", "default"))
_NOISE = (("off", ""), *((name.replace("_", " "), name) for name in NOISE_REDUCTION_TYPES))
_ECHO = (
    ("server (the service)", "server"),
    ("local (this computer)", "local"),
    ("both", "both"),
    ("off (headphones)", "off"),
)
_AUTH = (("API key", "key"), ("Azure CLI (az login)", "azure-cli"), ("DefaultAzureCredential", "default"))
_VOICES = ("en-US-Ava:DragonHDLatestNeural", "en-US-Andrew:DragonHDLatestNeural", *sorted(OPENAI_VOICES))


@dataclass
class Controls:
    """Every input widget of the panel, by role."""

    endpoint: Any
    auth: Any
    api_key: Any
    model: Any
    voice: Any
    instructions: Any
    mic: Any
    speaker: Any
    connect: Any
    mute: Any
    record: Any
    record_folder: Any
    fields: dict[str, Any]
    """Live controls by field name (see :data:`LIVE_FIELDS`)."""
    badges: dict[str, Any]
    """The HTML mark next to each live control: sent / applied / refused."""
    log_filter: Any
    log_audio: Any
    audio: Any = None
    """Where the audio goes: ``local`` devices or the ``browser`` page."""
    boxes: dict[str, Any] = field(default_factory=dict)
    """The typed-value box beside each slider (see :data:`NUMERIC_FIELDS`)."""


def _row(name: str, widget: Any, badge: Any, box: Any = None) -> Any:
    """A control (and its typed box) and its badge on one line: the control takes what is left."""
    import ipywidgets as w

    widget.layout.width = "auto"
    widget.layout.flex = "1 1 auto"
    widget.layout.min_width = "0"
    badge.layout.width = "104px"
    badge.layout.flex = "0 0 auto"
    parts = [widget, badge] if box is None else [widget, box, badge]
    if box is not None:
        box.layout.flex = "0 0 auto"
    row = w.HBox(parts, layout=w.Layout(align_items="center", width="100%", margin="0"))
    row.add_class(f"vlnb-row-{name}")  # a stable handle for tests and custom CSS
    return row


def build_controls(config: SessionConfig, env_endpoint: str | None, audio: str = "local") -> tuple[Controls, Any, Any]:
    """Make the widgets, set from ``config``; returns (controls, connection box, turn-detection box).

    ``audio``: the audio selector's value (``local`` or ``browser``).
    """
    import ipywidgets as w

    desc = {"description_width": "92px"}

    def full() -> Any:  # one Layout per widget: a shared one would be resized for all
        # as wide as the column, which narrows with the window (no side margins: they would overflow it)
        return w.Layout(width="100%", min_width="0", margin="2px 0")

    endpoints = [EMULATOR_LABEL, *([env_endpoint] if env_endpoint else [])]
    endpoint = w.Combobox(
        value=env_endpoint or EMULATOR_LABEL,
        options=endpoints,
        description="Endpoint",
        placeholder="https://<resource>.services.ai.azure.com or 'local emulator'",
        ensure_option=False,
        style=desc,
        layout=full(),
    )
    auth = w.Dropdown(options=_AUTH, value="key", description="Auth", style=desc, layout=full())
    key_set = bool(os.environ.get("AZURE_VOICELIVE_API_KEY"))
    api_key = w.Password(
        value="",
        description="API key",
        placeholder="set in AZURE_VOICELIVE_API_KEY" if key_set else "paste key (kept in memory only)",
        style=desc,
        layout=full(),
    )
    model = w.Text(value=config.model, description="Model", style=desc, layout=full())
    voice = w.Combobox(
        value=config.voice.name,
        options=list(dict.fromkeys((config.voice.name, *_VOICES))),
        description="Voice",
        ensure_option=False,
        style=desc,
        layout=full(),
    )
    instructions = w.Textarea(value=config.instructions, description="Instructions", rows=2, style=desc, layout=full())
    mic, speaker = _device_pickers(desc, full)
    audio_pick = w.ToggleButtons(
        options=[("local devices", "local"), ("browser", "browser")],
        value=audio,
        description="Audio",
        tooltips=["this kernel's sound devices", "this browser's microphone and speaker (remote kernels)"],
        style={**desc, "button_width": "140px"},
        layout=full(),
    )
    connect = w.Button(description="Connect", button_style="success", icon="plug", layout=w.Layout(width="110px"))
    mute = w.ToggleButton(value=False, description="Mute", icon="microphone-slash", layout=w.Layout(width="90px"))
    record = w.ToggleButton(value=False, description="Record", icon="circle", layout=w.Layout(width="100px"))
    record_folder = w.HTML(value="", layout=w.Layout(width="100%", margin="2px 0"))

    vad = config.turn_detection
    td = vad.type if vad else "server_vad"
    eou = vad.end_of_utterance_detection if vad else None
    f: dict[str, Any] = {
        "type": w.Dropdown(options=TURN_DETECTION_TYPES, value=td, description="Type", style=desc),
        "threshold": w.FloatSlider(
            value=vad.threshold if vad else 0.5,
            min=0.01,
            max=0.99,
            step=0.01,
            description="Threshold",
            continuous_update=False,
            style=desc,
            readout=False,  # the box next to it shows the value; a typed one is checked, not clamped
        ),
        "prefix_padding_ms": w.IntSlider(
            value=vad.prefix_padding_ms if vad else 300,
            min=0,
            max=1000,
            step=20,
            description="Prefix pad ms",
            continuous_update=False,
            style=desc,
            readout=False,
        ),
        "silence_duration_ms": w.IntSlider(
            value=vad.silence_duration_ms if vad else 500,
            min=100,
            max=2000,
            step=50,
            description="Silence ms",
            continuous_update=False,
            style=desc,
            readout=False,
        ),
        "speech_duration_ms": w.IntSlider(
            value=(vad.speech_duration_ms or SERVICE_DEFAULTS["speech_duration_ms"])
            if vad
            else SERVICE_DEFAULTS["speech_duration_ms"],
            min=0,
            max=1000,
            step=20,
            description="Speech ms",
            continuous_update=False,
            style=desc,
            readout=False,
            disabled=td == "server_vad",
        ),
        "end_of_utterance_detection": w.Dropdown(
            options=_EOU_LEVELS, value=eou.threshold_level if eou else "", description="End of utt.", style=desc
        ),
        "create_response": w.Checkbox(
            value=vad.create_response if vad else True, description="Create response", indent=False
        ),
        "interrupt_response": w.Checkbox(
            value=vad.interrupt_response if vad else True, description="Interrupt (barge-in)", indent=False
        ),
        "noise_reduction": w.Dropdown(
            options=_NOISE, value=config.noise_reduction or "", description="Noise supp.", style=desc
        ),
        "echo_cancellation": w.Dropdown(
            options=_ECHO,
            value=config.echo_cancellation,
            description="Echo canc.",
            style=desc,
            tooltip="Where the assistant's own voice is removed from the mic: local needs a sound-device mic and "
            "speaker (with open speakers); server works with any mic; off for headphones or a browser mic",
        ),
        "voice": voice,
        "instructions": instructions,
    }
    badges = {name: w.HTML(value="") for name in LIVE_FIELDS}
    # A typed box beside each slider: a slider clamps what is typed into it (2 became 0.99 and
    # was "used on connect"); the box hands it on as typed, so a value out of range is refused.
    boxes = {
        name: (w.FloatText if name == "threshold" else w.IntText)(
            value=f[name].value, step=f[name].step, disabled=f[name].disabled, layout=w.Layout(width="64px")
        )
        for name in NUMERIC_FIELDS
    }
    log_filter = w.Dropdown(
        options=["all", "server", "client", "local", "errors"],
        value="all",
        description="Show",
        style={"description_width": "40px"},
        layout=w.Layout(width="330px"),
    )
    log_audio = w.Checkbox(value=False, description="include audio blocks and deltas", indent=False)
    controls = Controls(
        endpoint,
        auth,
        api_key,
        model,
        voice,
        instructions,
        mic,
        speaker,
        connect,
        mute,
        record,
        record_folder,
        f,
        badges,
        log_filter,
        log_audio,
        audio_pick,
        boxes=boxes,
    )

    def section(text: str) -> Any:
        return w.HTML(f'<div class="vlnb vlnb-section">{text}</div>')

    connection_box = w.VBox(
        [
            section("Connection"),
            endpoint,
            auth,
            api_key,
            model,
            _row("voice", voice, badges["voice"]),
            _row("instructions", instructions, badges["instructions"]),
            audio_pick,
            mic,
            speaker,
            w.HBox([connect, mute, record], layout=w.Layout(flex_flow="row wrap")),
            record_folder,
        ],
        layout=w.Layout(width="100%"),
    )
    vad_box = w.VBox(
        [section("Turn detection (applies live)")]
        + [
            _row(name, f[name], badges[name], boxes.get(name))
            for name in (*VAD_FIELDS, "noise_reduction", "echo_cancellation")
        ],
        layout=w.Layout(width="100%"),
    )
    return controls, connection_box, vad_box


@dataclass
class Views:
    """The panel's output widgets and its root."""

    status: Any
    meters: Any
    chart: Any
    transcript: Any
    counters: Any
    log: Any
    log_box: Any
    """The collapsible event-log section (an Accordion; open when ``selected_index == 0``)."""
    root: Any


def build_views(controls: Controls, conn_box: Any, vad_box: Any, chart_png: bytes, threshold: float | None) -> Views:
    """The read-only views, empty, and the whole panel laid out around the controls."""
    import ipywidgets as w

    from voicelive_nb.panel.snapshot import PanelSnapshot
    from voicelive_nb.panel.views import CSS, counters_html, log_html, meters_html, status_html, transcript_html

    empty = PanelSnapshot()
    status = w.HTML(value=status_html(empty))
    meters = w.HTML(value=meters_html(empty, threshold))
    chart = w.Image(value=chart_png, format="png", layout=w.Layout(width="100%", margin="2px 0"))
    transcript = w.HTML(value=transcript_html(()))
    counters = w.HTML(value=counters_html({}))
    log = w.HTML(value=log_html(()))
    log_box = w.Accordion(
        children=[w.VBox([w.HBox([controls.log_filter, controls.log_audio]), log])],
        selected_index=None,
        layout=w.Layout(width="100%", margin="2px 0"),
    )
    log_box.set_title(0, "Event log")

    def section(text: str) -> Any:
        return w.HTML(f'<div class="vlnb vlnb-section">{text}</div>')

    right = w.VBox(
        [
            section("Levels"),
            meters,
            section("Latency"),
            chart,
            section("Transcript"),
            transcript,
            section("Audio and client"),
            counters,
        ],
        # takes the room the controls leave; below them when the two do not fit side by side
        layout=w.Layout(flex="1 1 420px", min_width="0"),
    )
    right.add_class("vlnb-col-views")
    left = w.VBox([conn_box, vad_box], layout=w.Layout(flex="1 1 380px", max_width="480px", min_width="0"))
    left.add_class("vlnb-col-controls")
    columns = w.HBox([left, right], layout=w.Layout(flex_flow="row wrap", width="100%"))
    columns.add_class("vlnb-columns")
    title = w.HTML(CSS + '<div class="vlnb vlnb-title"><span class="vlnb-logo"></span>Voice Live</div>')
    root = w.VBox(
        [w.VBox([title, status]), columns, log_box],
        layout=w.Layout(border="1px solid var(--jp-border-color2, #ddd)", padding="8px 10px", width="100%"),
    )
    root.add_class("vlnb-panel")
    return Views(status, meters, chart, transcript, counters, log, log_box, root)


def _device_pickers(desc: dict[str, str], layout: Any) -> tuple[Any, Any]:
    """Mic and speaker dropdowns from PortAudio's device list (or 'default' when it has none)."""
    import ipywidgets as w

    from voicelive_nb.session.devices import headless

    default = "default (headless: WAV prompts / capture)" if headless() else "default device"
    inputs: list[tuple[str, Any]] = [(default, DEFAULT_DEVICE)]
    outputs: list[tuple[str, Any]] = [(default, DEFAULT_DEVICE)]
    note = ""
    try:
        from voicelive_nb.audio.devices import quiet_alsa

        quiet_alsa()  # importing sounddevice probes every ALSA device, which libasound reports on stderr
        import sounddevice as sd

        for index, dev in enumerate(sd.query_devices()):
            if dev.get("max_input_channels", 0) > 0:
                inputs.append((f"{index}: {dev['name']}", index))
            if dev.get("max_output_channels", 0) > 0:
                outputs.append((f"{index}: {dev['name']}", index))
    except (ImportError, OSError) as exc:  # no PortAudio: only the defaults (WAV/capture when headless)
        note = f"No sound devices listed: {exc}. Install libportaudio2 (apt) for real devices."
    mic = w.Dropdown(options=inputs, value=DEFAULT_DEVICE, description="Mic", style=desc, layout=layout(), tooltip=note)
    speaker = w.Dropdown(
        options=outputs, value=DEFAULT_DEVICE, description="Speaker", style=desc, layout=layout(), tooltip=note
    )
    return mic, speaker
