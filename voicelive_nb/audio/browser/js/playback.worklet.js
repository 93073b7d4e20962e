// voicelive-nb playback worklet: a 24 kHz ring read out at the context rate.
//
// Sample positions are "global": g counts every sample the kernel sent on this link, so
// the kernel can tell from one number how much of what it sent was really played.
//   {type:"pcm", g, pcm: Int16Array}  append (a gap in g is skipped over, an overlap ignored)
//   {type:"end"}                       the stream is complete: play out a tail shorter than
//                                      the prebuffer instead of waiting for more
//   {type:"flush", fid}                at the next render quantum: fade out over <= 3 ms
//                                      (within that quantum), drop the rest, report
//   {type:"flush", fid, cut: true}     the page cuts its output (suspends this context, which
//                                      drops what Chromium holds for it): drop the ring now,
//                                      render silence from here, no fade (nothing rendered from
//                                      here on is heard), and report the render history so the
//                                      page can tell what was heard before the cut
// Posts: {type:"pos", g, ct, playing, level, tap?} every `report` samples while playing,
// {type:"started", g, ct}, {type:"underrun", g, ct}, {type:"drained", g, ct},
// {type:"flushed", fid, g, recv, dropped, ct} (ct = context time the output went silent; g =
// samples rendered), with a cut also hist: [[ct, g], ...] = the read position g at the start of
// each of the last render quanta (and now), oldest first.
// Playing starts (and restarts after an underrun) once `prebuffer` samples are queued.
const IN_RATE = 24000;

class VlnbPlayback extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = (options && options.processorOptions) || {};
    this.cap = Math.round((o.capacity_s || 20) * IN_RATE);
    this.ring = new Float32Array(this.cap);
    this.prebuffer = Math.max(1, Math.round(((o.prebuffer_ms || 100) * IN_RATE) / 1000));
    this.fadeLen = Math.max(1, Math.min(128, Math.round(0.003 * sampleRate)));
    this.step = IN_RATE / sampleRate;
    this.report = Math.round(((o.report_ms || 100) * sampleRate) / 1000);
    this.tapOn = !!o.tap;
    this.w = 0; // global index one past the last sample received
    this.r = 0; // fractional global read position
    this.playing = false;
    this.ended = false;
    this.flushReq = null;
    this.underruns = 0;
    this.overflows = 0;
    this.since = 0;
    this.sq = 0;
    this.cnt = 0;
    this.hist = new Float64Array(2 * 512); // (ct, r) at the start of the last 512 quanta (~1.5 s)
    this.histN = 0;
    if (this.tapOn) {
      this.tap = new Float32Array(this.report + 256);
      this.tapN = 0;
      this.tapCt = 0;
    }
    this.port.onmessage = (e) => this.onMessage(e.data);
  }

  onMessage(m) {
    if (m.type === "pcm") {
      const pcm = m.pcm;
      let g = m.g;
      let k = 0;
      if (g < this.w) k = this.w - g; // overlap: already have it
      else if (g > this.w) {
        // a gap (should not happen: the comm is ordered); continue from the new position
        if (this.r < this.w || !this.playing) this.r = g;
        this.w = g;
      }
      g = this.w;
      const n = pcm.length - k;
      if (n <= 0) return;
      if (this.w + n - this.r > this.cap) {
        this.overflows++;
        this.r = this.w + n - this.cap; // keep the newest: drop the oldest queued audio
      }
      for (let i = 0; i < n; i++) this.ring[(g + i) % this.cap] = pcm[k + i] / 32768;
      this.w += n;
      this.ended = false;
    } else if (m.type === "end") {
      this.ended = true;
    } else if (m.type === "flush") {
      if (m.cut) this.cut(m.fid);
      else this.flushReq = m.fid;
    }
  }

  cut(fid) {
    // the output is being cut: what was rendered but not yet heard is dropped downstream, so
    // the page works out the heard position from this history and the cut's time
    const k = Math.min(this.histN, 512);
    const hist = [];
    for (let j = this.histN - k; j < this.histN; j++) {
      const q = (j % 512) * 2;
      hist.push([this.hist[q], Math.floor(this.hist[q + 1])]);
    }
    const rendered = Math.min(Math.floor(this.r), this.w);
    hist.push([currentTime, rendered]);
    this.flushReq = null;
    this.r = this.w;
    this.playing = false;
    this.ended = false;
    const msg = { type: "flushed", fid, g: rendered, recv: this.w, dropped: this.w - rendered, ct: currentTime, hist };
    const transfer = [];
    if (this.tapOn && this.tapN > 0) {
      msg.tap = this.tapPcm();
      msg.tapCt = this.tapCt;
      transfer.push(msg.tap.buffer);
    }
    this.port.postMessage(msg, transfer);
  }

  tapPcm() {
    // what was rendered since the last post, as PCM16 (and the tap starts afresh)
    const tap = new Int16Array(this.tapN);
    for (let j = 0; j < this.tapN; j++) {
      const v = this.tap[j];
      tap[j] = v < 0 ? Math.max(-32768, v * 32768) : Math.min(32767, v * 32767);
    }
    this.tapN = 0;
    return tap;
  }

  sample() {
    const i0 = Math.floor(this.r);
    const f = this.r - i0;
    const a = this.ring[i0 % this.cap];
    const b = i0 + 1 < this.w ? this.ring[(i0 + 1) % this.cap] : 0;
    return a + (b - a) * f;
  }

  process(inputs, outputs) {
    const out = outputs[0][0];
    const n = out.length;
    let i = 0;
    const q = (this.histN % 512) * 2;
    this.hist[q] = currentTime;
    this.hist[q + 1] = this.r;
    this.histN++;
    if (this.flushReq !== null) {
      const fid = this.flushReq;
      this.flushReq = null;
      const fade = this.playing ? this.fadeLen : 0;
      for (; i < fade && this.r < this.w; i++) {
        out[i] = this.sample() * (1 - (i + 1) / fade);
        this.r += this.step;
      }
      const played = Math.min(Math.floor(this.r), this.w);
      const dropped = this.w - played;
      this.r = this.w;
      this.playing = false;
      this.ended = false;
      this.port.postMessage({ type: "flushed", fid, g: played, recv: this.w, dropped, ct: currentTime + i / sampleRate });
    } else if (!this.playing) {
      const queued = this.w - this.r;
      if (queued >= this.prebuffer || (this.ended && queued > 0)) {
        this.playing = true;
        this.port.postMessage({ type: "started", g: Math.floor(this.r), ct: currentTime });
      }
    }
    if (this.playing) {
      for (; i < n; i++) {
        if (this.r >= this.w || (!this.ended && Math.floor(this.r) + 1 >= this.w)) {
          this.playing = false;
          if (this.ended) {
            this.r = this.w;
            this.ended = false;
            this.port.postMessage({ type: "drained", g: this.w, ct: currentTime + i / sampleRate });
          } else {
            this.underruns++;
            this.port.postMessage({ type: "underrun", g: Math.floor(this.r), ct: currentTime + i / sampleRate, count: this.underruns });
          }
          break;
        }
        const s = this.sample();
        out[i] = s;
        this.sq += s * s;
        this.r += this.step;
      }
    }
    for (let j = i; j < n; j++) out[j] = 0;
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    this.cnt += n;
    if (this.tapOn) {
      if (this.tapN === 0) this.tapCt = currentTime;
      this.tap.set(out, this.tapN);
      this.tapN += n;
    }
    this.since += n;
    if (this.since >= this.report) {
      const msg = {
        type: "pos",
        g: Math.floor(this.r),
        ct: currentTime + n / sampleRate,
        playing: this.playing,
        level: Math.sqrt(this.sq / this.since),
        underruns: this.underruns,
        overflows: this.overflows,
      };
      const transfer = [];
      if (this.tapOn && this.tapN > 0) {
        msg.tap = this.tapPcm();
        msg.tapCt = this.tapCt;
        transfer.push(msg.tap.buffer);
      }
      this.port.postMessage(msg, transfer);
      this.since = 0;
      this.sq = 0;
    }
    return true;
  }
}

registerProcessor("vlnb-playback", VlnbPlayback);
