"""Shared fixtures.  Keep this file small: add fixtures of one area in its own subfolder conftest."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest_plugins = ["tests.emulated"]  # the shared emulator fixtures


@pytest.fixture(scope="session")
def virtual_audio() -> Iterator[Any]:
    """A private PulseAudio daemon with a virtual mic and speaker, for the whole test session.

    Yields a :class:`voicelive_nb.audio.pulse.VirtualAudio`: open ``DeviceMic(va.input_device)``
    / ``DeviceSpeaker(va.output_device)``, feed the mic with ``va.play_into_mic(wav_or_array)``,
    hear the speaker with ``va.record_speaker()``.  Mark such tests ``@pytest.mark.pulse``.
    Each test session gets its own daemon and runtime dir; other daemons are never touched.
    """
    from voicelive_nb.audio.pulse import VirtualAudio

    with VirtualAudio() as va:
        yield va
