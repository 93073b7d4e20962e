"""``voicelive-nb demo``: a headless end-to-end run, WAV in, WAV out, latency table.

By default it starts the bundled emulator, speaks a few synthesised prompts
(:mod:`voicelive_nb.speech.prompts`) into the session through a WAV "mic", captures what
the assistant says into ``OUT/speaker.wav``, records the whole session into
``OUT/recording`` and prints one line per turn with its latencies::

    voicelive-nb demo                              # 3 prompts, runs/demo-<time>
    voicelive-nb demo --wav question.wav --out runs/q
    voicelive-nb demo --endpoint https://<resource>.services.ai.azure.com   # key from env/.env
    voicelive-nb demo --endpoint emulator          # the bundled emulator even when Azure is configured

The connection is resolved as everywhere else (``ConnectionSettings.resolve``): ``--endpoint``,
else ``AZURE_VOICELIVE_ENDPOINT`` / ``AZURE_VOICELIVE_API_KEY`` ... from the environment, else
``./.env``; with nothing configured, the bundled emulator.

Exit code 0 when every turn got a reply, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from voicelive_nb.audio.sources import FiniteSource
from voicelive_nb.metrics import LATENCY_STAGES
from voicelive_nb.speech.prompts import DEMO_PROMPTS

__all__ = ["add_arguments", "format_turns", "main", "run_demo"]

_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("#", "index", 3),
    ("speech s", "duration_ms", 8),
    *((f"{s.label} ms", s.field, max(9, len(s.label) + 3)) for s in LATENCY_STAGES),
    ("v2v ms", "voice_to_voice_ms", 7),
    ("status", "status", 10),
)
"""(header, Turn attribute, width): the stages named as in the panel, plots and report."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``voicelive-nb demo``."""
    parser.add_argument("--wav", type=Path, help="WAV file to speak into the session (default: synthesised prompts)")
    parser.add_argument("--out", type=Path, help="output folder (default: runs/demo-<time>)")
    parser.add_argument(
        "--turns", type=int, default=len(DEMO_PROMPTS), help=f"prompts to speak (default {len(DEMO_PROMPTS)})"
    )
    parser.add_argument(
        "--endpoint",
        help="Voice Live endpoint, or 'emulator' (default: AZURE_VOICELIVE_ENDPOINT from the environment or "
        ".env, else the bundled emulator); key from AZURE_VOICELIVE_API_KEY",
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="give up after this many seconds")
    parser.add_argument("--quiet", action="store_true", help="print only the table")
    parser.add_argument(
        "--notebook",
        type=Path,
        help="run this notebook headless in a Jupyter kernel instead (make demo: notebooks/quickstart.ipynb)",
    )


def format_turns(turns: Iterable[Any]) -> str:
    """A plain-text table of turns (``metrics.Turn`` objects) with their latencies."""
    header = "  ".join(name.rjust(width) for name, _, width in _COLUMNS) + "  you said -> assistant said"
    lines = [header, "-" * len(header)]
    for turn in turns:
        cells = []
        for _, attr, width in _COLUMNS:
            value = getattr(turn, attr, None)
            if attr == "duration_ms" and value is not None:
                value = value / 1000.0
            if isinstance(value, float):
                text = f"{value:.2f}" if attr == "duration_ms" else f"{value:.0f}"
            else:
                text = "-" if value is None else str(value)
            cells.append(text.rjust(width))
        said = _short(getattr(turn, "user_transcript", None))
        reply = _short(getattr(turn, "assistant_transcript", None))
        flag = " [interrupted]" if getattr(turn, "interrupted", False) else ""
        lines.append("  ".join(cells) + f"  {said} -> {reply}{flag}")
    return "\n".join(lines)


def _short(text: str | None, width: int = 40) -> str:
    if not text:
        return "…"
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def run_demo(
    *,
    wav: Path | None = None,
    out: Path | None = None,
    turns: int = len(DEMO_PROMPTS),
    endpoint: str | None = None,
    timeout: float = 120.0,
    log: TextIO | None = sys.stdout,
) -> dict[str, Any]:
    """Run the demo; returns ``turns`` (Turn list), ``summary``, ``out`` and ``state``.

    A run that records nothing (the endpoint cannot be reached, no credential ...) leaves no
    output folder behind.
    """
    if turns < 1:
        raise ValueError(f"--turns must be >= 1, got {turns}")
    if wav is not None and not Path(wav).is_file():
        raise ValueError(f"--wav {wav}: no such file; pass an existing PCM WAV file")
    out = Path(out) if out is not None else Path("runs") / time.strftime("demo-%Y%m%d-%H%M%S")
    if (out / "recording" / "events.jsonl").exists():
        raise ValueError(f"--out {out} already holds a recording; choose a new folder")
    made = [d for d in (out, *out.parents) if not d.exists()]  # removed again if nothing gets recorded
    out.mkdir(parents=True, exist_ok=True)
    try:
        return _run(out, wav, turns, endpoint, timeout, log)
    finally:
        _discard_if_nothing_recorded(out, made)


def _discard_if_nothing_recorded(out: Path, made: list[Path]) -> None:
    """A run that recorded nothing (it never connected) leaves no folder behind; data is never removed."""
    from voicelive_nb.recording.recorder import discard_if_empty

    recording = out / "recording"
    if recording.exists():
        if not discard_if_empty(recording):
            return  # something was recorded: everything stays
        with contextlib.suppress(FileNotFoundError):  # this run's speaker capture: silence only
            (out / "speaker.wav").unlink()
    for folder in made:  # innermost first; stops at the first that holds anything
        try:
            folder.rmdir()
        except OSError:
            return


def _run(
    out: Path, wav: Path | None, turns: int, endpoint: str | None, timeout: float, log: TextIO | None
) -> dict[str, Any]:
    from voicelive_nb.config import SessionConfig
    from voicelive_nb.connection import ConnectionSettings, session_config_from_env
    from voicelive_nb.session.voice_session import VoiceSession
    from voicelive_nb.speech.prompts import PromptMic

    # Resolved like every other entry point: --endpoint, else AZURE_VOICELIVE_* variables, else
    # .env; nothing configured (or "emulator") = the bundled emulator.
    settings = ConnectionSettings.resolve(endpoint=endpoint)
    config = session_config_from_env(SessionConfig(transcription_model="whisper-1"))

    def say(text: str) -> None:
        if log is not None:
            print(text, file=log, flush=True)

    mic: Any
    if wav is not None:
        mic = str(wav)
        say(f"demo: speaking {wav} into {settings.describe()['endpoint']}; output in {out}")
    else:
        mic = PromptMic()
        texts = [DEMO_PROMPTS[i % len(DEMO_PROMPTS)] for i in range(turns)]
        say(f"demo: {turns} spoken prompts to {settings.describe()['endpoint']}; output in {out}")
    session = VoiceSession(
        config, connection=settings, mic=mic, speaker=str(out / "speaker.wav"), record=out / "recording"
    )
    deadline = time.monotonic() + timeout
    with session:
        # raises SessionFailedError with the cause at once if the endpoint cannot be reached
        session.wait_for("session.updated", timeout=max(0.1, deadline - time.monotonic()), since=0)
        if isinstance(mic, PromptMic):
            _take_turns(session, mic, texts, deadline, say)
        _wait_until_done(session, deadline)
    if session.failure is not None:
        from voicelive_nb.session import SessionFailedError

        raise SessionFailedError(session.failure)
    tracker = session.tracker
    turn_list = tracker.turns if tracker is not None else []
    return {
        "turns": turn_list,
        "summary": tracker.summary() if tracker is not None else {},
        "out": out,
        "state": session.state,
        "counters": session.counters,
    }


def _take_turns(session: Any, mic: Any, texts: list[str], deadline: float, say: Any) -> None:
    """Speak each prompt after the assistant finished answering the previous one."""
    from voicelive_nb.speech.prompts import synthesize

    for text in texts:
        pcm = synthesize(text)
        said = time.monotonic()
        say(f"  you: {text}")
        mic.say(pcm)
        try:
            session.wait_for("response.done", timeout=max(0.1, deadline - time.monotonic()), since=said)
        except TimeoutError:
            say("  (no answer before the timeout)")
            break
        while session.assistant_busy and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.8)  # a natural pause before the next turn
    mic.close()


def _wait_until_done(session: Any, deadline: float) -> None:
    """Until the mic was all sent and the assistant has finished replying (or time is up)."""
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        if session.state == "failed":
            return
        mic = session.mic
        idle = isinstance(mic, FiniteSource) and mic.finished and not session.assistant_busy
        now = time.monotonic()
        if idle:
            quiet_since = quiet_since or now
            if now - quiet_since >= 1.0:
                return
        else:
            quiet_since = None
        time.sleep(0.1)


def main(args: argparse.Namespace) -> int:
    """Entry point of ``voicelive-nb demo``."""
    if args.notebook is not None:
        from voicelive_nb.cli.demo_notebook import run_notebook_demo

        out = args.out if args.out is not None else Path("runs") / time.strftime("demo-%Y%m%d-%H%M%S")
        return run_notebook_demo(args.notebook, out, timeout=args.timeout * 2.5, endpoint=args.endpoint)
    from voicelive_nb.session import SessionFailedError

    try:
        result = run_demo(
            wav=args.wav,
            out=args.out,
            turns=args.turns,
            endpoint=args.endpoint,
            timeout=args.timeout,
            log=None if args.quiet else sys.stdout,
        )
    except SessionFailedError as exc:
        print(f"voicelive-nb demo: {exc}", file=sys.stderr)
        return 1
    turns = result["turns"]
    print(format_turns(turns))
    replied = [t for t in turns if t.first_played is not None]
    if not args.quiet:
        print(f"\n{len(replied)}/{len(turns)} turns answered; state {result['state']}; counters {result['counters']}")
        print(f"recording: {result['out'] / 'recording'}   speaker capture: {result['out'] / 'speaker.wav'}")
    if (result["out"] / "recording" / "events.jsonl").exists():
        from voicelive_nb.recording.recording import Recording
        from voicelive_nb.report.html import report_png

        png = report_png(Recording.load(result["out"] / "recording"), result["out"] / "report.png")
        if not args.quiet:
            print(f"report: {png}")
    return 0 if turns and len(replied) == len(turns) else 1


if __name__ == "__main__":  # pragma: no cover
    from voicelive_nb.cli import main as cli_main

    sys.exit(cli_main(["demo", *sys.argv[1:]]))
