"""The core must run under CPython: only the runtime adapter (the `gateway.runtime` package) may import
js or pyodide."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "gateway"
ADAPTER = SRC / "runtime"


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_only_the_adapter_touches_the_runtime():
    offenders = {
        str(path.relative_to(SRC)): sorted(imported_roots(path) & {"js", "pyodide", "workers"})
        for path in SRC.rglob("*.py")
        if ADAPTER not in path.parents
    }
    assert {name: found for name, found in offenders.items() if found} == {}
    adapter = set().union(*(imported_roots(path) for path in ADAPTER.glob("*.py")))
    assert {"js", "pyodide"} <= adapter
