"""The package layout keeps its promise: imports run one way, down, and nothing imports in a circle.

    cli → features (booking, services, followups, …) → core (config, index, render, loader, store)
        → vault (file I/O) → base (values, models, errors, diagnostics)

Every import counts, including those inside functions and under TYPE_CHECKING: a lazy import that
points up is still a dependency that points up. The checker is tried on a small planted package too,
so a broken checker cannot pass the real tree by finding nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"

BASE = ("vaultcrm", "vaultcrm.errors", "vaultcrm.diagnostics", "vaultcrm.values", "vaultcrm.models")
FEATURES = ("booking", "services", "followups", "reminders", "stats", "customers", "privacy", "exports",
            "watch", "checks", "init", "chain", "campaigns")
LAYERS = {  # rank: what a module may import is its own rank or lower
    "base": 0, "vault": 1, "core": 2, "feature": 3, "cli": 4,
}
UI_LIBRARIES = ("typer", "rich", "click")


def layer_of(module: str, package: str = "vaultcrm") -> str | None:
    rest = module[len(package):].lstrip(".")
    head = rest.split(".", 1)[0]
    if module == package or f"vaultcrm.{head}" in BASE and module.startswith(f"{package}.{head}"):
        return "base"
    if head == "vault":
        return "vault"
    if head == "core":
        return "core"
    if head in FEATURES:
        return "feature"
    if head in ("cli", "__main__", "launch", "warm"):  # the program: its entry, and the worker that runs commands
        return "cli"
    return None


def module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, module: str, known: set[str]) -> tuple[set[str], set[str]]:
    """(modules of the package this file imports, top-level names of outside libraries it imports)."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    inside, outside = set(), set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                (inside if alias.name in known else outside).add(alias.name if alias.name in known
                                                                  else alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target not in known and target.split(".")[0] != module.split(".")[0]:
                outside.add(target.split(".")[0])
                continue
            submodules = {f"{target}.{a.name}" for a in node.names} & known
            inside |= submodules or {target}
    return inside, outside


def import_graph(src: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    files = {module_name(p, src): p for p in src.rglob("*.py")}
    known = set(files)
    graph, libraries = {}, {}
    for module, path in files.items():
        graph[module], libraries[module] = imports_of(path, module, known)
        graph[module].discard(module)
    return graph, libraries


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            if LAYERS[layer_of(target)] > LAYERS[layer_of(module)]:
                found.append(f"{module} ({layer_of(module)}) imports {target} ({layer_of(target)})")
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def feature_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    def feature(module: str) -> str | None:
        parts = module.split(".")
        return parts[1] if len(parts) > 1 and parts[1] in FEATURES else None

    packages: dict[str, set[str]] = {}
    for module, targets in graph.items():
        if feature(module):
            packages.setdefault(feature(module), set()).update(
                feature(t) for t in targets if feature(t) and feature(t) != feature(module))
    return packages


GRAPH, LIBRARIES = import_graph(SRC)


def test_every_module_belongs_to_a_layer():
    stray = [m for m in GRAPH if layer_of(m) is None]
    assert not stray, f"modules outside the layout (put them in a feature package or the core): {stray}"


def test_imports_point_down():
    assert upward_imports(GRAPH) == []


def test_no_import_cycles_between_modules():
    assert cycles(GRAPH) == []


def test_no_cycles_between_feature_packages():
    assert cycles(feature_graph(GRAPH)) == []


def test_only_the_cli_talks_to_the_terminal():
    offenders = {m: sorted(LIBRARIES[m] & set(UI_LIBRARIES)) for m in GRAPH
                 if layer_of(m) != "cli" and LIBRARIES[m] & set(UI_LIBRARIES)}
    assert offenders == {}


@pytest.fixture
def planted(tmp_path):
    """A miniature vaultcrm whose vault layer imports the core and whose features import in a circle."""
    files = {
        "vaultcrm/__init__.py": "",
        "vaultcrm/values.py": "",
        "vaultcrm/core/__init__.py": "",
        "vaultcrm/core/config.py": "from ..values import x\n",
        "vaultcrm/vault/__init__.py": "",
        "vaultcrm/vault/store.py": "def f():\n    from ..core.config import Settings\n",
        "vaultcrm/booking/__init__.py": "",
        "vaultcrm/booking/rules.py": "from ..customers import view\nimport rich\n",
        "vaultcrm/customers/__init__.py": "",
        "vaultcrm/customers/view.py": "from ..booking.rules import x\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    return tmp_path


def test_the_checks_catch_what_they_are_for(planted):
    graph, libraries = import_graph(planted)
    assert upward_imports(graph) == ["vaultcrm.vault.store (vault) imports vaultcrm.core.config (core)"]
    assert cycles(graph) == [["vaultcrm.booking.rules", "vaultcrm.customers.view"]]
    assert cycles(feature_graph(graph)) == [["booking", "customers"]]
    assert libraries["vaultcrm.booking.rules"] == {"rich"}
