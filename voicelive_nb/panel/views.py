"""HTML for the panel's read-only views, as pure functions of a :class:`PanelSnapshot`.

Keeping the markup here (and out of the widget wiring) makes it testable without a
kernel and keeps :mod:`voicelive_nb.panel` about behaviour.  Every piece of text that
came from the outside (transcripts, event summaries, errors) is HTML-escaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from voicelive_nb.panel.state import FLOOR_DB, FieldStatus, LogLine, PanelSnapshot, TranscriptLine

__all__ = [
    "CSS",
    "METER_MIN_DB",
    "counters_html",
    "echo_html",
    "field_badge_html",
    "log_html",
    "meters_html",
    "status_html",
    "transcript_html",
]

METER_MIN_DB = -60.0
"""Left end of the level bars."""

CSS = """
<style>
.vlnb-panel, .vlnb-panel * { box-sizing: border-box; }
.vlnb-panel .widget-box { overflow: visible; }
.vlnb-columns { column-gap: 16px; row-gap: 4px; }
.vlnb-panel .widget-html-content { white-space: normal; overflow-wrap: anywhere; }
.vlnb { font-family: var(--jp-ui-font-family, sans-serif); font-size: 12px; color: var(--jp-ui-font-color1, #222); }
.vlnb-title { font-size: 15px; font-weight: 600; margin: 0 0 2px 0; display: flex; align-items: center; gap: 7px; }
.vlnb-logo { width: 14px; height: 14px; border-radius: 50%; display: inline-block;
  background: radial-gradient(circle at 35% 35%, #60a5fa, #2563eb); }
.vlnb-section { font-weight: 600; font-size: 12px; color: var(--jp-ui-font-color2, #555);
  text-transform: uppercase; letter-spacing: .04em; margin: 6px 0 2px 0; }
.vlnb-status { display: flex; align-items: center; gap: 8px; }
.vlnb-dot { width: 10px; height: 10px; border-radius: 50%; display: inline-block; flex: none; }
.vlnb-err { color: #b91c1c; background: #fef2f2; border: 1px solid #fecaca; border-radius: 4px;
  padding: 3px 6px; margin-top: 3px; line-height: 1.35; white-space: normal; overflow-wrap: anywhere; }
.vlnb-status > span { min-width: 0; overflow-wrap: anywhere; line-height: 1.35; }
.vlnb-meter { display: grid; grid-template-columns: 74px 1fr 64px; align-items: center; gap: 6px; margin: 3px 0; }
.vlnb-bar { position: relative; height: 14px; background: var(--jp-layout-color2, #eee);
  border-radius: 3px; overflow: visible; }
.vlnb-fill { position: absolute; left: 0; top: 0; bottom: 0; border-radius: 3px; }
.vlnb-peak { position: absolute; top: 0; bottom: 0; width: 2px; background: #374151; opacity: .6; }
.vlnb-mark { position: absolute; top: -3px; bottom: -3px; width: 0; border-left: 2px dashed #dc2626; }
.vlnb-mark span { position: absolute; top: -13px; left: 2px; font-size: 9px; color: #dc2626; white-space: nowrap; }
.vlnb-num { font-variant-numeric: tabular-nums; text-align: right; color: var(--jp-ui-font-color2, #555); }
.vlnb-speak { display: inline-flex; align-items: center; gap: 4px; margin-right: 12px; color: #9ca3af; }
.vlnb-speak.on { color: #15803d; font-weight: 600; }
.vlnb-echo { margin-top: 2px; color: var(--jp-ui-font-color2, #555); font-variant-numeric: tabular-nums; }
.vlnb-tx { max-height: 220px; overflow-y: auto; display: flex; flex-direction: column; gap: 4px; }
.vlnb-line { padding: 3px 7px; border-radius: 6px; max-width: 88%; line-height: 1.35; }
.vlnb-user { background: #e0f2fe; align-self: flex-start; }
.vlnb-assistant { background: #f3f4f6; align-self: flex-end; }
.vlnb-tool { background: #fef9c3; align-self: center; font-family: monospace; font-size: 11px; }
.vlnb-tool.vlnb-toolerr { background: #fee2e2; }
.vlnb-who { font-size: 10px; color: #6b7280; margin-right: 4px; }
.vlnb-cut { font-size: 10px; color: #b45309; margin-left: 6px; border: 1px solid #fcd34d; border-radius: 3px;
  padding: 0 3px; background: #fffbeb; }
.vlnb-partial { color: #6b7280; font-style: italic; }
.vlnb-log { max-height: 200px; overflow-y: auto; font-family: var(--jp-code-font-family, monospace); font-size: 11px; }
.vlnb-log table { border-collapse: collapse; width: 100%; }
.vlnb-log td { padding: 1px 6px !important; vertical-align: top; white-space: nowrap; line-height: 1.35;
  border: none !important; text-align: left !important; }
.vlnb-log tr:nth-child(even) { background: var(--jp-layout-color2, #f7f7f7); }
.vlnb-log td.s { white-space: normal; word-break: break-all; color: #4b5563; }
.vlnb-k-server { color: #1d4ed8; } .vlnb-k-client { color: #7c3aed; } .vlnb-k-local { color: #047857; }
.vlnb-counters { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 2px 14px; }
.vlnb-counters b { font-variant-numeric: tabular-nums; }
.vlnb-bad { color: #b91c1c; }
.vlnb-badge { font-size: 11px; white-space: nowrap; }
.vlnb-badge.vlnb-bad { white-space: normal; overflow-wrap: anywhere; display: inline-block; line-height: 1.2; }
</style>
"""

_STATE_COLOURS = {
    "idle": "#9ca3af",
    "connecting": "#f59e0b",
    "reconnecting": "#f59e0b",
    "connected": "#16a34a",
    "closed": "#9ca3af",
    "failed": "#dc2626",
}


def status_html(snap: PanelSnapshot, extra: str = "") -> str:
    """The status line: a coloured dot, the connection state in words, and the last error."""
    colour = _STATE_COLOURS.get(snap.connection, "#9ca3af")
    if snap.connection == "connected" and snap.device_trouble:
        colour = _STATE_COLOURS["reconnecting"]  # amber: connected, but a device is down
    muted = " · <b>mic muted</b>" if snap.muted else ""
    extra_html = f" · {escape(extra)}" if extra else ""
    err = f'<div class="vlnb-err">⚠ {escape(snap.error)}</div>' if snap.error else ""
    return (
        f'<div class="vlnb"><div class="vlnb-status"><span class="vlnb-dot" style="background:{colour}"></span>'
        f"<span>{escape(snap.status)}{muted}{extra_html}</span></div>{err}</div>"
    )


def _pct(db: float) -> float:
    return max(0.0, min(100.0, (db - METER_MIN_DB) / -METER_MIN_DB * 100.0))


def _colour(db: float) -> str:
    if db > -6:
        return "#dc2626"
    if db > -18:
        return "#f59e0b"
    return "#22c55e"


def _meter(label: str, db: float, peak: float | None, mark: str) -> str:
    shown = "—" if db <= FLOOR_DB else f"{db:.0f} dBFS"
    peak_html = (
        f'<div class="vlnb-peak" style="left:{_pct(peak):.1f}%"></div>'
        if peak is not None and peak > METER_MIN_DB
        else ""
    )
    return (
        f'<div class="vlnb-meter"><span>{label}</span><div class="vlnb-bar">'
        f'<div class="vlnb-fill" style="width:{_pct(db):.1f}%;background:{_colour(db)}"></div>'
        f'{peak_html}{mark}</div><span class="vlnb-num">{shown}</span></div>'
    )


def meters_html(snap: PanelSnapshot, threshold: float | None) -> str:
    """Mic and assistant level bars (dBFS) with the VAD mark, and the speaking indicators.

    The VAD threshold is a speech probability, not a level, so the mark sits where the
    server's VAD (at that threshold) last fired: the mic level at the reported onset.
    """
    mark = ""
    if snap.vad_onset_db is not None:
        thr = f"{threshold:.2f}" if threshold is not None else "?"
        mark = (
            f'<div class="vlnb-mark" style="left:{_pct(snap.vad_onset_db):.1f}%" '
            f'title="The VAD (threshold {thr}) last detected speech at this level">'
            f"<span>VAD {thr} fired {snap.vad_onset_db:.0f} dB</span></div>"
        )
    user = "on" if snap.user_speaking else ""
    bot = "on" if snap.assistant_speaking else ""
    return (
        '<div class="vlnb">'
        + _meter("mic", snap.mic_db, snap.mic_peak_db, mark)
        + _meter("assistant", snap.speaker_db, None, "")
        + f'<div style="margin-top:4px"><span class="vlnb-speak {user}">● user speaking</span>'
        f'<span class="vlnb-speak {bot}">● assistant speaking</span></div>' + echo_html(snap.echo) + "</div>"
    )


def echo_html(echo: Mapping[str, Any] | None) -> str:
    """The echo line under the meters: how loud the assistant's voice comes back into the mic
    (ERL) and how much of it the local canceller removes (ERLE), while the assistant speaks."""
    tip = (
        "Echo return loss (ERL): how much quieter the assistant is in the mic than in the speaker "
        "(under ~20 dB with open speakers: the mic hears it). Removed (ERLE): what the local echo "
        "canceller takes out of what is sent. Both read low while you talk over the assistant."
    )
    if not echo:
        return f'<div class="vlnb-echo" title="{tip}">echo: —</div>'
    erl, erle = echo.get("erl_db"), echo.get("erle_db")
    parts = [f"ERL <b>{erl:.0f} dB</b>" if isinstance(erl, (int, float)) else "ERL —"]
    if echo.get("enabled"):
        parts.append(f"removed <b>{erle:.0f} dB</b>" if isinstance(erle, (int, float)) else "removed —")
    else:
        parts.append("local canceller off")
    loud = isinstance(erl, (int, float)) and erl < 20 and not echo.get("enabled")
    cls = " vlnb-bad" if loud else ""
    return f'<div class="vlnb-echo{cls}" title="{tip}">echo: {" · ".join(parts)}</div>'


def transcript_html(lines: Sequence[TranscriptLine], limit: int = 60) -> str:
    """User and assistant lines, newest last; interrupted answers marked."""
    if not lines:
        return '<div class="vlnb vlnb-partial">The conversation appears here.</div>'
    rows = []
    for line in lines[-limit:]:
        if line.text:
            text, cls = escape(line.text), "" if line.final else " vlnb-partial"
        elif line.role == "user" and line.speech_ms is not None:
            text, cls = f"({line.speech_ms / 1000:.1f} s of speech)", " vlnb-partial"
        else:
            text, cls = "…", " vlnb-partial"
        cut = '<span class="vlnb-cut">interrupted</span>' if line.interrupted else ""
        who = {"user": "you", "assistant": "assistant", "tool": "tool"}[line.role]
        err = " vlnb-toolerr" if line.error else ""
        rows.append(
            f'<div class="vlnb-line vlnb-{line.role}{err}"><span class="vlnb-who">{who}</span>'
            f'<span class="{cls.strip()}">{text}</span>{cut}</div>'
        )
    return f'<div class="vlnb vlnb-tx">{"".join(rows)}</div>'


def filter_log(lines: Iterable[LogLine], choice: str) -> list[LogLine]:
    """Rows matching a log filter: ``"all"``, a kind (``server``/``client``/``local``),
    ``"errors"`` or an exact type name."""
    if choice in ("", "all"):
        return list(lines)
    if choice in ("server", "client", "local"):
        return [line for line in lines if line.kind == choice]
    if choice == "errors":
        return [line for line in lines if "error" in line.type or line.type == "local.error"]
    return [line for line in lines if line.type == choice]


def log_html(lines: Sequence[LogLine], limit: int = 80) -> str:
    """The newest ``limit`` rows of the event log, newest first (visible without scrolling)."""
    if not lines:
        return '<div class="vlnb vlnb-partial">No events yet.</div>'
    rows = "".join(
        f'<tr><td class="vlnb-num">{line.t:8.3f}</td><td class="vlnb-k-{escape(line.kind)}">'
        f"{escape(line.type)}</td><td class='s'>{escape(line.summary)}</td></tr>"
        for line in reversed(lines[-limit:])
    )
    return f'<div class="vlnb vlnb-log"><table>{rows}</table></div>'


_COUNTER_LABELS = (
    ("input_overflows", "mic overflows", True),
    ("output_underflows", "speaker underflows", True),
    ("dropped_blocks", "dropped blocks", True),
    ("bus_dropped", "events dropped", True),
    ("queue_depth_ms", "playback queue ms", False),
    ("output_latency_ms", "device output ms", False),
    ("mic_client_ms", "client-added mic ms", False),
    ("speaker_client_ms", "client-added speaker ms", False),
    ("last_barge_in_stale_ms", "last barge-in stale ms", False),
    ("last_response_ms", "last response ms", False),
    ("last_voice_to_voice_ms", "last voice-to-voice ms", False),
)


def counters_html(counters: Mapping[str, float]) -> str:
    """Audio health counters and client-side latencies (problems in red)."""
    cells = []
    for key, label, bad_if_nonzero in _COUNTER_LABELS:
        value = counters.get(key)
        # Whole numbers above 10: a smoothed latency must not change the text every frame.
        text = (
            "—"
            if value is None
            else (f"{value:.0f}" if abs(value) >= 10 or float(value).is_integer() else f"{value:.1f}")
        )
        cls = ' class="vlnb-bad"' if bad_if_nonzero and value else ""
        cells.append(f"<span{cls}>{label}: <b>{text}</b></span>")
    return f'<div class="vlnb vlnb-counters">{"".join(cells)}</div>'


def _short_reason(detail: str, limit: int = 44) -> str:
    """A refusal in the few words a badge has room for (the whole of it is in its tooltip)."""
    reason = detail.split(" is not valid: ", 1)[-1] if " is not valid: " in detail else detail
    reason = reason.replace("expected a number with ", "").replace("turn_detection.", "")
    return reason if len(reason) <= limit else reason[: limit - 1] + "…"


def field_badge_html(status: FieldStatus | None) -> str:
    """The small mark next to a turn-detection control: sent, accepted, or refused (with why)."""
    if status is None:
        return '<span class="vlnb vlnb-badge"></span>'
    if status.state == "pending":
        return '<span class="vlnb vlnb-badge" style="color:#b45309">… sent</span>'
    if status.state == "default":
        return f'<span class="vlnb vlnb-badge" style="color:#6b7280">({escape(status.detail)})</span>'
    if status.state == "ok":
        text = "applied" if status.detail == "accepted" else escape(status.detail)
        return f'<span class="vlnb vlnb-badge" style="color:#15803d">✓ {text}</span>'
    return (
        f'<span class="vlnb vlnb-badge vlnb-bad" title="{escape(status.detail)}">'
        f"✗ {escape(_short_reason(status.detail))}</span>"
    )
