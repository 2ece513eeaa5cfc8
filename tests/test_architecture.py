"""Dependencies point inward, as the README's Layout section describes (README.md, "## Layout"): the core
imports nothing of ours above it, the pure packages import no I/O library and no edge, the edges
(exchange, feeds, store, simulator, health, learning) never import the composition root or the CLI, nothing
in engine/ imports Prefect, flows/ or tasks/, and no two modules import each other through any chain.

The checks are functions over a source tree, so the last tests plant a cycle and an inward-pointing import
in a scratch package and show that the checks catch both."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ENGINE = REPO / "engine"
EDGE_ONLY = {"ccxt", "websockets", "duckdb", "mlflow", "aiohttp", "sqlite3", "prefect", "psutil",
             "prometheus_client"}

# Layer of each top-level module or package of engine/, lowest first. A module may import its own layer
# or any layer below it, never one above. A package's `__main__` is an entry point, on the root's layer.
LAYERS: dict[str, int] = {
    **dict.fromkeys(("core", "logs"), 0),
    **dict.fromkeys(("indicators", "signals", "risk", "accounts", "execution"), 1),
    "config": 1,  # the settings parse with the pure packages' own parsers (SLT_ACCOUNTS by engine.accounts)
    **dict.fromkeys(("venues", "feeds", "store", "sim", "health", "learning", "jobs", "child"), 2),
    **dict.fromkeys(("wiring", "runtime", "__main__", "cli", "services", "orchestration"), 3),
    "backtest": 3,  # drives the engine the composition root builds (wiring, runtime) against the simulator
}
PURE = [name for name, layer in LAYERS.items() if layer == 1]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import: at module level, inside functions, and under `if TYPE_CHECKING:` (a module that names
    another's types depends on it as much as one that calls it)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def imported_modules(path: Path, root: Path) -> tuple[set[str], set[str]]:
    """(third-party top-level names, our own modules) that the file imports."""
    own_package = root.name
    this = module_name(path, root).split(".")
    package = this if path.name == "__init__.py" else this[:-1]
    external: set[str] = set()
    own: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif node.level:
            base = package[: len(package) - node.level + 1]
            targets = [".".join(base + ([node.module] if node.module else []))]
            targets += [f"{targets[0]}.{alias.name}" for alias in node.names]
        else:
            targets = [node.module or ""]
            targets += [f"{node.module}.{alias.name}" for alias in node.names]
        for target in targets:
            (own if target.split(".")[0] == own_package else external).add(target)
    return {name.split(".")[0] for name in external}, own


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same tree it imports (`from a import b` counts a.b when it is one)."""
    modules = {module_name(path, root): path for path in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        _, own = imported_modules(path, root)
        graph[name] = {target for target in own if target in modules and target != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
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


def layer_violations(root: Path, layers: dict[str, int]) -> list[str]:
    """Imports that point from a lower layer to a higher one, and modules with no layer at all."""
    problems = []
    top = lambda module: module.split(".")[1] if "." in module else "__init__"  # noqa: E731
    entry = max(layers.values())
    for importer, targets in import_graph(root).items():
        source = top(importer)
        if source == "__init__":
            continue
        if source not in layers:
            problems.append(f"{importer}: engine/{source} has no layer in LAYERS")
            continue
        level = entry if importer.endswith(".__main__") else layers[source]
        for target in targets:
            dest = top(target)
            if dest in layers and layers[dest] > level:
                problems.append(f"{importer} imports {target} (layer {layers[dest]} above {level})")
    return sorted(problems)


def test_engine_never_imports_orchestration() -> None:
    for path in ENGINE.rglob("*.py"):
        external, _ = imported_modules(path, ENGINE)
        assert not external & {"prefect", "flows", "tasks"}, path


def test_pure_packages_import_no_io_library() -> None:
    for package in PURE:
        for path in (ENGINE / package).rglob("*.py"):
            external, _ = imported_modules(path, ENGINE)
            assert not external & EDGE_ONLY, f"{path} imports {sorted(external & EDGE_ONLY)}"


def test_dependencies_point_inward() -> None:
    assert layer_violations(ENGINE, LAYERS) == []


def test_no_import_cycle_between_modules() -> None:
    assert cycles(import_graph(ENGINE)) == []


def test_the_layout_this_test_holds_is_described_in_the_readme() -> None:
    assert "\n## Layout" in (REPO / "README.md").read_text()


def _plant(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "engine"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_planted_cycle_is_caught(tmp_path: Path) -> None:
    root = _plant(tmp_path, {
        "__init__.py": "",
        "core/__init__.py": "",
        "core/a.py": "from engine.core import b\n",
        "core/b.py": "def late():\n    from engine.core.c import x\n",
        "core/c.py": "from .a import y\nx = 1\n",
        "core/d.py": "from engine.core import a\n",
        "core/e.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from engine.core import f\n",
        "core/f.py": "from engine.core.e import g\n",
    })
    assert cycles(import_graph(root)) == [["engine.core.a", "engine.core.b", "engine.core.c"],
                                          ["engine.core.e", "engine.core.f"]]


@pytest.mark.parametrize("importer, line", [
    ("risk/limits.py", "from engine.store.reader import rows\n"),
    ("core/types.py", "import engine.execution.book\n"),
    ("store/reader.py", "from engine import wiring\n"),
])
def test_a_planted_inward_pointing_import_is_caught(tmp_path: Path, importer: str, line: str) -> None:
    files = {name: "" for name in ("__init__.py", "core/__init__.py", "core/types.py", "risk/__init__.py",
                                   "risk/limits.py", "store/__init__.py", "store/reader.py",
                                   "execution/__init__.py", "execution/book.py", "wiring.py")}
    files[importer] = line
    problems = layer_violations(_plant(tmp_path, files), LAYERS)
    assert len(problems) == 1 and problems[0].startswith(importer.replace("/", ".").removesuffix(".py")
                                                         .join(("engine.", ""))), problems


def test_a_module_without_a_layer_is_named(tmp_path: Path) -> None:
    root = _plant(tmp_path, {"__init__.py": "", "gadgets/__init__.py": "", "gadgets/x.py": ""})
    assert "engine.gadgets: engine/gadgets has no layer in LAYERS" in layer_violations(root, LAYERS)
