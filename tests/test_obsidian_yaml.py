"""Obsidian parses frontmatter with eemeli's `yaml` (npm, YAML 1.2). Every note vaultcrm writes must
mean the same to it as to PyYAML: times stay "HH:MM" text, phones stay text. Skipped without node/npm."""

import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_roundtrip import appointments, customers, followups, services

from vaultcrm.core.config import Settings
from vaultcrm.core.store import render_record

pytestmark = pytest.mark.skipif(not (shutil.which("node") and shutil.which("npm")), reason="node/npm not installed")

SCRIPT = r"""
const fs = require('fs');
const YAML = require('yaml');
const out = {};
for (const file of process.argv.slice(2)) {
  const text = fs.readFileSync(file, 'utf8');
  const m = text.match(/^---\n([\s\S]*?)\n---\n/);
  out[file] = YAML.parse(m[1]);
}
process.stdout.write(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def node_yaml(tmp_path_factory):
    cache = Path(os.environ.get("VAULTCRM_NODE_CACHE", Path.home() / ".cache" / "vaultcrm-tests" / "node"))
    if not (cache / "node_modules" / "yaml").is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(cache), "yaml@2"],
                              capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            pytest.skip(f"npm could not install yaml: {proc.stderr[-300:]}")
    script = cache / "parse.js"
    script.write_text(SCRIPT, encoding="utf-8")

    def parse(files: list[Path]) -> dict:
        proc = subprocess.run(["node", str(script), *map(str, files)], capture_output=True, text=True, timeout=120,
                              cwd=cache, env={**os.environ, "NODE_PATH": str(cache / "node_modules")})
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    return parse


def as_json(value):
    """PyYAML's reading, in the form JSON (and so YAML 1.2's core schema) would hold it."""
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def pyyaml_reading(path: Path):
    fm = path.read_text(encoding="utf-8").split("\n---\n", 1)[0].removeprefix("---\n")
    return as_json(yaml.load(fm, Loader=yaml.CSafeLoader))


@settings(max_examples=1, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(appointments(), services(), followups(), customers()), min_size=60, max_size=60))
def test_obsidian_reads_what_pyyaml_reads(node_yaml, tmp_path, records):
    files = []
    for n, record in enumerate(records):
        path = tmp_path / f"{n}.md"
        path.write_text(render_record(Settings(), tmp_path, record.model_copy(update={"path": path.name})),
                        encoding="utf-8")
        files.append(path)
    obsidian = node_yaml(files)
    for path in files:
        assert obsidian[str(path)] == pyyaml_reading(path), path.read_text(encoding="utf-8")


def test_times_and_phones_stay_text_in_obsidian(node_yaml, tmp_path):
    from test_roundtrip import Appointment

    record = Appointment.model_validate({"预约编号": "APP-2026-001", "预约信息": {
        "联系方式": "13800138000", "预约日期": "2026-02-12", "预约时间": "14:00"}, "预约状态": {"创建时间": "2026-02-11 10:00"}})
    path = tmp_path / "a.md"
    path.write_text(render_record(Settings(), tmp_path, record.model_copy(update={"path": "a.md"})), encoding="utf-8")
    data = node_yaml([path])[str(path)]
    assert data["预约信息"]["预约时间"] == "14:00"
    assert data["预约信息"]["联系方式"] == "13800138000"
    assert data["预约状态"]["创建时间"] == "2026-02-11 10:00"
