// voicelive-nb browser audio link: the page half (an anywidget ESM module).
//
// The page is the sound card of a kernel that has none: the mic is captured here
// (getUserMedia -> capture worklet -> 24 kHz PCM16) and sent to the kernel over the
// widget's comm; the assistant's audio comes back and plays through a worklet ring.
// Messages carry binary buffers (base64 in the JSON only where a frontend drops
// buffers, found by the hello round trip). Python: voicelive_nb/audio/browser/link.py;
// the message vocabulary: messages.py; the strip a view shows: view.js (put before this file).
//
// Two AudioContexts: `ctx` plays (the playback worklet) and `cctx` captures (the mic's
// worklet; created when the mic is wanted). At a barge-in flush the page *cuts* its output:
// the playback worklet drops its ring at once and the page suspends `ctx` and resumes it
// straight away. Suspending takes the context's output out of Chromium's audio service, and
// the audio Chromium held for it is dropped instead of played out. What the sound server
// already has still plays: while the mic is captured with echo cancellation (as here),
// Chromium mixes all output into one stream that a cut does not flush, and on PulseAudio the
// sink plays ~30 ms (20-44) more after suspend() resolves; without that capture, 1-3 ms
// (measured at the null sink by bench/cut_probe.py; close() or setSinkId none do no better).
// The count the page reports as played is what was heard up to the cut (from the worklet's
// render history and the output timestamp), so with the echo-cancelled mic it is short of
// what reached the speaker by about that much. The mic's context is never touched: the user
// is speaking over the answer. A context suspended for a cut is not the user-visible
// "suspended" state (that one needs a click).
const CAPTURE_SRC = /*__CAPTURE_SRC__*/ "";
const PLAYBACK_SRC = /*__PLAYBACK_SRC__*/ "";
const FRAME = 480; // samples per capture frame (20 ms at 24 kHz)
const BAD = new Set(["insecure", "vscode", "unsupported"]);

const LINKS = new Map(); // link_id -> Link (initialize and render get different model proxies)

const wallMs = () => performance.timeOrigin + performance.now();

function b64encode(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function b64decode(text) {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out.buffer;
}

function copyOut(dv) {
  // anywidget hands buffers over as DataViews, possibly into a larger ArrayBuffer
  return dv.buffer.slice(dv.byteOffset, dv.byteOffset + dv.byteLength);
}

async function addModule(ctx, src) {
  const url = URL.createObjectURL(new Blob([src], { type: "text/javascript" }));
  try {
    await ctx.audioWorklet.addModule(url);
  } finally {
    URL.revokeObjectURL(url);
  }
}

function heardAt(hist, hct, fallback) {
  // the read position at context time hct, from [[ct, g], ...] (g at the start of each quantum,
  // the last entry = now): it advances at 24 kHz within a quantum, up to the next entry's g
  if (!hist || !hist.length) return fallback;
  if (hct <= hist[0][0]) return hist[0][1];
  for (let i = hist.length - 1; i >= 0; i--) {
    const [ct, g] = hist[i];
    if (ct <= hct) {
      const cap = i + 1 < hist.length ? hist[i + 1][1] : g;
      return Math.min(cap, g + Math.floor((hct - ct) * 24000));
    }
  }
  return fallback;
}

class Link {
  constructor(model) {
    this.model = model;
    this.opts = model.get("options") || {};
    this.texts = model.get("texts") || {};
    this.pid = Math.random().toString(36).slice(2, 10);
    this.chunkFrames = Math.max(1, Math.round((this.opts.chunk_ms || 100) / 20));
    this.views = new Set();
    this.history = []; // [ms, state, AudioContext state] (for tests and bug reports)
    this.state = "idle";
    this.detail = "";
    this.binUp = true; // buffers reach the kernel
    this.binDown = true; // buffers reach the page
    this.helloDone = false;
    this.ctx = null; // playback
    this.cctx = null; // capture
    this.cutting = null; // the cut in progress: a promise of {cw, hct}
    this.cutsPending = 0; // cuts whose report is not out yet (the tap waits for them)
    this.stream = null;
    this.capture = null;
    this.playback = null;
    this.zero = null;
    this.wantMic = false;
    this.starting = null;
    this.seq = 0;
    this.chunkPcm = null;
    this.firstCt = 0;
    // wall ms - context ms for each context, from its least delayed worklet message
    this.cal = { c: { calib: null, next: null, reset: 0 }, p: { calib: null, next: null, reset: 0 } };
    this.inLatencyMs = 0; // the mic track's reported capture latency
    this.offset = 0; // kernel wall ms - page wall ms
    this.bestRtt = Infinity;
    this.rttAt = 0;
    this.lastAck = 0;
    this.busy = false;
    this.lastPing = 0;
    this.pos = null;
    this.events = [];
    this.tap = [];
    this.micLevel = 0;
    this.spkLevel = 0;
    this.sentTimes = [];
    this.stats = { up: 0, down: 0, acks: 0, busy: 0, flushes: 0, underruns: 0, maxUpPerS: 0, lastFlush: null, cuts: 0, cutFails: 0 };
    this.onMsg = (content, buffers) => this.receive(content, buffers || []);
    model.on("msg:custom", this.onMsg);
    window.__vlnbAudio = this;
    // main-thread lag (how late a 50 ms timer fires): what delays the page's audio messages
    this.lags = [];
    this.trips = {};
    let last = performance.now();
    this.lagTimer = setInterval(() => {
      const now = performance.now();
      this.lags.push(now - last - 50);
      if (this.lags.length > 2400) this.lags.shift();
      last = now;
    }, 50);
    const bad = this.environmentProblem();
    if (bad) this.setState(bad);
    this.helloTimer = null;
    this.hello();
  }

  environmentProblem() {
    if (location.protocol === "vscode-webview:" || typeof globalThis.acquireVsCodeApi === "function") return "vscode";
    if (!window.isSecureContext || !navigator.mediaDevices) return "insecure";
    if (!window.AudioWorkletNode || !navigator.mediaDevices.getUserMedia) return "unsupported";
    return null;
  }

  // ------------------------------------------------------------------ messages to the kernel

  send(content, buffers) {
    content.pid = this.pid;
    const now = wallMs();
    this.sentTimes.push(now);
    while (this.sentTimes.length && this.sentTimes[0] < now - 1000) this.sentTimes.shift();
    this.stats.maxUpPerS = Math.max(this.stats.maxUpPerS, this.sentTimes.length);
    this.stats.up++;
    if (buffers && buffers.length && !this.binUp) {
      content.b64 = buffers.map((b) => b64encode(new Uint8Array(b)));
      buffers = [];
    }
    this.model.send(content, undefined, buffers || []);
  }

  hello() {
    if (this.helloDone) return;
    // (force_base64: act as a frontend that drops buffers, to test the fallback in JupyterLab)
    const probe = this.opts.force_base64 ? [] : [new Uint8Array([1, 2, 3, 4]).buffer];
    this.send({ t: "hello", pt: wallMs(), state: this.state }, probe);
    this.helloTimer = setTimeout(() => this.hello(), 1000); // until the kernel answers
  }

  ctxState() {
    // the contexts' state as the user sees it: a context suspended for a cut is running
    const p = this.ctx ? (this.cutting ? "running" : this.ctx.state) : null;
    const c = this.cctx ? this.cctx.state : null;
    if (p === null) return c;
    if (c === null || c === p) return p;
    return p !== "running" ? p : c;
  }

  outLatency() {
    // the playback context's output latency (s); a stream just restarted (after a cut) reads
    // outputLatency 0 for a while: keep the last real figure until it reads again
    const c = this.ctx;
    if (!c) return 0;
    const lat = (c.outputLatency || 0) + (c.baseLatency || 0);
    if (c.outputLatency > 0 || this.lastLat === undefined) this.lastLat = lat;
    return this.lastLat;
  }

  report() {
    const c = this.ctx;
    this.send({
      t: "state",
      state: this.state,
      detail: this.detail,
      ctx_state: this.ctxState(),
      rate: c ? c.sampleRate : 0,
      out_latency: this.outLatency(),
      secure: !!window.isSecureContext,
    });
  }

  // ------------------------------------------------------------------ messages from the kernel

  receive(c, buffers) {
    if (c.to && c.to !== this.pid) return; // for another page showing this widget
    if (c.t === "taken") {
      // a newer page (a reload, a second tab) took the link over
      clearTimeout(this.helloTimer);
      this.stop();
      this.setState("other_page");
      return;
    }
    this.stats.down++;
    if (typeof c.kw === "number") {
      // kernel -> page trip of each message kind (ms, the offset estimate applied)
      const trips = (this.trips[c.t] = this.trips[c.t] || []);
      trips.push(wallMs() - (c.kw - this.offset));
      if (trips.length > 2000) trips.shift();
    }
    let bufs = buffers.map(copyOut);
    if (c.b64) bufs = c.b64.map(b64decode);
    if (c.ack) this.onAck(c.ack);
    switch (c.t) {
      case "hello": {
        clearTimeout(this.helloTimer);
        this.helloDone = true;
        this.binUp = !!c.got;
        const b = bufs.length ? new Uint8Array(bufs[0]) : null;
        this.binDown = !this.opts.force_base64 && !!b && b.length === 4 && b[0] === 5 && b[3] === 8;
        this.onAck({ pt: c.pt, kt: c.kt, ks: c.ks });
        this.send({ t: "hello2", down: this.binDown });
        this.report();
        if (c.start) this.start(!!c.mic);
        break;
      }
      case "start":
        this.start(!!c.mic);
        break;
      case "stop":
        this.stop();
        break;
      case "pcm":
        if (this.playback && bufs.length) {
          const pcm = new Int16Array(bufs[0]);
          this.playback.port.postMessage({ type: "pcm", g: c.g, pcm }, [pcm.buffer]);
        }
        break;
      case "end":
        if (this.playback) this.playback.port.postMessage({ type: "end" });
        break;
      case "flush":
        this.flushRx = wallMs(); // (the page's half of the barge-in time starts here)
        if (!this.playback) this.send({ t: "flushed", fid: c.fid, g: null });
        else if (this.opts.cut !== false && (this.cutting || this.ctx.state === "running")) this.cut(c.fid);
        else this.playback.port.postMessage({ type: "flush", fid: c.fid });
        break;
      case "ack":
        break;
      default:
        break;
    }
  }

  onAck(a) {
    const now = wallMs();
    this.lastAck = now;
    this.stats.acks++;
    if (typeof a.pt === "number" && typeof a.kt === "number") {
      // NTP's four timestamps: page sent pt, kernel got it at kt and answered at ks, page got it now
      const ks = typeof a.ks === "number" ? a.ks : a.kt;
      const rtt = now - a.pt - (ks - a.kt);
      // keep the least delayed round trip of the last 20 s: it gives the best offset
      if (rtt <= this.bestRtt || now - this.rttAt > 20000) {
        this.bestRtt = rtt;
        this.rttAt = now;
        this.offset = (a.kt - a.pt + (ks - now)) / 2;
      }
    }
    if (this.busy) {
      this.busy = false;
      this.setState("running");
    }
  }

  // ------------------------------------------------------------------ audio graph

  start(mic) {
    this.wantMic = this.wantMic || mic;
    if (BAD.has(this.state)) {
      this.report();
      return this.starting;
    }
    if (!this.starting) this.starting = this.open().finally(() => (this.starting = null));
    return this.starting;
  }

  async open() {
    if (this.state !== "running" && this.state !== "suspended") this.setState("starting");
    try {
      if (!this.ctx) {
        this.ctx = new AudioContext({ latencyHint: "interactive" });
        this.ctx.onstatechange = () => this.contextChanged();
        await addModule(this.ctx, PLAYBACK_SRC);
      }
      if (this.wantMic && !this.cctx) {
        this.cctx = new AudioContext({ latencyHint: "interactive" });
        this.cctx.onstatechange = () => this.contextChanged();
        await addModule(this.cctx, CAPTURE_SRC);
        this.zero = this.cctx.createGain();
        this.zero.gain.value = 0;
        this.zero.connect(this.cctx.destination);
      }
      if (!this.playback) {
        this.playback = new AudioWorkletNode(this.ctx, "vlnb-playback", {
          numberOfInputs: 0,
          numberOfOutputs: 1,
          outputChannelCount: [1],
          processorOptions: { prebuffer_ms: this.opts.prebuffer_ms || 100, report_ms: this.opts.chunk_ms || 100, tap: !!this.opts.tap },
        });
        this.playback.port.onmessage = (e) => this.fromPlayback(e.data);
        this.playback.connect(this.ctx.destination);
      }
      if (this.wantMic && !this.capture) {
        this.stream = await navigator.mediaDevices.getUserMedia({
          audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
        });
        const track = this.stream.getAudioTracks()[0];
        const settings = track && track.getSettings ? track.getSettings() : {};
        this.inLatencyMs = typeof settings.latency === "number" ? settings.latency * 1000 : 0;
        const src = this.cctx.createMediaStreamSource(this.stream);
        this.capture = new AudioWorkletNode(this.cctx, "vlnb-capture", {
          numberOfInputs: 1,
          numberOfOutputs: 1,
          processorOptions: { frame: FRAME, frames: this.chunkFrames },
        });
        this.capture.port.onmessage = (e) => this.fromCapture(e.data);
        src.connect(this.capture);
        this.capture.connect(this.zero); // pulled by the graph, heard by nobody
        this.lastAck = wallMs();
      }
      if (!this.contextsRunning()) {
        // never resolves without a user gesture: do not await it
        for (const c of [this.ctx, this.cctx]) if (c && c.state !== "running" && !(c === this.ctx && this.cutting)) c.resume();
        this.setState("suspended");
      } else {
        this.setState("running");
      }
    } catch (err) {
      const name = (err && err.name) || "";
      if (name === "NotAllowedError" || name === "SecurityError") this.setState("denied", String(err.message || err));
      else if (name === "NotFoundError" || name === "OverconstrainedError") this.setState("nomic", String(err.message || err));
      else this.setState("error", String((err && err.message) || err));
    }
  }

  contextsRunning() {
    // every context the page has is running (the playback one counts as running during a cut)
    const p = !this.ctx || this.cutting || this.ctx.state === "running";
    return p && (!this.cctx || this.cctx.state === "running");
  }

  needsGesture() {
    return (this.ctx && this.ctx.state !== "running" && !this.cutting) || (this.cctx && this.cctx.state !== "running");
  }

  contextChanged() {
    if (!this.ctx && !this.cctx) return;
    const closed = [this.ctx, this.cctx].some((c) => c && c.state === "closed");
    if (this.contextsRunning() && !closed && (this.state === "suspended" || this.state === "starting")) {
      this.lastAck = wallMs(); // no frames flowed while suspended: do not take that for a busy kernel
      if (this.capture || !this.wantMic) this.setState("running");
    } else if (!this.contextsRunning() && this.state === "running") {
      this.setState("suspended");
    } else if (!this.cutting) {
      this.report();
    }
  }

  resume() {
    // called from a trusted click or key press in the widget (a user gesture)
    for (const c of [this.ctx, this.cctx]) if (c && c.state !== "running" && !(c === this.ctx && this.cutting)) c.resume();
    if (!this.ctx || (this.wantMic && !this.capture) || ["idle", "stopped", "denied", "nomic", "error"].includes(this.state)) {
      this.start(true);
    }
  }

  cut(fid) {
    // barge-in: the worklet drops its ring now (no fade: nothing it renders from here is heard),
    // and the playback context is suspended, then resumed, which drops the audio Chromium held
    // for it (not what the sound server has: see the top of this file). The played count
    // reported is what was heard up to the cut.
    const ctx = this.ctx;
    const worklet = new Promise((resolve) => (this.cutWaiters = this.cutWaiters || new Map()).set(fid, resolve));
    // the heard clock just before the cut: context time heard at a page time
    const ts = ctx.getOutputTimestamp ? ctx.getOutputTimestamp() : null;
    const lat = (ctx.outputLatency || 0) + (ctx.baseLatency || 0);
    const clock =
      ts && ts.performanceTime > 0 && ts.contextTime > 0
        ? { ct: ts.contextTime, pt: ts.performanceTime }
        : { ct: ctx.currentTime - lat, pt: performance.now() };
    const rx = this.flushRx;
    this.cutsPending++;
    this.playback.port.postMessage({ type: "flush", fid, cut: true });
    if (!this.cutting) {
      this.stats.cuts++;
      this.cutting = ctx.suspend().then(
        () => {
          const pt = performance.now(); // the output stream is stopped: silent from here
          const cut = { cw: performance.timeOrigin + pt, hct: clock.ct + (pt - clock.pt) / 1000, ok: true };
          this.resumeAfterCut(ctx);
          return cut;
        },
        () => {
          this.cutting = null;
          return { ok: false };
        },
      );
    }
    const pending = this.cutting;
    Promise.all([worklet, pending]).then(([m, cut]) => this.cutDone(m, cut, rx));
  }

  resumeAfterCut(ctx) {
    const done = () => {
      if (this.ctx !== ctx) return;
      clearTimeout(timer);
      this.cutting = null;
      const cal = this.cal.p; // the context's clock stood still: map it afresh
      cal.calib = cal.next = null;
      cal.reset = 0;
      if (!(this.state === "running" && this.contextsRunning())) this.contextChanged();
      // (its output latency reads again once the stream runs: tell the kernel if it moved)
      const before = this.lastLat;
      clearTimeout(this.latTimer);
      this.latTimer = setTimeout(() => {
        if (this.ctx === ctx && Math.abs(this.outLatency() - before) > 0.002) this.report();
      }, 1000);
    };
    // (a context that ran before resumes without a new gesture; if it ever does not, say so)
    const timer = setTimeout(() => {
      if (this.ctx !== ctx || ctx.state === "running") return;
      this.stats.cutFails++;
      this.cutting = null;
      this.contextChanged();
    }, 2000);
    ctx.resume().then(done, done);
  }

  cutDone(m, cut, rx) {
    // the worklet's report and the cut's time: what was heard = the render position at the
    // context time heard when the output stopped
    let g = m.g;
    const fw = this.heardWall(m.ct); // (when its silence would be heard without the cut)
    let sw = fw;
    if (cut.ok) {
      // (a second flush during one cut: silent from the cut, or from when it came if later)
      const cw = Math.max(cut.cw, rx);
      g = heardAt(m.hist, cut.hct + (cw - cut.cw) / 1000, m.g);
      sw = Math.min(sw, cw);
      this.cutTap(cw);
    }
    this.cutsPending--;
    this.report_flushed({ ...m, g, dropped: m.recv - g, rendered: m.g, cut: cut.ok ? cut.cw : null, fw }, sw, m.sr);
  }

  cutTap(cw) {
    // the tap shows what was heard: samples rendered but still held when the output was cut are
    // zeroed (the tap holds each block until it has been heard, so none has gone yet)
    for (const t of this.tap) {
      const first = Math.max(0, Math.ceil(((cw - t.tw) * t.rate) / 1000));
      if (first < t.pcm.length) t.pcm.fill(0, first);
    }
  }

  stop() {
    if (this.capture) {
      this.capture.port.postMessage({ type: "stop" });
      this.capture.disconnect();
      this.capture = null;
    }
    if (this.stream) {
      for (const track of this.stream.getTracks()) track.stop(); // the browser's mic indicator goes off
      this.stream = null;
    }
    this.wantMic = false;
    this.chunkPcm = null;
    if (!BAD.has(this.state)) this.setState("stopped");
  }

  calibrate(which, ctEnd) {
    // wall ms of context time (which: "c" capture, "p" playback): the least delayed worklet
    // message of the last 2-4 s (short, so the mapping follows the audio clock when it loses
    // time: a starved audio thread skips)
    const cal = this.cal[which];
    const now = wallMs();
    const d = now - ctEnd * 1000;
    if (cal.calib === null || d < cal.calib) cal.calib = d;
    if (cal.next === null || d < cal.next) cal.next = d;
    if (now > cal.reset) {
      cal.calib = cal.next;
      cal.next = null;
      cal.reset = now + 2000;
    }
  }

  ctWall(which, ct) {
    // when the quantum at context time ct was rendered (page wall ms)
    return ct * 1000 + (this.cal[which].calib || 0);
  }

  heardWall(ct) {
    // when the sample at context time ct leaves the speaker: the output device's own clock
    // mapping (getOutputTimestamp), else the render time plus the reported latencies
    const c = this.ctx;
    const ts = c && c.getOutputTimestamp ? c.getOutputTimestamp() : null;
    if (ts && ts.performanceTime > 0 && ts.contextTime > 0) {
      const heard = performance.timeOrigin + ts.performanceTime + (ct - ts.contextTime) * 1000;
      this.stats.outMapMs = heard - this.ctWall("p", ct); // (the output path's delay, for diagnosis)
      return heard;
    }
    return this.ctWall("p", ct) + this.outLatency() * 1000;
  }

  fromCapture(m) {
    if (m.type !== "chunk") return;
    this.calibrate("c", m.ct + (m.n * FRAME) / 24000);
    this.micLevel = Math.max(this.micLevel, m.peak);
    const now = wallMs();
    if (this.capture && now - this.lastAck > (this.opts.busy_ms || 700)) {
      if (!this.busy) {
        this.busy = true;
        this.stats.busy++;
        this.setState("busy");
      }
      if (now - this.lastPing > 500) {
        this.lastPing = now;
        this.send({ t: "ping", pt: now, off: this.offset });
      }
      this.seq += m.n; // the chunk is dropped: the kernel sees the gap in the sequence
      return; // paused: the kernel cannot take audio now; it would arrive stale
    }
    this.chunkPcm = m.pcm;
    this.firstCt = m.ct;
    this.firstSeq = this.seq;
    this.seq += m.n;
    this.sendUp();
  }

  sendUp() {
    const content = { t: "up", pt: wallMs(), off: this.offset };
    if (this.bestRtt < Infinity) content.rtt = this.bestRtt;
    const buffers = [];
    if (this.chunkPcm) {
      content.seq = this.firstSeq;
      content.n = this.chunkPcm.length / FRAME;
      content.cw = this.ctWall("c", this.firstCt) - this.inLatencyMs;
      buffers.push(this.chunkPcm.buffer);
      this.chunkPcm = null;
    }
    if (this.pos) content.pos = this.pos;
    if (this.events.length) content.ev = this.events.splice(0);
    // the tap's blocks go once heard (until then a cut may still drop part of them), in order
    const now = wallMs();
    let ready = 0;
    while (ready < this.tap.length && this.tap[ready].tw + (this.tap[ready].pcm.length * 1000) / this.tap[ready].rate <= now) ready++;
    if (ready && !this.cutsPending) {
      const blocks = this.tap.splice(0, ready);
      const n = blocks.reduce((a, t) => a + t.pcm.length, 0);
      const pcm = new Int16Array(n);
      let k = 0;
      for (const t of blocks) {
        pcm.set(t.pcm, k);
        k += t.pcm.length;
      }
      content.tap = { tw: blocks[0].tw, rate: blocks[0].rate, i: buffers.length };
      buffers.push(pcm.buffer);
    }
    this.send(content, buffers);
  }

  fromPlayback(m) {
    if (m.type === "pos") this.calibrate("p", m.ct);
    const pw = this.heardWall(m.ct); // playback facts are stamped with when they are heard
    if (m.type === "pos") {
      this.spkLevel = Math.max(this.spkLevel, m.level * 1.4);
      this.pos = { g: m.g, pw, playing: m.playing, underruns: m.underruns };
      this.stats.underruns = m.underruns;
      if (m.tap) this.tap.push({ pcm: m.tap, tw: this.heardWall(m.tapCt), rate: this.ctx.sampleRate });
      // without a running mic, playback facts travel on their own, once per chunk
      if (!this.capture && (m.playing || this.events.length || this.tap.length)) this.sendUp();
    } else if (m.type === "flushed") {
      const waiter = m.hist && this.cutWaiters ? this.cutWaiters.get(m.fid) : null;
      if (waiter) {
        this.cutWaiters.delete(m.fid);
        m.sr = wallMs(); // the worklet renders silence from before this
        // (the tap's block in the making, cut short: stamped now, before the clock stops)
        if (m.tap) this.tap.push({ pcm: m.tap, tw: this.heardWall(m.tapCt), rate: this.ctx.sampleRate });
        waiter(m); // (cutDone reports it, once the cut's time is known)
      } else {
        // sr: the page has rendered silence by now (the render time's upper bound: the context
        // clock's mapping runs early by up to a render burst); sw: silent at the speaker
        this.report_flushed(m, pw, wallMs());
      }
    } else {
      this.events.push({ k: m.type, g: m.g, pw });
    }
  }

  report_flushed(m, sw, sr) {
    this.stats.flushes++;
    this.stats.lastFlush = { fid: m.fid, g: m.g, dropped: m.dropped, sw, cut: m.cut || null };
    const rx = this.flushRx || sr;
    const content = { t: "flushed", fid: m.fid, g: m.g, recv: m.recv, dropped: m.dropped, sw, sr, rx, off: this.offset };
    if (m.cut) Object.assign(content, { cut: m.cut, rendered: m.rendered, fw: m.fw });
    this.send(content);
  }

  // ------------------------------------------------------------------ views

  setState(state, detail) {
    this.history.push([Math.round(performance.now()), state, this.ctxState()]);
    if (this.history.length > 200) this.history.shift();
    this.state = state;
    this.detail = detail || "";
    if (this.helloDone) this.report();
    this.paint();
  }

  paint() {
    for (const v of this.views) v.paint();
  }

  text() {
    const base = this.texts[this.state] || this.state;
    return this.detail ? `${base} (${this.detail})` : base;
  }

  destroy() {
    this.stop();
    this.model.off("msg:custom", this.onMsg);
    clearTimeout(this.helloTimer);
    clearInterval(this.lagTimer);
    for (const c of [this.ctx, this.cctx]) if (c) c.close();
    this.ctx = this.cctx = null;
    if (window.__vlnbAudio === this) delete window.__vlnbAudio;
  }
}

export default {
  initialize({ model }) {
    const id = model.get("link_id");
    const link = new Link(model);
    LINKS.set(id, link);
    return () => {
      link.destroy();
      LINKS.delete(id);
    };
  },
  render({ model, el }) {
    const link = LINKS.get(model.get("link_id"));
    if (!link) return undefined;
    const view = new View(link, el);
    const timer = setInterval(() => view.paint(), 100);
    return () => {
      clearInterval(timer);
      view.remove();
    };
  },
};
