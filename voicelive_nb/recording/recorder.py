"""Record a session to a folder: :class:`Recorder`, an observer streaming to disk.

The recorder is an observer (``recorder(record)``) that runs on the event bus thread.
Memory stays constant: lines and audio go through small buffers that are written and
flushed about once a second, and the WAV headers are rewritten each time, so a killed
process leaves files that still load (:func:`~voicelive_nb.recording.files.read_wav` and
:func:`~voicelive_nb.recording.files.read_jsonl` repair what is left).  The folder's layout:
:mod:`voicelive_nb.recording.recording`.  Secrets never reach a file (:func:`scrub`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from voicelive_nb.events import EventRecord, Local
from voicelive_nb.recording.files import AUDIO_DATA_ORDER, WavStream

log = logging.getLogger(__name__)

SECRET_KEYS = frozenset(
    {
        "api_key",
        "key",
        "authorization",
        "token",
        "access_token",
        "refresh_token",
        "password",
        "secret",
        "client_secret",
        "credential",
        "subscription_key",
        "ocp_apim_subscription_key",
    }
)
"""Field names (case-insensitive, ``-`` = ``_``) that are dropped wherever they appear."""

SECRET_ENV_VARS = ("AZURE_VOICELIVE_API_KEY", "AZURE_OPENAI_API_KEY", "VOICELIVE_API_KEY")
"""Environment variables whose values are masked if they ever appear in a string."""

FORMAT_VERSION = 1
_FLUSH_BYTES = 1 << 20
_CONTIGUOUS_S = 0.010  # speaker blocks closer than this to the write cursor are glued on


def scrub(value: Any) -> Any:
    """A JSON-ready copy of ``value`` without any secret-named field (recursively)."""
    if isinstance(value, Mapping):
        return {
            str(k): scrub(v)
            for k, v in value.items()
            if str(k).lower().replace("-", "_") not in SECRET_KEYS and not str(k).startswith("_")
        }
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return scrub(dataclasses.asdict(value))
    to_dict = getattr(value, "as_dict", None) or getattr(value, "to_dict", None)
    if callable(to_dict):
        try:
            return scrub(to_dict())
        except Exception:  # a foreign object: its text is safer than nothing
            pass
    return str(value)


def _known_secrets() -> list[str]:
    return [v for name in SECRET_ENV_VARS if len(v := os.environ.get(name, "")) >= 8]


class Recorder:
    """Stream a session's records to ``folder``; an observer taking :class:`EventRecord`.

    Args:
        folder: Created if missing; must not already hold a recording.
        config: The session config (dataclass or dict), stored in ``session.json``
            with secrets removed.  A ``session.info`` record overrides it.
        info: Extra facts for ``session.json`` (devices, versions ...).
        flush_interval: Seconds between writes to disk (and WAV header updates).
        secrets: Strings that must never reach a file (masked if they appear);
            the values of :data:`SECRET_ENV_VARS` are added automatically.

    Raises:
        FileExistsError: ``folder`` already holds ``events.jsonl``.
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        config: Any = None,
        info: Mapping[str, Any] | None = None,
        flush_interval: float = 1.0,
        secrets: list[str] | tuple[str, ...] = (),
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        if (self.folder / "events.jsonl").exists():
            raise FileExistsError(f"{self.folder} already holds a recording (events.jsonl); choose a new folder")
        self._lock = threading.Lock()
        self._secrets = [s for s in (*secrets, *_known_secrets()) if s]
        self._flush_interval = flush_interval
        self._events = open(self.folder / "events.jsonl", "wb", buffering=0)  # noqa: SIM115
        self._lines: list[bytes] = []
        self._pending = 0
        self._mic = WavStream(self.folder / "mic.wav")
        self._assistant = WavStream(self.folder / "assistant.wav")
        self._mic_shift: int | None = None  # mic track index of mic offset 0
        self._last_flush = time.monotonic()
        self.t0: float | None = None
        """Monotonic time of sample 0 of both tracks (None until audio arrives)."""
        self.records = 0
        """Records written."""
        self.skipped_audio = 0
        """Audio records whose audio could not be placed (malformed fields); their lines are kept."""
        self.closed = False
        self.error: str | None = None
        """Set (and recording stopped) if writing failed."""
        now = time.time()
        self._session: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "start": {"wall": now, "t": time.monotonic(), "iso": _iso(now)},
            "end": None,
            "t0": None,
            "config": scrub(config) if config is not None else None,
        }
        if info:
            self._session.update(scrub(info))
        self._write_session()

    # -- observer --------------------------------------------------------------

    def __call__(self, record: EventRecord) -> None:
        """Write one record (called on the event bus thread)."""
        with self._lock:
            if self.closed:
                return
            try:
                self._record(record)
                if self._pending >= _FLUSH_BYTES or time.monotonic() - self._last_flush >= self._flush_interval:
                    self._flush()
            except OSError as exc:
                self._fail(exc)

    def flush(self) -> None:
        """Write everything buffered and update the WAV headers now."""
        with self._lock:
            if not self.closed:
                try:
                    self._flush()
                except OSError as exc:
                    self._fail(exc)

    def close(self) -> None:
        """Finalise all files (idempotent)."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            try:
                self._flush()
                self._mic.close()
                self._assistant.close()
                self._events.close()
                now = time.time()
                self._session["end"] = {"wall": now, "t": time.monotonic(), "iso": _iso(now)}
                self._session["samples"] = {"mic": self._mic.samples, "assistant": self._assistant.samples}
                self._session["records"] = self.records
                self._write_session()
            except OSError as exc:
                self._fail(exc)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------

    def _record(self, record: EventRecord) -> None:
        line: dict[str, Any] = {"t": round(record.t, 6), "wall": round(record.wall, 6), "kind": record.kind,
                                "type": record.type}  # fmt: skip
        rtype = record.type
        if (rtype == Local.MIC_AUDIO or rtype == Local.SPEAKER_AUDIO) and record.audio is not None:
            # canonical layout (audio first, known data keys in order) for the fast loader
            src = record.data
            data = {k: src[k] for k in AUDIO_DATA_ORDER if k in src}
            data.update((k, v) for k, v in src.items() if k not in data)
            try:
                line["audio"] = self._place_audio(record, data)
            except (TypeError, ValueError) as exc:  # a field of the wrong type: keep the line, skip the audio
                self.skipped_audio += 1
                if self.skipped_audio == 1:
                    log.warning("recording to %s: skipped audio of a malformed %s record: %s", self.folder, rtype, exc)
            line["data"] = scrub(data)
        else:
            line["data"] = scrub(record.data)
            if rtype == Local.SESSION_INFO:
                self._session.update(line["data"])
                self._write_session()
        text = json.dumps(line, separators=(",", ":"), default=str)
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        encoded = text.encode() + b"\n"
        self._lines.append(encoded)
        self._pending += len(encoded)
        self.records += 1

    def _place_audio(self, record: EventRecord, data: dict[str, Any]) -> dict[str, Any]:
        audio = record.audio or b""
        samples = len(audio) // 2
        rate = int(data.get("rate") or 24_000)
        if record.type == Local.MIC_AUDIO:
            offset = int(data.get("offset", 0))
            if self._mic_shift is None:
                self._mic.rate = rate
                captured = data.get("captured_t")
                first = float(captured) if captured is not None else record.t - samples / rate
                start = first - offset / rate  # time of mic sample 0
                if self.t0 is None:
                    self._set_t0(start)
                self._mic_shift = max(0, round((start - (self.t0 or start)) * rate))
            placed = self._mic.write_at(offset + self._mic_shift, audio)
            track = "mic"
        else:
            if self.t0 is None:
                self._set_t0(record.t)
            if self._assistant.samples == 0:
                self._assistant.rate = rate
            index = round((record.t - (self.t0 or record.t)) * rate)
            if 0 < index - self._assistant.samples <= _CONTIGUOUS_S * rate:
                index = self._assistant.samples  # timestamp jitter, not a real gap
            placed = self._assistant.write_at(index, audio)
            track = "assistant"
        self._pending += len(audio)
        return {"track": track, "offset": placed, "samples": samples}

    def _set_t0(self, t0: float) -> None:
        self.t0 = t0
        self._session["t0"] = t0
        self._write_session()

    def _flush(self) -> None:
        if self._lines:
            self._events.write(b"".join(self._lines))
            self._lines.clear()
        self._mic.sync()
        self._assistant.sync()
        self._pending = 0
        self._last_flush = time.monotonic()

    def _write_session(self) -> None:
        path = self.folder / "session.json"
        tmp = path.with_suffix(".json.tmp")
        text = json.dumps(self._session, indent=2, default=str)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        tmp.write_text(text)
        os.replace(tmp, path)

    def _fail(self, exc: OSError) -> None:
        if self.error is None:
            log.error("recording to %s stopped: %s", self.folder, exc)
        self.error = str(exc)
        self.closed = True
        for closer in (self._mic.close, self._assistant.close, self._events.close):
            with contextlib.suppress(OSError):  # release the files; what reached the disk still loads
                closer()


def _iso(wall: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(wall))


RECORDING_FILES = ("events.jsonl", "session.json", "session.json.tmp", "mic.wav", "assistant.wav")
"""The files a :class:`Recorder` writes into its folder."""

_WAV_HEADER_BYTES = 44


def discard_if_empty(folder: str | Path, *, remove_folder: bool = True) -> bool:
    """Remove a finished recording that holds nothing: no audio and no event from the service.

    What a session that never connected (refused port, unknown host, no credential) leaves
    behind: a ``session.json``, the local records of the attempt and two empty tracks.  The
    recorder's own files are removed, then the folder if ``remove_folder`` and it is empty
    (a file of anyone else's keeps it).  A recording that is still open (no ``end`` in
    ``session.json``), unreadable, or holds any audio or any server event is never touched.
    Returns True if the recording was removed.
    """
    folder = Path(folder)
    try:
        session = json.loads((folder / "session.json").read_text())
        samples = session.get("samples") or {}
        finished = session.get("end") is not None
        audio = any(samples.get(track) for track in ("mic", "assistant")) or any(
            (folder / name).stat().st_size > _WAV_HEADER_BYTES for name in ("mic.wav", "assistant.wav")
        )
        # any "server" at all keeps it (a masked secret may have garbled a line's other fields)
        served = b'"server"' in (folder / "events.jsonl").read_bytes()
    except (OSError, ValueError, AttributeError):
        return False
    if not finished or audio or served:
        return False
    for name in RECORDING_FILES:
        with contextlib.suppress(FileNotFoundError):
            (folder / name).unlink()
    if remove_folder:
        with contextlib.suppress(OSError):  # not empty: someone else's files stay, and so does it
            folder.rmdir()
    return True
