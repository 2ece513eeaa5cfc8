"""Crash test: SIGKILL the engine at random moments while it trades, restart it, and after each
reconciliation the store matches the exchange (fills, orders, positions), with no duplicate and no
orphan, every position protected; trading goes on, and at the end every closed trade's PnL, fees
and funding still equal the exchange's."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, defaultdict
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from engine.core.ids import is_ours
from engine.core.types import OrderStatus, Side
from tests.engine.process import EngineProcess, cents, engine_env, income, round_trips, settings_for, stored
from tests.sim.harness import SimHandle

pytestmark = pytest.mark.integration  # starts the simulator (or the engine) on 127.0.0.1

KILLS = 10
ALGO_STATES = {"NEW": OrderStatus.NEW, "CANCELED": OrderStatus.CANCELED, "EXPIRED": OrderStatus.EXPIRED}


async def settled(sim: SimHandle, settings: Any, timeout: float = 15.0) -> tuple[dict[str, Any], Any]:
    """The simulator's account and the store once the store holds every simulator fill."""
    deadline = time.monotonic() + timeout
    while True:
        account = await sim.control.account(sim.key)
        store = stored(settings)
        if len(store.fills) == len(account["trades"]) or time.monotonic() > deadline:
            return account, store
        await asyncio.sleep(0.3)


def check_matches(account: dict[str, Any], store: Any, sim_orders: dict[str, Any]) -> None:
    # fills: every one once
    assert sorted(f.trade_id for f in store.fills) == sorted(str(t["id"]) for t in account["trades"])
    assert len({f.record_id for f in store.fills}) == len(store.fills)
    # positions: what the stored fills add up to is what the exchange holds
    held: dict[str, D] = defaultdict(lambda: D(0))
    for fill in store.fills:
        held[fill.symbol] += fill.quantity * fill.side.sign
    exchange = {p["symbol"]: D(p["amount"]) for p in account["positions"]}
    assert {s: q for s, q in held.items() if q} == {s: q for s, q in exchange.items() if q}
    # orders: the store's latest state of each of our orders is the exchange's
    for cid, (status, algo) in sim_orders.items():
        if algo and status not in ALGO_STATES:
            continue  # triggered: it lives on as the market order under the same id, checked below
        expected = ALGO_STATES[status] if algo else OrderStatus(status)
        assert store.orders[cid].status is expected, (cid, store.orders[cid].status, status)
    # no orphan, every position protected: one stop-loss and one take-profit per open position, nothing else
    protective = Counter((a["symbol"], a["type"]) for a in account["open_algos"] if is_ours(a["client_id"]))
    expected_algos = Counter({(s, t): 1 for s, q in exchange.items() if q for t in ("STOP_MARKET",
                                                                                     "TAKE_PROFIT_MARKET")})
    assert protective == expected_algos, (protective, exchange)
    for algo in account["open_algos"]:
        side = Side.BUY if exchange.get(algo["symbol"], D(0)) < 0 else Side.SELL
        assert algo["side"] == side.value, algo
    assert not [o for o in account["open_orders"] if is_ours(o["client_id"])]  # market entries and exits never rest


async def orders_of(sim: SimHandle) -> dict[str, Any]:
    """Every order of ours on the exchange: client id -> (status, is it a conditional order)."""
    found: dict[str, Any] = {}
    exchange = sim.ccxt()
    for symbol in ("BTCUSDT", "ETHUSDT", "XRPUSDT"):
        for row in await exchange.fapiPrivateGetAllOrders({"symbol": symbol, "limit": 1000}):
            if is_ours(row["clientOrderId"]):
                found[row["clientOrderId"]] = (row["status"], False)
        for row in await exchange.fapiPrivateGetAllAlgoOrders({"symbol": symbol}):
            if is_ours(row["clientAlgoId"]) and row["clientAlgoId"] not in found:
                found[row["clientAlgoId"]] = (row["algoStatus"], True)
    return found


@pytest.mark.slow
async def test_killed_engine_reconciles_without_duplicates_or_orphans(sim_process_factory: Any,
                                                                      tmp_path: Path) -> None:
    sim: SimHandle = sim_process_factory("--paused", "--speed", "600", "--start", "2025-05-06T07:20:00Z")
    env = engine_env(sim, tmp_path / "data")
    settings = settings_for(env)
    engine = EngineProcess(env, tmp_path / "engine.log")
    rng = random.Random(6)
    fills_before_last = 0
    try:
        engine.start()
        engine.wait_for("engine ready", 30)
        await sim.control.resume()
        for _ in range(KILLS):
            await asyncio.sleep(rng.uniform(0.5, 3.0))  # trading meanwhile
            engine.kill()
            await asyncio.sleep(rng.uniform(0.0, 1.0))  # the exchange goes on without us
            engine.start()
            engine.wait_for("engine ready", 30)  # reconciled
            await sim.control.pause()
            await asyncio.sleep(1.5)  # let the orders it decided on go out
            account, store = await settled(sim, settings)
            check_matches(account, store, await orders_of(sim))
            fills_before_last = len(store.fills)
            await sim.control.resume()
        await asyncio.sleep(4.0)  # and trading goes on after the last restart
        await sim.control.pause()  # the final snapshot and the account are then taken at the same prices
        assert engine.stop() == 0, engine.text()[-3000:]
        account, store = await settled(sim, settings)
        rows = await income(sim)
        check_matches(account, store, await orders_of(sim))
    finally:
        engine.close()
        await sim.aclose()
    assert len(store.fills) > fills_before_last, "no trading after the last restart"
    assert "Traceback" not in engine.text(since_start=False), engine.text(since_start=False)[-4000:]
    closed, _ = round_trips(account)
    assert len(store.exits) == len(closed) and len(closed) >= KILLS
    trips = sorted(closed, key=lambda t: (t.symbol, t.trades[-1]["time"], t.trades[-1]["id"]))
    exits = sorted(store.exits, key=lambda x: (x.symbol, x.event_time))
    for exit_, trip in zip(exits, trips, strict=True):
        first, last = trip.trades[0]["time"], trip.trades[-1]["time"]
        paid = sum((D(r["income"]) for r in rows if r["symbol"] == trip.symbol and first <= r["time"] <= last), D(0))
        assert (exit_.symbol, exit_.realized_pnl, exit_.fees, exit_.funding) == (trip.symbol, trip.realized,
                                                                                   trip.fees, paid)
    for position in account["positions"]:
        mine = store.positions.get(position["symbol"])
        if D(position["amount"]) != 0:
            assert mine is not None and mine.quantity == D(position["amount"])
            assert cents(mine.unrealized_pnl) == cents(D(position["unrealized"]))
