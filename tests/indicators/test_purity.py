"""engine/indicators is pure: NumPy, Polars, TA-Lib, the standard library (no I/O) and engine.core."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "engine" / "indicators"
ALLOWED = {"numpy", "polars", "talib", "engine", "__future__", "collections", "concurrent", "dataclasses",
           "datetime", "enum", "functools", "hashlib", "math", "threading", "typing"}


def test_indicator_package_imports_only_pure_modules() -> None:
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] in ALLOWED, f"{path.name} imports {name}"
                if name.startswith("engine."):
                    assert name.startswith(("engine.core", "engine.indicators")), f"{path.name} imports {name}"
