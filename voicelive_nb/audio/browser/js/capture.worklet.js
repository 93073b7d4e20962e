// voicelive-nb capture worklet: mic (context rate, float) -> 24 kHz mono PCM16 chunks.
//
// Runs on the audio rendering thread. Per input sample: a windowed-sinc low-pass
// (cut-off 0.45 x 24 kHz, so nothing above 12 kHz folds back), then linear
// interpolation at 24 kHz. Every `frames` frames of FRAME samples (480 = 20 ms) it
// posts {pcm: Int16Array (transferred), n: frames, ct: context time of the first
// sample, rms, peak} to the main thread: one message per chunk the page sends, so a
// busy main thread is woken as rarely as possible. A chunk's array is the only
// allocation, and it is handed over (transferred), not copied.
const OUT_RATE = 24000;
const TAPS = 31;

class VlnbCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = (options && options.processorOptions) || {};
    this.frame = o.frame || 480;
    this.frames = Math.max(1, o.frames || 1);
    this.chunk = this.frame * this.frames;
    this.step = sampleRate / OUT_RATE; // input samples per output sample
    this.bypass = Math.abs(sampleRate - OUT_RATE) < 1;
    // low-pass kernel (Blackman-windowed sinc), normalised to unity gain at DC
    const fc = (0.45 * OUT_RATE) / sampleRate;
    this.h = new Float32Array(TAPS);
    let sum = 0;
    for (let i = 0; i < TAPS; i++) {
      const m = i - (TAPS - 1) / 2;
      const sinc = m === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * m) / (Math.PI * m);
      const w = 0.42 - 0.5 * Math.cos((2 * Math.PI * i) / (TAPS - 1)) + 0.08 * Math.cos((4 * Math.PI * i) / (TAPS - 1));
      this.h[i] = sinc * w;
      sum += this.h[i];
    }
    for (let i = 0; i < TAPS; i++) this.h[i] /= sum;
    this.hist = new Float32Array(TAPS * 2); // doubled history: a contiguous window without modulo
    this.hpos = 0;
    this.prev = 0; // last filtered sample
    this.pos = 0; // position of the next output sample, in filtered-input samples after `prev`
    this.out = new Int16Array(this.chunk);
    this.n = 0;
    this.sq = 0;
    this.peak = 0;
    this.frameCt = -1;
    this.on = true;
    this.port.onmessage = (e) => {
      if (e.data && e.data.type === "stop") this.on = false;
    };
  }

  emit(v, t) {
    if (this.n === 0) this.frameCt = t;
    const s = v > 1 ? 1 : v < -1 ? -1 : v;
    this.out[this.n++] = s < 0 ? s * 32768 : s * 32767;
    this.sq += s * s;
    const a = s < 0 ? -s : s;
    if (a > this.peak) this.peak = a;
    if (this.n === this.chunk) {
      const pcm = this.out;
      this.port.postMessage(
        { type: "chunk", pcm, n: this.frames, ct: this.frameCt, rms: Math.sqrt(this.sq / this.chunk), peak: this.peak },
        [pcm.buffer],
      );
      this.out = new Int16Array(this.chunk);
      this.n = 0;
      this.sq = 0;
      this.peak = 0;
    }
  }

  process(inputs, outputs) {
    if (!this.on) return false;
    const input = inputs[0];
    const x = input && input.length ? input[0] : null;
    const n = x ? x.length : 128;
    const t0 = currentTime;
    if (this.bypass) {
      for (let i = 0; i < n; i++) this.emit(x ? x[i] : 0, t0 + i / sampleRate);
      return true;
    }
    const h = this.h;
    for (let i = 0; i < n; i++) {
      const v = x ? x[i] : 0;
      this.hist[this.hpos] = v;
      this.hist[this.hpos + TAPS] = v;
      this.hpos = (this.hpos + 1) % TAPS;
      let y = 0;
      for (let k = 0, j = this.hpos; k < TAPS; k++, j++) y += h[k] * this.hist[j];
      // output samples that fall between the previous filtered sample and this one
      while (this.pos <= 1) {
        this.emit(this.prev + (y - this.prev) * this.pos, t0 + (i - 1 + this.pos) / sampleRate);
        this.pos += this.step;
      }
      this.pos -= 1;
      this.prev = y;
    }
    return true;
  }
}

registerProcessor("vlnb-capture", VlnbCapture);
