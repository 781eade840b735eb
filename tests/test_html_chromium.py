"""index.html as a reader sees it: opened in headless Chromium (Debian's ``chromium`` package; skipped without it).

The page is rendered from three checks of the committed reference run plus a not-applicable check (no slack,
no one-step check), then loaded by the browser with a probe script appended to a copy: every formula is an SVG
of non-zero size, every plot has decoded (naturalWidth > 0), and the visible text holds no ``None``, ``nan``
or LaTeX source.  A screenshot is written to the test's temporary folder.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from verify import report
from verify.check import CheckSpec
from verify.results_io import load_run
from verify.suite import run_checks

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install chromium)")

PROBE = """<script>
window.addEventListener("load", () => {
  const text = document.body.innerText;
  const imgs = [...document.images].map(i => ({alt: i.alt, width: i.naturalWidth, height: i.naturalHeight}));
  const svgs = [...document.querySelectorAll(".formula svg")].map(s => {
    const r = s.getBoundingClientRect(); return {width: r.width, height: r.height};
  });
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify({text, imgs, svgs, height: document.documentElement.scrollHeight});
  document.body.appendChild(pre);
});
</script>"""


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--user-data-dir={tmp_path / 'profile'}", *args], capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("chromium-report")
    meta, reference = load_run(REPO / "reports")
    pick = [r for r in reference if r.theorem in ("gd-nc", "sgd-nc", "ns-polyak")]
    na = run_checks([CheckSpec("gd-nc", "isotropic-quadratic", "degenerate", p=0.5, r=2, runs=8, iters=20,
                               lemma_states=0)], alpha=1e-3, seed=3)
    report.render(out, pick + na, meta)
    return out / "index.html"


def test_formulas_plots_and_text_as_a_reader_sees_them(page, tmp_path):
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    proc = _chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    assert found, proc.stderr[-2000:]
    seen = json.loads(html.unescape(found.group(1)))
    assert len(seen["svgs"]) == 3 and all(s["width"] > 50 and s["height"] > 5 for s in seen["svgs"])
    names = {p.stem for p in (page.parent / "plots").iterdir()}
    assert len(names) == 4
    loaded = {i["alt"] for i in seen["imgs"] if i["width"] > 0 and i["height"] > 0}
    assert names | {"slack across checks"} <= loaded, seen["imgs"]
    leaks = re.findall(r"\bNone\b|\bnan\b|\\[a-zA-Z]+\{?", seen["text"])
    assert not leaks, leaks
    assert "Contents" in seen["text"] and "not_applicable" in seen["text"]

    shot = tmp_path / "index.png"
    _chromium(tmp_path, "--window-size=1400,2000", f"--screenshot={shot}", page.as_uri())
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000
