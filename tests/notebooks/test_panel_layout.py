"""The panel's layout in real JupyterLab (headless Chromium) at three window widths.

JupyterLab's default layout keeps the file browser open, so a 1400 px window leaves the
notebook about 1000 px.  At every width the panel must fit without horizontal scrollbars,
show every control whole (a dropdown whose arrow is cut off looks like a text box), wrap its
messages, and stack its two columns when there is no room for them side by side.
No session is started: this is about the widgets only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest

from .lab import LabPage, chromium_page, running_lab

pytestmark = pytest.mark.browser

LONG_ERROR = "The service refused the credentials (HTTP 401/403). " + "Check the API key or run `az login`. " * 5

CELL = f"""\
from voicelive_nb import Panel

panel = Panel()
panel.state.set_status({LONG_ERROR!r}, error=True)
panel.refresh()
panel
"""

# What overflows, what is cut off, what does not wrap, and where the two columns are.
MEASURE = """() => {
  const panel = document.querySelector('.vlnb-panel');
  const box = (el) => el.getBoundingClientRect();
  const name = (el) => (el.className && el.className.baseVal === undefined ? el.className : el.tagName) || el.tagName;
  const out = {width: Math.round(box(panel).width), scrollbars: [], cut: [], unwrapped: [], columns: null, wide: []};
  const inner = box(panel).right - parseFloat(getComputedStyle(panel).borderRightWidth) - parseFloat(getComputedStyle(panel).paddingRight);
  for (const el of panel.querySelectorAll('*')) {
    if (box(el).right > inner + 0.5 && el.offsetParent !== null) out.wide.push(name(el).slice(-60) + ' ' + Math.round(box(el).right - inner));
  }
  out.wide = out.wide.slice(0, 8);
  const all = [panel, ...panel.querySelectorAll('*')];
  for (const el of all) {
    const cs = getComputedStyle(el);
    if (el.offsetParent === null && el !== panel) continue;  // not displayed (a closed accordion)
    if (['auto', 'scroll'].includes(cs.overflowX) && el.scrollWidth > el.clientWidth + 1) {
      out.scrollbars.push(name(el) + ' ' + el.scrollWidth + '>' + el.clientWidth);
    }
  }
  // every control whole: inside each ancestor that clips (overflow other than visible)
  for (const el of panel.querySelectorAll('select, input, textarea, button')) {
    if (el.offsetParent === null) continue;
    const r = box(el);
    if (r.width === 0) continue;
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const cs = getComputedStyle(a);
      if (cs.overflowX === 'visible') continue;
      const ar = box(a);
      if (r.left < ar.left - 1 || r.right > ar.right + 1) {
        const label = el.closest('.widget-inline-hbox, .jupyter-widget-inline-hbox, .widget-box')?.innerText || '';
        out.cut.push(el.tagName + ' "' + label.split('\\n')[0].slice(0, 30) + '" ' + Math.round(r.right) + '>' + Math.round(ar.right));
        break;
      }
    }
  }
  for (const el of panel.querySelectorAll('.vlnb-badge')) {
    if (el.offsetParent !== null && box(el).right > inner + 1) out.cut.push('badge ' + el.innerText.slice(0, 30));
  }
  for (const el of panel.querySelectorAll('.vlnb-err, .vlnb-status')) {
    if (el.scrollWidth > el.clientWidth + 1) out.unwrapped.push(name(el));
  }
  const left = panel.querySelector('.vlnb-col-controls'), right = panel.querySelector('.vlnb-col-views');
  if (left && right) {
    const l = box(left), r = box(right);
    out.columns = r.top >= l.bottom - 1 ? 'stacked' : (r.left >= l.right - 1 ? 'side by side' : 'overlapping');
  }
  return out;
}"""


@pytest.mark.timeout(300)
def test_panel_fits_at_900_1400_and_1920_px(tmp_path: Path) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(CELL)],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    nbformat.write(nb, root / "layout.ipynb")
    env: dict[str, str | None] = {"AZURE_VOICELIVE_ENDPOINT": None, "AZURE_VOICELIVE_API_KEY": None}
    results: dict[int, Any] = {}
    with running_lab(root, tmp_path / "lab-state", env=env) as lab, chromium_page(viewport=(1920, 1100)) as page:
        lp = LabPage(page, lab)
        lp.open_notebook("layout.ipynb")
        assert page.locator(".jp-FileBrowser").first.is_visible(), "JupyterLab's default layout has the file browser open"
        lp.run_first_cells(1)
        panel = page.locator(".vlnb-panel")
        panel.wait_for(timeout=60_000)
        assert not lp.errors(), lp.errors()
        for width in (1920, 1400, 900):
            page.set_viewport_size({"width": width, "height": 1100})
            page.wait_for_timeout(800)  # JupyterLab re-lays out its panels on resize
            results[width] = page.evaluate(MEASURE)
            panel.screenshot(path=str(shots / f"panel-{width}.png"))
        # Typing a value out of range into the threshold box: refused and shown so, not clamped.
        row = panel.locator(".vlnb-row-threshold")
        box = row.locator("input").first
        box.fill("2")
        box.press("Enter")
        page.wait_for_function(
            "() => document.querySelector('.vlnb-row-threshold').innerText.includes('✗')", timeout=30_000
        )
        page.wait_for_function(
            "() => document.querySelector('.vlnb-row-threshold input').value === '0.5'", timeout=30_000
        )
        assert "used on connect" not in row.inner_text()
        panel.screenshot(path=str(shots / "threshold-refused.png"))
        refused = page.evaluate(MEASURE)
        assert refused["cut"] == [] and refused["scrollbars"] == [], refused  # the reason fits in its badge
    for width, r in results.items():
        assert r["scrollbars"] == [], (width, r["wide"], r)
        assert r["cut"] == [], (width, r)
        assert r["unwrapped"] == [], (width, r)
    assert results[1920]["columns"] == "side by side", results[1920]
    assert results[900]["columns"] == "stacked", results[900]
    assert results[1400]["columns"] in ("side by side", "stacked"), results[1400]
