"""Dependencies point inward (CONVENTIONS.md): the pure core imports no I/O library, and nothing in
engine/ imports Prefect, flows/ or tasks/."""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "engine"
EDGE_ONLY = {"ccxt", "websockets", "duckdb", "mlflow", "aiohttp", "sqlite3"}
PURE = ("core", "indicators", "signals", "risk", "accounts", "execution")


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_engine_never_imports_orchestration() -> None:
    for path in ENGINE.rglob("*.py"):
        assert not imports(path) & {"prefect", "flows", "tasks"}, path


def test_pure_packages_import_no_io_library() -> None:
    for package in PURE:
        for path in (ENGINE / package).rglob("*.py"):
            assert not imports(path) & EDGE_ONLY, path
