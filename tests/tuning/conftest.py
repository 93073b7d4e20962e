"""Fixtures of the tuning tests: the recording tests' emulator (one per module) and its connection."""

from tests.recording.conftest import connection, emulator, responder

__all__ = ["connection", "emulator", "responder"]
