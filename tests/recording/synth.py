"""Synthetic sessions: realistic EventRecord streams with exactly known timings.

A :class:`SyntheticSession` lays user utterances on a virtual clock: mic blocks of
20 ms at 24 kHz (t = when the block's last sample was sent), server VAD events with
a fixed detection delay, a response with audio deltas, playback marks and speaker
blocks.  Every expected latency is known by construction (``expected``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from voicelive_nb.events import EventRecord, Local

RATE = 24_000
BLOCK = 480


@dataclass
class Expected:
    speech_start: float
    speech_end: float
    detection_ms: float
    response_latency_ms: float
    playout_ms: float
    voice_to_voice_ms: float
    interrupted: bool = False
    barge_in_stale_ms: float | None = None


@dataclass
class SyntheticSession:
    """Build records for utterances ``(start_s, end_s)`` on the mic timeline."""

    utterances: list[tuple[float, float]]
    duration: float = 10.0
    t_start: float = 1000.0
    silence_ms: float = 500.0
    server_ms: float = 40.0  # speech_stopped arrives this long after the silence window
    first_delta_ms: float = 200.0
    playout_ms: float = 30.0
    output_latency_s: float = 0.04
    reply_s: float = 1.0
    barge_in_at: float | None = None  # mic seconds: a second utterance that cuts reply 0
    said: list[str] | None = None  # transcripts of the utterances (default "user says {i}")
    replies: list[str] | None = None  # the replies' transcripts (default "reply {i} done")
    records: list[EventRecord] = field(default_factory=list)
    expected: list[Expected] = field(default_factory=list)
    mic: np.ndarray | None = None
    reply: np.ndarray | None = None

    def t_of(self, seconds: float) -> float:
        return self.t_start + seconds

    def build(self) -> SyntheticSession:
        n = int(self.duration * RATE) // BLOCK * BLOCK
        rng = np.random.default_rng(1)
        mic = (rng.standard_normal(n) * 300).astype(np.int16)
        self.mic = mic
        self.reply = (np.sin(np.arange(int(self.reply_s * RATE)) / 7.0) * 8000).astype(np.int16)
        ev: list[tuple[float, int, EventRecord]] = []
        seq = 0

        def add(t: float, kind: str, typ: str, data: dict, audio: bytes | None = None) -> None:
            nonlocal seq
            ev.append((t, seq, EventRecord(t, t + 1.7e9, kind, typ, data, audio)))  # type: ignore[arg-type]
            seq += 1

        add(
            self.t_start - 0.5,
            "local",
            Local.SESSION_INFO,
            {
                "config": {"voice": "alloy", "api_key": "sk-SECRET-in-config"},
                "input_rate": RATE,
                "output_rate": RATE,
                "versions": {"voicelive_nb": "0.1.0"},
            },
        )
        for off in range(0, n, BLOCK):
            t = self.t_of((off + BLOCK) / RATE)
            add(
                t,
                "local",
                Local.MIC_AUDIO,
                {"samples": BLOCK, "rate": RATE, "rms_db": -40.0, "peak_db": -30.0, "offset": off},
                mic[off : off + BLOCK].tobytes(),
            )
        for i, (s, e) in enumerate(self.utterances):
            item = f"item_{i}"
            rid = f"resp_{i}"
            rx_start = self.t_of(s + 0.3)
            add(
                rx_start,
                "server",
                "input_audio_buffer.speech_started",
                {"audio_start_ms": int(s * 1000), "item_id": item},
            )
            rx_stop = self.t_of(e) + (self.silence_ms + self.server_ms) / 1000
            add(
                rx_stop, "server", "input_audio_buffer.speech_stopped", {"audio_end_ms": int(e * 1000), "item_id": item}
            )
            add(rx_stop + 0.001, "server", "input_audio_buffer.committed", {"item_id": item})
            add(rx_stop + 0.002, "server", "response.created", {"response": {"id": rid, "status": "in_progress"}})
            add(
                rx_stop + 0.1,
                "server",
                "conversation.item.input_audio_transcription.completed",
                {"item_id": item, "transcript": self.said[i] if self.said else f"user says {i}"},
            )
            first_delta = rx_stop + self.first_delta_ms / 1000
            add(
                first_delta - 0.001,
                "server",
                "response.audio_transcript.delta",
                {"response_id": rid, "delta": f"reply {i}"},
            )
            add(
                first_delta,
                "server",
                "response.audio.delta",
                {"response_id": rid, "item_id": f"a{i}", "delta_bytes": 9600},
                b"\0" * 9600,
            )
            played = first_delta + self.playout_ms / 1000
            add(
                played,
                "local",
                Local.PLAYBACK_STARTED,
                {"response_id": rid, "item_id": f"a{i}", "output_latency_s": self.output_latency_s},
            )
            cut = None
            if i == 0 and self.barge_in_at is not None:
                cut = self.t_of(self.barge_in_at + 0.3)  # rx of the next speech_started
            reply = self.reply
            for off in range(0, len(reply), BLOCK):
                tb = played + off / RATE
                if cut is not None and tb > cut + 0.010:
                    break
                add(
                    tb,
                    "local",
                    Local.SPEAKER_AUDIO,
                    {"samples": BLOCK, "rate": RATE, "rms_db": -12.0, "peak_db": -6.0, "response_id": rid},
                    reply[off : off + BLOCK].tobytes(),
                )
            add(first_delta + 0.05, "server", "response.audio.done", {"response_id": rid})
            add(
                first_delta + 0.051,
                "server",
                "response.audio_transcript.done",
                {"response_id": rid, "transcript": self.replies[i] if self.replies else f"reply {i} done"},
            )
            exp = Expected(
                speech_start=s,
                speech_end=e,
                detection_ms=self.silence_ms + self.server_ms,
                response_latency_ms=self.first_delta_ms,
                playout_ms=self.playout_ms,
                voice_to_voice_ms=self.silence_ms
                + self.server_ms
                + self.first_delta_ms
                + self.playout_ms
                + self.output_latency_s * 1000,
            )
            if cut is not None:
                add(
                    cut + 0.005,
                    "local",
                    Local.PLAYBACK_FLUSHED,
                    {
                        "response_id": rid,
                        "item_id": f"a{i}",
                        "played_ms": 100.0,
                        "dropped_ms": 500.0,
                        "stale_ms": 15.0,
                        "reason": "speech_started",
                    },
                )
                add(cut + 0.02, "server", "response.done", {"response": {"id": rid, "status": "completed"}})
                exp.interrupted = True
                exp.barge_in_stale_ms = 5.0 + 15.0
            else:
                add(first_delta + 0.06, "server", "response.done", {"response": {"id": rid, "status": "completed"}})
                add(
                    played + len(reply) / RATE,
                    "local",
                    Local.PLAYBACK_STOPPED,
                    {"response_id": rid, "item_id": f"a{i}", "played_ms": 1000 * len(reply) / RATE},
                )
            self.expected.append(exp)
        add(
            self.t_start + 0.1,
            "client",
            "session.update",
            {"session": {"voice": "alloy"}, "headers": {"Authorization": "Bearer tok-SECRET"}},
        )
        ev.sort(key=lambda x: (x[0], x[1]))
        self.records = [r for _, _, r in ev]
        return self
