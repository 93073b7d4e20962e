"""A private PulseAudio daemon with a virtual mic and speaker, for machines with no sound card.

::

    with VirtualAudio() as va:                      # starts pulseaudio, points PortAudio at it
        mic = DeviceMic(va.input_device)            # reads the virtual mic ("vmic")
        va.play_into_mic("hello.wav")               # played by the daemon into vmicsink
        rec = va.record_speaker()                   # parec -d vspeaker.monitor
        ... DeviceSpeaker(va.output_device) ...     # plays into "vspeaker"
        samples = rec.stop()

Layout (see /work/shared/HEADLESS.md): null sink ``vspeaker`` is the default sink (what
PortAudio plays into; its monitor is what was heard); null sink ``vmicsink`` is fed by
:meth:`VirtualAudio.play_into_mic` and remapped as source ``vmic``, the default source (what
PortAudio records).  Two loopbacks into a third null sink keep both sinks rendering in small
blocks (without a low-latency client a null sink renders in 2 s blocks and new streams stall).

PortAudio reaches the daemon through ALSA's ``pulse`` plugin (``libasound2-plugins``): its
devices are named ``"pulse"`` and ``"default"``; which sink/source they use is the daemon's
default (and ``PULSE_SINK``/``PULSE_SOURCE`` name them explicitly, in case a stray setting or
another client changed it).  :class:`VirtualAudio` sets ``PULSE_SERVER`` and those two for
this process (restored on exit) and re-initialises PortAudio so the devices appear.

Isolation: every instance uses its own runtime directory (``XDG_RUNTIME_DIR``, ``HOME``,
socket) under a fresh temp dir; the daemon runs in the foreground as *our* child process
(``--daemonize=no``, parent-death signal set), so :meth:`VirtualAudio.stop` -- or our death --
ends exactly that daemon and never touches anyone else's.  Works as root (no system mode, no D-Bus).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from voicelive_nb.audio.wav import AudioInput, load_audio, write_wav

__all__ = ["MicPlayback", "SpeakerRecording", "VirtualAudio", "VirtualAudioError"]

_CONFIG = """\
load-module module-native-protocol-unix auth-anonymous=1 socket={socket}
load-module module-null-sink sink_name=vspeaker rate={rate} channels=1 format=s16le
load-module module-null-sink sink_name=vmicsink rate={rate} channels=1 format=s16le
load-module module-remap-source source_name=vmic master=vmicsink.monitor
load-module module-null-sink sink_name=hole rate={rate} channels=1 format=s16le
load-module module-loopback source=vspeaker.monitor sink=hole latency_msec=30
load-module module-loopback source=vmicsink.monitor sink=hole latency_msec=30
set-default-sink vspeaker
set-default-source vmic
"""


class VirtualAudioError(RuntimeError):
    """The private PulseAudio daemon could not be started or used."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class SpeakerRecording:
    """What the virtual speaker played, captured by ``parec`` from ``vspeaker.monitor``.

    Started by :meth:`VirtualAudio.record_speaker`.  :meth:`stop` returns int16 samples.
    ``t_start`` is the monotonic time parec was started (its first samples arrive a few
    ms later; align by correlation when precision matters).
    """

    def __init__(self, env: dict[str, str], rate: int) -> None:
        self.rate = rate
        self._chunks: list[bytes] = []
        self.t_start = time.monotonic()
        self._proc = subprocess.Popen(
            [
                "parec",
                "-d",
                "vspeaker.monitor",
                f"--rate={rate}",
                "--channels=1",
                "--format=s16le",
                "--raw",
                "--latency-msec=50",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        self._reader = threading.Thread(target=self._read, name="voicelive-parec", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stdout = self._proc.stdout
        assert stdout is not None
        fd = stdout.fileno()
        while chunk := os.read(fd, 65536):
            self._chunks.append(chunk)

    @property
    def samples_so_far(self) -> int:
        """Samples received so far (cheap progress check)."""
        return sum(len(c) for c in list(self._chunks)) // 2

    def wait_until(self, t: float, timeout: float = 10.0) -> bool:
        """Block until the recording reaches monotonic time ``t`` (what was heard then is in it).

        Counts samples received since ``t_start``: parec may lag behind on a loaded machine,
        and stopping it early loses what it has not read yet.  True if reached in time.
        """
        need = (t - self.t_start) * self.rate
        deadline = time.monotonic() + timeout
        while self.samples_so_far < need:
            if time.monotonic() > deadline or self._proc.poll() is not None:
                return False
            time.sleep(0.01)
        return True

    def stop(self) -> np.ndarray:
        """Stop recording; return everything recorded (int16, mono)."""
        if self._proc.poll() is None:
            self._proc.terminate()
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(5)
        self._reader.join(5)
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        data = b"".join(self._chunks)
        return np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").copy()

    def __enter__(self) -> SpeakerRecording:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class MicPlayback:
    """Audio being played into the virtual mic (see :meth:`VirtualAudio.play_into_mic`).

    Attributes:
        t_start: Monotonic time playback was requested.
        duration_s: Length of the audio.
    """

    def __init__(self, t_start: float, duration_s: float, proc: subprocess.Popen[bytes] | None) -> None:
        self.t_start = t_start
        self.duration_s = duration_s
        self._proc = proc

    @property
    def done(self) -> bool:
        """True once the audio has played (by the clock, plus 100 ms of slack)."""
        if self._proc is not None:
            return self._proc.poll() is not None
        return time.monotonic() >= self.t_start + self.duration_s + 0.1

    def wait(self, timeout: float | None = None) -> None:
        """Block until the audio has played."""
        if self._proc is not None:
            self._proc.wait(timeout)
            return
        remaining = self.t_start + self.duration_s + 0.1 - time.monotonic()
        if remaining > 0:
            time.sleep(remaining if timeout is None else min(timeout, remaining))


class VirtualAudio:
    """Start a private PulseAudio daemon with a virtual mic (``vmic``) and speaker (``vspeaker``).

    Args:
        rate: Sample rate of the virtual devices (Hz).
        settle_s: Wait after start-up before streams are opened (the null sinks need a
            moment to switch to small render blocks; 2 s was measured as safe).
        timeout_s: How long to wait for the daemon to accept connections.

    Attributes:
        input_device: sounddevice device name for the virtual mic (``"pulse"``).
        output_device: sounddevice device name for the virtual speaker (``"pulse"``).
        server: The ``PULSE_SERVER`` string (``unix:/tmp/.../native``).
    """

    input_device = "pulse"
    output_device = "pulse"

    def __init__(self, rate: int = 24000, settle_s: float = 2.0, timeout_s: float = 15.0) -> None:
        self.rate = rate
        self.settle_s = settle_s
        self.timeout_s = timeout_s
        self.dir: Path | None = None
        self.server = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._old_env: dict[str, str | None] = {}
        self._children: list[subprocess.Popen[bytes]] = []
        self._n_played = 0

    @property
    def pid(self) -> int | None:
        """Process id of our daemon, while it runs."""
        return self._proc.pid if self._proc is not None else None

    @property
    def env(self) -> dict[str, str]:
        """Environment for command-line clients (pactl, paplay, parec) talking to our daemon."""
        env = dict(os.environ)
        env["PULSE_SERVER"] = self.server
        return env

    def start(self) -> VirtualAudio:
        """Start the daemon, wait until it is ready, point this process's PortAudio at it."""
        if self._proc is not None:
            return self
        for tool in ("pulseaudio", "pactl", "paplay", "parec"):
            if shutil.which(tool) is None:
                raise VirtualAudioError(
                    f"{tool} not found: install PulseAudio with "
                    "`sudo apt-get install pulseaudio pulseaudio-utils libasound2-plugins`"
                )
        d = Path(tempfile.mkdtemp(prefix="voicelive-pulse-"))
        d.chmod(0o700)
        self.dir = d
        sock = d / "native"
        (d / "default.pa").write_text(_CONFIG.format(socket=sock, rate=self.rate))
        env = dict(os.environ)
        env.update(XDG_RUNTIME_DIR=str(d), HOME=str(d), PULSE_RUNTIME_PATH=str(d / "pulse"))
        env.pop("PULSE_SERVER", None)
        log = (d / "pulse.log").open("wb")
        try:
            self._proc = subprocess.Popen(
                [
                    "pulseaudio",
                    "-n",
                    "-F",
                    str(d / "default.pa"),
                    "--daemonize=no",
                    "--exit-idle-time=-1",
                    "--use-pid-file=no",
                    "--system=no",
                    "--disallow-exit=no",
                    "--log-target=stderr",
                ],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                preexec_fn=_die_with_parent,
            )
        finally:
            log.close()
        self.server = f"unix:{sock}"
        try:
            self._wait_ready(sock)
        except BaseException:
            self.stop()
            raise
        ours = {"PULSE_SERVER": self.server, "PULSE_SINK": "vspeaker", "PULSE_SOURCE": "vmic"}
        self._old_env = {k: os.environ.get(k) for k in ours}
        os.environ.update(ours)
        try:
            from voicelive_nb.audio import devices

            devices.reinitialize()
        except Exception:  # PortAudio missing: the CLI tools still work
            pass
        if self.settle_s > 0:
            time.sleep(self.settle_s)
        return self

    def _wait_ready(self, sock: Path) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise VirtualAudioError(f"pulseaudio exited with code {self._proc.returncode}: {self._log_tail()}")
            if sock.exists():
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    try:
                        s.connect(str(sock))
                    except OSError:
                        pass
                    else:
                        r = subprocess.run(
                            ["pactl", "list", "short", "sinks"], env=self.env, capture_output=True, timeout=10
                        )
                        if r.returncode == 0 and b"vspeaker" in r.stdout and b"hole" in r.stdout:
                            return
            time.sleep(0.05)
        raise VirtualAudioError(f"pulseaudio did not become ready in {self.timeout_s} s: {self._log_tail()}")

    def _log_tail(self) -> str:
        if self.dir is None:
            return ""
        try:
            return (self.dir / "pulse.log").read_text(errors="replace")[-800:]
        except OSError:
            return ""

    def play_into_mic(self, audio: AudioInput, wait: bool = True) -> MicPlayback:
        """Play a WAV path or int16 array into the virtual mic (sink ``vmicsink``).

        The audio is uploaded to the daemon's sample cache and played by the daemon itself
        (``pactl upload-sample`` + ``play-sample``), so a loaded machine cannot starve a client
        and insert silence (``paplay`` did, under load).  Audio longer than 5 minutes (the
        cache limit) is streamed with ``paplay`` and a 200 ms buffer instead.

        With ``wait`` (default) returns once it has played; else at once.
        """
        self._require()
        assert self.dir is not None
        self._n_played += 1
        samples = load_audio(audio, self.rate)
        path = write_wav(self.dir / f"mic-{self._n_played}.wav", samples, self.rate)
        duration = samples.shape[0] / self.rate
        if duration <= 300:
            name = f"mic{self._n_played}"
            self.pactl("upload-sample", str(path), name)
            self.pactl("play-sample", name, "vmicsink")
            playback = MicPlayback(time.monotonic(), duration, None)
        else:
            proc = subprocess.Popen(
                ["paplay", "-d", "vmicsink", "--latency-msec=200", str(path)],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )
            self._children.append(proc)
            playback = MicPlayback(time.monotonic(), duration, proc)
        if wait:
            playback.wait()
        return playback

    def record_speaker(self) -> SpeakerRecording:
        """Start recording what the virtual speaker plays; ``.stop()`` returns the samples."""
        self._require()
        return SpeakerRecording(self.env, self.rate)

    def pactl(self, *args: str) -> str:
        """Run ``pactl`` against our daemon and return its output."""
        self._require()
        r = subprocess.run(["pactl", *args], env=self.env, capture_output=True, timeout=10, check=False)
        if r.returncode != 0:
            raise VirtualAudioError(f"pactl {' '.join(args)} failed: {r.stderr.decode(errors='replace')}")
        return r.stdout.decode()

    def _require(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            raise VirtualAudioError("VirtualAudio is not running: call start() or use it as a context manager")

    def stop(self) -> None:
        """Stop clients we started and the daemon; restore ``PULSE_*`` variables; remove the temp dir."""
        for child in self._children:
            if child.poll() is None:
                child.terminate()
            try:
                child.wait(5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(5)
            if child.stderr is not None:
                child.stderr.close()
        self._children.clear()
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
            if os.environ.get("PULSE_SERVER") == self.server:  # not if a later instance took over
                for key, old in self._old_env.items():
                    if old is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = old
            try:
                from voicelive_nb.audio import devices

                devices.reinitialize()
            except Exception:
                pass
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> VirtualAudio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
