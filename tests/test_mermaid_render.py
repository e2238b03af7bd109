"""The charts really render: mermaid (from npm) in headless Chromium turns every block into an SVG.

Skipped where Chromium, npm or the mermaid package cannot be had; the block parser in
test_stats_notes.py checks the charts' content everywhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from stats_data import GOLDEN

pytestmark = pytest.mark.slow

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

PAGE = """<!doctype html><html><head><meta charset="utf-8"><script src="%(script)s"></script></head>
<body><script>
mermaid.initialize({startOnLoad: false});
(async () => {
  const results = [];
  for (const [i, source] of %(sources)s.entries()) {
    try {
      const {svg} = await mermaid.render("chart" + i, source);
      const box = document.createElement("div");
      box.innerHTML = svg;
      document.body.appendChild(box);
      results.push(box.querySelector("svg") && !/Syntax error/.test(svg) ? "ok" : "no svg");
    } catch (e) { results.push("error: " + e.message); }
  }
  const out = document.createElement("pre");
  out.id = "results";
  out.textContent = JSON.stringify(results);
  document.body.appendChild(out);
})();
</script></body></html>"""


@pytest.fixture(scope="session")
def mermaid_script(tmp_path_factory):
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed")
    # Installed once per machine: the package is large and the tests only read its bundle.
    folder = Path(os.environ.get("VAULTCRM_NODE_CACHE", Path.home() / ".cache" / "vaultcrm-tests" / "node"))
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "node_modules" / "mermaid" / "dist" / "mermaid.min.js").is_file():
        return folder / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
    try:
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(folder), "mermaid"],
                       check=True, capture_output=True, timeout=240)
    except (subprocess.SubprocessError, OSError) as exc:
        pytest.skip(f"cannot install mermaid from npm: {exc}")
    script = folder / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
    if not script.is_file():
        pytest.skip("the mermaid package has no dist/mermaid.min.js")
    return script


@pytest.fixture(scope="session")
def browser():
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("Chromium is not installed")


def render_all(browser: str, script, sources: list[str], folder) -> list[str]:
    page = folder / "charts.html"
    page.write_text(PAGE % {"script": script.as_uri(), "sources": json.dumps(sources, ensure_ascii=False)},
                    encoding="utf-8")
    proc = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
                           "--virtual-time-budget=20000", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="results">(.*?)</pre>', proc.stdout, re.S)
    assert found, f"the page did not finish rendering: {proc.stderr[-2000:]}"
    return json.loads(found[1].replace("&quot;", '"'))


def test_every_chart_of_the_monthly_note_and_the_dashboard_renders(vault, cli, browser, mermaid_script, tmp_path):
    root = vault(GOLDEN)
    assert cli(root, "stats", "--at", "2026-02-12").exit_code == 0
    sources = []
    for rel in ("统计/月报/2026-02.md", "服务追踪表.md"):
        text = (root / rel).read_text(encoding="utf-8").replace("\r\n", "\n")
        sources += re.findall(r"```mermaid\n(.*?)```", text, re.S)
    assert len(sources) == 6
    assert render_all(browser, mermaid_script, sources, tmp_path) == ["ok"] * 6
