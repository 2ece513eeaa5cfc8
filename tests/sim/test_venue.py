"""The venue without its HTTP server: built and stepped in process (how a backtest drives it), and
free of aiohttp at run time (only `server.py` and the route modules serve it over HTTP)."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest

from engine.sim.faults import FaultError
from engine.sim.options import DEMO_KEY
from engine.sim.pricing import money
from engine.sim.venue import Venue
from tests.sim.harness import test_options

ROOT = Path(__file__).resolve().parents[2]
MINUTE = 60_000


def test_a_venue_trades_and_replays_in_process() -> None:
    venue = Venue(test_options())
    start = venue.replay.now_ms
    buy, events = venue.exchange.place_order(DEMO_KEY, {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                        "quantity": "0.01"}, venue.replay.now_ms)
    venue.dispatch(events)
    assert buy.status == "FILLED"
    assert venue.replay.step_bars(30) > 0
    assert venue.clock_state()["now_ms"] == start + 30 * MINUTE - 1
    assert len(venue.closed_candles("BTCUSDT", "1m")) == 30
    sell, _ = venue.exchange.place_order(DEMO_KEY, {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET",
                                                    "quantity": "0.01", "reduceOnly": "true"}, venue.replay.now_ms)
    account = venue.exchange.accounts[DEMO_KEY]
    bought, sold = account.trades
    assert sold.order_id == sell.order_id and sold.time == start + 30 * MINUTE - 1
    assert sold.realized_pnl == money(Decimal("0.01") * (sold.price - bought.price))
    assert account.positions["BTCUSDT"].amount == 0 and account.ledger.expected_wallet() == account.wallet


def test_a_restart_is_the_servers_fault_not_the_venues() -> None:
    venue = Venue(test_options())
    with pytest.raises(FaultError, match="restart fault needs the HTTP server"):
        venue.add_fault({"kind": "restart", "down": 0.1})
    assert venue.faults.snapshot()["faults"] == []                             # nothing registered


def runtime_imports(tree: ast.AST) -> set[str]:
    """Modules a file imports when it runs (not those under `if TYPE_CHECKING:`)."""
    names: set[str] = set()
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            names |= set().union(*(runtime_imports(n) for n in node.orelse)) if node.orelse else set()
            continue
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        names |= runtime_imports(node)
    return names


def module_file(name: str) -> Path | None:
    path = ROOT.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def test_the_venue_runs_without_aiohttp() -> None:
    seen: set[str] = set()
    todo = ["engine.sim.venue"]
    third_party: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_file(name)
        if path is None:
            if not name.startswith("engine."):
                third_party.add(name.split(".")[0])
            continue
        todo += sorted(runtime_imports(ast.parse(path.read_text())))
    assert "engine.sim.matching" in seen and "engine.sim.replay" in seen
    assert "msgspec" in third_party                                     # the walk sees third-party imports
    assert "aiohttp" not in third_party
