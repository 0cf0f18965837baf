"""The core must run under CPython: only the runtime adapter may import js or pyodide."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "gateway"
ADAPTER = SRC / "runtime.py"


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
        if path != ADAPTER
    }
    assert {name: found for name, found in offenders.items() if found} == {}
    assert {"js", "pyodide"} <= imported_roots(ADAPTER)
