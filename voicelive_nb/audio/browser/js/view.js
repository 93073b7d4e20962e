// voicelive-nb browser audio link: the strip a view shows (Start button, mic and speaker
// meters, status line). Python puts this file before link.js in the widget's one ESM module;
// the Link it paints lives there.
class View {
  constructor(link, el) {
    this.link = link;
    el.classList.add("vlnb-browser-audio");
    this.root = el;
    this.button = document.createElement("button");
    this.button.className = "vlnb-ba-start";
    this.button.textContent = "Start audio";
    this.button.addEventListener("click", () => link.resume());
    const meters = document.createElement("div");
    meters.className = "vlnb-ba-meters";
    this.mic = this.bar(meters, "mic");
    this.spk = this.bar(meters, "speaker");
    this.status = document.createElement("span");
    this.status.className = "vlnb-ba-status";
    el.append(this.button, meters, this.status);
    // a suspended context resumes on any trusted click or key press in the widget
    this.gesture = () => {
      if (link.needsGesture()) link.resume();
    };
    el.addEventListener("pointerdown", this.gesture);
    el.addEventListener("keydown", this.gesture);
    link.views.add(this);
    this.paint();
  }

  bar(parent, label) {
    const box = document.createElement("span");
    box.className = "vlnb-ba-meter";
    box.title = label;
    const name = document.createElement("span");
    name.className = "vlnb-ba-label";
    name.textContent = label;
    const track = document.createElement("span");
    track.className = "vlnb-ba-track";
    const fill = document.createElement("span");
    fill.className = `vlnb-ba-fill vlnb-ba-${label}`;
    track.append(fill);
    box.append(name, track);
    parent.append(box);
    return fill;
  }

  paint() {
    // (only what changed is written: every DOM write costs the page a style and layout pass)
    const l = this.link;
    const set = (obj, key, value) => {
      if (obj[key] !== value) obj[key] = value;
    };
    set(this.root.dataset, "state", l.state);
    set(this.root.dataset, "transport", l.binUp && l.binDown ? "binary" : "base64");
    set(this.status, "textContent", l.text());
    const show = ["idle", "suspended", "stopped", "denied", "nomic", "error"].includes(l.state);
    set(this.button.style, "display", show ? "" : "none");
    set(this.button, "textContent", l.state === "suspended" ? "Click to start audio" : "Start audio");
    const pct = (x) => `${Math.round(50 * Math.min(1, Math.max(0, x))) * 2}%`; // 2 % steps
    set(this.mic.style, "width", pct(Math.sqrt(l.micLevel)));
    set(this.spk.style, "width", pct(Math.sqrt(l.spkLevel)));
    l.micLevel *= 0.6; // fall back when no frames come (stopped, paused)
    l.spkLevel *= 0.6;
  }

  remove() {
    this.link.views.delete(this);
    this.root.removeEventListener("pointerdown", this.gesture);
    this.root.removeEventListener("keydown", this.gesture);
  }
}
