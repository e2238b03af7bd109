"""The charts really render: mermaid (from npm) in headless Chromium turns every block into an SVG.

The Mermaid version is pinned to the one Obsidian bundles (Mermaid 11), so a chart that renders here
renders in the studio's Obsidian. `.ci/run` installs Debian's Chromium and the bundle, and in CI
(`CI` set) a missing browser or bundle fails the test instead of skipping it. Elsewhere it is skipped
where they cannot be had; the block parser in test_stats_notes.py checks the charts' content everywhere.
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
MERMAID_VERSION = "11.4.1"  # as bundled by Obsidian 1.8
IN_CI = bool(os.environ.get("CI"))


def unavailable(reason: str):
    """Skip on a developer's machine; in CI the render check must run, so its absence is a failure."""
    if IN_CI:
        pytest.fail(f"{reason} (CI installs it in .ci/run)")
    pytest.skip(reason)

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
    # Installed once per machine (`.ci/run` does it before the tests): the package is large and the
    # tests only read its bundle.
    base = Path(os.environ.get("VAULTCRM_NODE_CACHE", Path.home() / ".cache" / "vaultcrm-tests" / "node"))
    folder = base / f"mermaid-{MERMAID_VERSION}"
    script = folder / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
    if script.is_file():
        return script
    npm = shutil.which("npm")
    if npm is None:
        unavailable("npm is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(folder),
                        f"mermaid@{MERMAID_VERSION}"], check=True, capture_output=True, timeout=240)
    except (subprocess.SubprocessError, OSError) as exc:
        unavailable(f"cannot install mermaid@{MERMAID_VERSION} from npm: {exc}")
    if not script.is_file():
        unavailable("the mermaid package has no dist/mermaid.min.js")
    return script


@pytest.fixture(scope="session")
def browser():
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    unavailable("Chromium is not installed")


HEADLESS = ("--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync")


def render_all(browser: str, script, sources: list[str], folder) -> list[str]:
    page = folder / "charts.html"
    page.write_text(PAGE % {"script": script.as_uri(), "sources": json.dumps(sources, ensure_ascii=False)},
                    encoding="utf-8")
    proc = subprocess.run([browser, *HEADLESS, f"--user-data-dir={folder / 'profile'}", "--virtual-time-budget=20000",
                           "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="results">(.*?)</pre>', proc.stdout, re.S)
    assert found, f"the page did not finish rendering: {proc.stderr[-2000:]}"
    return json.loads(found[1].replace("&quot;", '"'))


def chart_kind(source: str) -> str:
    head = source.strip().splitlines()[0].split()[0]
    if head == "xychart-beta":
        return "xychart-beta " + ("line" if re.search(r"^\s*line\b", source, re.M) else "bar")
    return head


def test_every_chart_vaultcrm_writes_renders(vault, cli, browser, mermaid_script, tmp_path):
    """Every Mermaid block in every note `stats` writes (daily, monthly, dashboard, the 排班 gantt charts)."""
    root = vault(GOLDEN)
    assert cli(root, "stats", "--at", "2026-02-12").exit_code == 0
    sources = []
    for path in sorted(root.rglob("*.md")):
        text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
        sources += re.findall(r"```mermaid\n(.*?)```", text, re.S)
    kinds = {chart_kind(s) for s in sources}
    assert {"pie", "xychart-beta bar", "xychart-beta line", "gantt"} <= kinds, kinds
    assert render_all(browser, mermaid_script, sources, tmp_path) == ["ok"] * len(sources)


def test_a_broken_chart_is_caught(browser, mermaid_script, tmp_path):
    """The check can fail: Mermaid's own error for a malformed chart is reported, not taken as a chart."""
    results = render_all(browser, mermaid_script, ["pie showData\n    \"a\" : x", "xychart-beta\n  bar [1, 2"],
                         tmp_path)
    assert all(r != "ok" for r in results), results
