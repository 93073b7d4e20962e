"""How soon a page's Web Audio output falls silent at the sound server, per way of cutting it.

One command::

    .venv/bin/python bench/cut_probe.py              # 20 cuts per method and latency hint
    .venv/bin/python bench/cut_probe.py --cuts 6     # a quick look

It starts a private PulseAudio (``VirtualAudio``: Chromium plays into the null sink
``vspeaker``) and headless Chromium on a plain local page (no JupyterLab), served through
playwright's request routing on ``http://localhost`` (a secure context).  The page plays a
sine tone (oscillator -> gain -> destination) in an AudioContext and, at times it records,
cuts it, one way per configuration:

* ``suspend``: ``ctx.suspend()``, later ``resume()`` (what link.js does today, then resumes at once);
* ``close``: ``ctx.close()``, later a new context;
* ``sinknone``: ``ctx.setSinkId({type: "none"})``, later ``setSinkId("")``;
* ``disconnect``: the gain node disconnected from the destination (synchronous);
* ``gain0``: the gain set to 0 (synchronous; the baseline without a cut: what the page has
  rendered plays out, ~ its output latency).

each with the context's ``latencyHint`` ``"interactive"`` and a number (``--hint``, 0.01 s).
This process records ``vspeaker.monitor`` in 4 ms blocks (``bench/_sink.py``, dated on
``time.monotonic()``) and, per cut, finds when the sink went silent: the end of the last
sample louder than ``LOUD`` after the cut and before the tone is restored.  Page times
(``performance.timeOrigin + performance.now()``, wall ms) are moved onto ``time.monotonic()``
with the offset of the evaluate round trip with the smallest delay (measured before and
after the run; both printed).  Per method and hint: the cut's call -> sink silent, its
promise resolved -> sink silent, the context's ``outputLatency`` / ``baseLatency`` just
before the cut, and the page's own heard lag (render position minus heard position from
``getOutputTimestamp()``).  Also the PulseAudio sink input's buffer and sink latency
(``pactl list sink-inputs``) while each configuration plays.

``--mic aec`` keeps a second context capturing a fake mic with echo cancellation (as link.js
does): then Chromium's audio service plays every output stream through one mixed stream
(``services/audio/output_device_mixer_impl.cc``: it keeps the mixed stream running for the echo
canceller's reference, and a member's Stop() only leaves the mix), so what that stream already
wrote still plays after any cut.

Prints the table; ``--json`` writes the raw cuts.

Measured 2026-12-05 (Chromium 156 headless, load < 0.5, 20 cuts each), resolved -> sink silent
median / p95 ms: without a mic, suspend 1.8 / 26.9 ("interactive"), 3.4 / 4.9 (0.01), close
0.4-1.3, setSinkId none 0.9-1.0, gain 0 / disconnect 37-40 after the call (~ the page's heard
lag); with ``--mic aec``, suspend 30.7-32.2 / 38-41, close 28.5-32.3, setSinkId none 29-32,
gain 0 / disconnect 48-53 after the call.  The residual (20-44 ms, median ~31) is about the mixed
stream's PulseAudio buffer (pactl: 21-37 ms); per cut it was the heard lag minus 17 ms (sd 4-5).
The latencyHint moves nothing (baseLatency 11.6, outputLatency 32 / 45-48 ms either way).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from _figures import Stat  # noqa: E402
from _sink import SinkRecorder  # noqa: E402

SINK = "vspeaker"
LOUD = 300  # |sample| above this is the tone (amplitude ~ 9800 at gain 0.3)
METHODS = ("suspend", "close", "sinknone", "disconnect", "gain0")
URL = "http://localhost/cut_probe.html"

PAGE = """<!doctype html><html><body><script>
const wall = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
window.__log = []; window.__done = false; window.__err = null; window.__phase = "";

async function open(hint) {
  const ctx = new AudioContext({ latencyHint: hint });
  const osc = new OscillatorNode(ctx, { frequency: 441 });
  const gain = new GainNode(ctx, { gain: 0.3 });
  osc.connect(gain).connect(ctx.destination);
  osc.start();
  if (ctx.state !== "running") await ctx.resume();
  return { ctx, osc, gain };
}

function lag(ctx) {
  // rendered minus heard, ms: how far the render position runs ahead of what is heard now
  const ts = ctx.getOutputTimestamp();
  if (!(ts.performanceTime > 0)) return null;
  return (ctx.currentTime - ts.contextTime) * 1000 - (performance.now() - ts.performanceTime);
}

async function cut(a, method) {
  const ctx = a.ctx;
  const call = wall();
  if (method === "suspend") await ctx.suspend();
  else if (method === "close") await ctx.close();
  else if (method === "sinknone") await ctx.setSinkId({ type: "none" });
  else if (method === "disconnect") a.gain.disconnect();
  else if (method === "gain0") a.gain.gain.value = 0;
  return { call, resolved: wall() };
}

async function restore(a, method, hint) {
  if (method === "suspend") await a.ctx.resume();
  else if (method === "close") return await open(hint);
  else if (method === "sinknone") await a.ctx.setSinkId("");
  else if (method === "disconnect") a.gain.connect(a.ctx.destination);
  else if (method === "gain0") a.gain.gain.value = 0.3;
  return a;
}

window.mic = async (aec, nosink) => {
  // a second context capturing the (fake) mic, its output through a zero gain, as link.js does
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: aec, noiseSuppression: aec, autoGainControl: aec },
  });
  const opts = { latencyHint: "interactive" };
  const cctx = new AudioContext(nosink ? { ...opts, sinkId: { type: "none" } } : opts);
  const src = cctx.createMediaStreamSource(stream);
  src.connect(new GainNode(cctx, { gain: 0 })).connect(cctx.destination);
  if (cctx.state !== "running") await cctx.resume();
  window.__mic = { stream, cctx, src };
  return stream.getAudioTracks()[0].getSettings();
};

window.run = async (plan) => {
  try {
    for (const [method, hint, n] of plan) {
      window.__phase = method + " " + hint;
      let a = await open(hint);
      await sleep(1500); // the stream settles (its output latency reads)
      for (let i = 0; i < n; i++) {
        await sleep(450 + Math.random() * 200);
        const ol = a.ctx.outputLatency, bl = a.ctx.baseLatency, lg = lag(a.ctx);
        const t = await cut(a, method);
        const state = a.ctx.state;
        await sleep(450);
        const back = wall();
        a = await restore(a, method, hint);
        window.__log.push({ method, hint: String(hint), i, ...t, back, ol, bl, lag: lg, state, sr: a.ctx.sampleRate });
        if (method === "close") await sleep(300); // a new stream: let it start
      }
      if (a.ctx.state !== "closed") await a.ctx.close();
      await sleep(300);
    }
  } catch (e) { window.__err = String(e && e.stack || e); }
  window.__done = true;
};
</script></body></html>"""


def _offset(page: Any, tries: int = 30) -> tuple[float, float]:
    """(page wall ms - monotonic ms, round trip ms) from the quickest of ``tries`` evaluates."""
    best = (0.0, float("inf"))
    for _ in range(tries):
        t0 = time.monotonic()
        w = page.evaluate("performance.timeOrigin + performance.now()")
        t1 = time.monotonic()
        rtt = (t1 - t0) * 1000
        if rtt < best[1]:
            best = (w - (t0 + t1) * 500, rtt)
    return best


def _sink_inputs(env: dict[str, str]) -> str:
    """Buffer and sink latency of the sink inputs playing now (pactl), one line."""
    r = subprocess.run(["pactl", "list", "sink-inputs"], env=env, capture_output=True, text=True, timeout=10)
    lat = re.findall(r"(Buffer|Sink) Latency: ([0-9]+) usec", r.stdout)
    return " ".join(f"{k.lower()} {int(v) / 1000:.1f}" for k, v in lat) or "-"


def _silent(rec: SinkRecorder, call: float, back: float) -> float | None:
    """Monotonic time the sink went silent after a cut at ``call`` (None: no tone just before it)."""
    ends = rec.loud_ends(call - 0.2, back + 0.005, LOUD)
    before = ends[(ends > call - 0.05) & (ends <= call)]
    if before.size < 100:  # the tone was not playing at the call (within the last 50 ms)
        return None
    after = ends[ends <= back]  # the restored tone reaches the sink later than ``back``
    return float(after[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cuts", type=int, default=20, help="cuts per method and hint (in two passes)")
    ap.add_argument("--hint", type=float, default=0.01, help="the numeric latencyHint (s) beside 'interactive'")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument(
        "--mic",
        choices=("none", "aec", "raw", "aec-nosink"),
        default="none",
        help="a second context capturing a fake mic throughout: with echo cancellation (as link.js) or without;"
        " aec-nosink: with, the capture context on sinkId {type: 'none'} (no output stream)",
    )
    ap.add_argument("--json", type=Path, default=None, help="write the raw cuts here")
    args = ap.parse_args()

    from tests.notebooks.lab import chromium_page
    from voicelive_nb.audio.pulse import VirtualAudio

    methods = args.methods.split(",")
    hints: list[Any] = ["interactive", args.hint]
    half = [max(1, args.cuts // 2), args.cuts - max(1, args.cuts // 2)]
    plan = [[m, h, half[p]] for p in range(2) for m in methods for h in hints if half[p] > 0]
    est = sum(n for _, _, n in plan) * 1.15 + len(plan) * 2.0
    print(f"{len(plan)} blocks, ~{est:.0f} s of cuts", flush=True)

    with VirtualAudio() as va:
        pulse = {"PULSE_SERVER": va.server, "PULSE_SINK": SINK}
        chrome_env = {**os.environ, **pulse}
        args_ = ["--autoplay-policy=no-user-gesture-required"]
        if args.mic != "none":
            args_ += ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
        with chromium_page(extra_args=args_, ignore_default_args=["--mute-audio"], env=chrome_env) as page:
            page.route(URL, lambda route: route.fulfill(status=200, content_type="text/html", body=PAGE))
            page.goto(URL)
            if args.mic != "none":
                print(
                    "mic:",
                    page.evaluate("([a, n]) => window.mic(a, n)", [args.mic != "raw", args.mic == "aec-nosink"]),
                    flush=True,
                )
            off0, rtt0 = _offset(page)
            rec = SinkRecorder(SINK, est + 60).start()
            try:
                time.sleep(0.5)
                page.evaluate("(plan) => { window.run(plan); }", plan)
                lat: dict[str, str] = {}
                deadline = time.monotonic() + est * 2 + 60
                while not page.evaluate("window.__done") and time.monotonic() < deadline:
                    time.sleep(0.7)
                    phase = page.evaluate("window.__phase")
                    if phase and phase not in lat:
                        time.sleep(1.2)
                        lat[phase] = _sink_inputs(va.env)
                err = page.evaluate("window.__err")
                log = page.evaluate("window.__log")
            finally:
                rec.stop()
            off1, rtt1 = _offset(page)
    if err:
        raise SystemExit(f"page error: {err}")
    print(
        f"clock offset page - monotonic: {off0:.2f} ms (rtt {rtt0:.2f}) before, {off1:.2f} ms (rtt {rtt1:.2f}) after;"
        f" sink overflows {rec.overflows}",
        flush=True,
    )
    off = (off0 + off1) / 2
    rows: dict[tuple[str, str], dict[str, list[float]]] = {}
    skipped: dict[tuple[str, str], int] = {}
    for c in log:
        key = (c["method"], c["hint"])
        call, res, back = ((c[k] - off) / 1000 for k in ("call", "resolved", "back"))
        s = _silent(rec, call, back)
        c["silent"] = None if s is None else s * 1000 + off
        if s is None:
            skipped[key] = skipped.get(key, 0) + 1
            continue
        names = ("call", "res", "call2res", "ol", "bl", "lag", "res_minus_ol", "res_minus_lag")
        r = rows.setdefault(key, {k: [] for k in names})
        r["call"].append((s - call) * 1000)
        r["res"].append((s - res) * 1000)
        r["call2res"].append((res - call) * 1000)
        r["ol"].append(c["ol"] * 1000)
        r["bl"].append(c["bl"] * 1000)
        if c["lag"] is not None:
            r["lag"].append(c["lag"])
            r["res_minus_lag"].append((s - res) * 1000 - c["lag"])
        r["res_minus_ol"].append((s - res) * 1000 - c["ol"] * 1000)

    def fig(v: list[float]) -> str:
        return Stat.of(v).text().strip().replace("  ", " ") if v else "-"

    print(
        "\n| method | latencyHint | n | call -> sink silent | resolved -> sink silent | call -> resolved |"
        " outputLatency | baseLatency | page heard lag | resolved->silent minus outputLatency | minus heard lag |"
        " pulse (ms) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (m, h), r in rows.items():
        print(
            f"| {m} | {h} | {len(r['call'])}{f' ({skipped[(m, h)]} skipped)' if (m, h) in skipped else ''} |"
            f" {fig(r['call'])} | {fig(r['res'])} | {fig(r['call2res'])} | {fig(r['ol'])} | {fig(r['bl'])} |"
            f" {fig(r['lag'])} | {fig(r['res_minus_ol'])} | {fig(r['res_minus_lag'])} | {lat.get(f'{m} {h}', '-')} |"
        )
    for k, n in skipped.items():
        if k not in rows:
            print(f"| {k[0]} | {k[1]} | 0 ({n} skipped) |")
    if args.json:
        args.json.write_text(json.dumps({"offset_ms": [off0, off1], "rtt_ms": [rtt0, rtt1], "cuts": log}, indent=1))


if __name__ == "__main__":
    main()
