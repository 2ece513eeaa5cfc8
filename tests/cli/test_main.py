"""The `slt` dispatcher: every command is a module of engine/cli/, and a missing store is one line."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

# Imported here, not in a test: ccxt's urllib3 binds a socket at import to probe IPv6, which the
# suite's guard would take for a server started by the test.
from engine.cli import COMMANDS, accounts, build_parser, main, pnl, risk, sql  # noqa: F401


def test_every_command_is_one_module_of_the_cli_package() -> None:
    """Read, not imported: importing a command's dependencies (ccxt's urllib3) probes a socket."""
    for name, (module, _) in COMMANDS.items():
        assert module == f"engine.cli.{name}", name
        spec = importlib.util.find_spec(module)
        assert spec is not None and spec.origin is not None, name
        defined = {n.name for n in ast.parse(Path(spec.origin).read_text()).body if isinstance(n, ast.FunctionDef)}
        assert {"add_arguments", "run"} <= defined, name


def test_up_says_what_it_starts(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser("up").parse_args(["up", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert all(part in shown for part in ("Prefect", "MLflow", "the store", "trading engine", "simulator"))


@pytest.mark.parametrize("command", ["pnl", "risk", "accounts", "sql"])
def test_without_a_store_each_command_says_how_to_create_it(command: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SLT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SLT_ENV_FILE", str(tmp_path / "no.env"))
    assert main([command, *(["SELECT 1"] if command == "sql" else [])]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"slt {command}: no DuckLake catalog") and "slt up" in err and "Traceback" not in err
