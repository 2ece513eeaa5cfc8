"""End to end: `python -m engine` trades a fast replay on the simulator (both real processes, a real
DuckLake store in a tmp dir), and afterwards the store equals the simulator's account: every fill once,
every closed trade's realised PnL, fees and funding, and at the end realised and unrealised PnL,
fees, funding and equity, to the cent."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from tests.engine.process import EngineProcess, cents, engine_env, income, round_trips, settings_for, stored
from tests.sim.harness import SimHandle

# 07:20 -> 16:05 UTC: 525 one-minute bars with the 08:00 and 16:00 funding settlements inside
START, BARS, SPEED = "2025-05-06T07:20:00Z", 525, "1200"


async def wait_finished(sim: SimHandle, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not (await sim.control.state())["finished"]:
        assert time.monotonic() < deadline, "the replay did not finish in time"
        await asyncio.sleep(0.2)


async def test_engine_trades_a_replay_and_the_store_equals_the_exchange(sim_process_factory: Any,
                                                                        tmp_path: Path) -> None:
    sim: SimHandle = sim_process_factory("--paused", "--speed", SPEED, "--start", START, "--end-after", f"{BARS}m")
    env = engine_env(sim, tmp_path / "data")
    engine = EngineProcess(env, tmp_path / "engine.log")
    try:
        engine.start()
        engine.wait_for("engine ready", 30)
        await sim.control.resume()
        await wait_finished(sim, 120)
        await asyncio.sleep(2.0)  # the last candles and fills reach the engine
        assert engine.stop() == 0, engine.text()[-3000:]
        account = await sim.control.account(sim.key)
        rows = await income(sim)
    finally:
        engine.close()
        await sim.aclose()
    log = engine.text()
    assert "first closed candle" in log and "Traceback" not in log, log[-3000:]
    store = stored(settings_for(env))
    ledger = account["ledger"]
    assert D(ledger["funding"]) != 0, "no funding settlement while a position was open: pick another window"

    # every simulator fill is in the store exactly once
    assert sorted(f.trade_id for f in store.fills) == sorted(str(t["id"]) for t in account["trades"])
    assert len({f.record_id for f in store.fills}) == len(store.fills)

    # every closed trade: realised PnL, fees and funding equal the exchange's numbers
    closed, still_open = round_trips(account)
    assert len(closed) >= 5, f"only {len(closed)} round trips: the engine barely traded"
    exits: dict[str, list[Any]] = defaultdict(list)
    for exit_ in sorted(store.exits, key=lambda x: (x.event_time, x.trade_id)):
        exits[exit_.symbol].append(exit_)
    trips: dict[str, list[Any]] = defaultdict(list)
    for trip in closed:
        trips[trip.symbol].append(trip)
    assert {s: len(v) for s, v in exits.items()} == {s: len(v) for s, v in trips.items()}
    for symbol, mine in exits.items():
        for exit_, trip in zip(mine, trips[symbol], strict=True):
            first, last = trip.trades[0]["time"], trip.trades[-1]["time"]
            paid = sum((D(r["income"]) for r in rows if r["symbol"] == symbol and first <= r["time"] <= last), D(0))
            assert (exit_.realized_pnl, exit_.fees, exit_.funding) == (trip.realized, trip.fees, paid), exit_
    assert {e.trade_id for e in store.entries} >= {x.trade_id for x in store.exits}

    # at the end: realised, fees, funding, unrealised and equity equal the account's, to the cent
    assert sum((f.realized_pnl for f in store.fills), D(0)) == D(ledger["realized"])
    assert sum((f.fee for f in store.fills), D(0)) == D(ledger["fees"])
    assert sum((p.amount for p in store.funding), D(0)) == D(ledger["funding"])
    held = {p["symbol"]: p for p in account["positions"] if D(p["amount"]) != 0}
    assert set(still_open) == set(held)
    for symbol, position in held.items():
        mine = store.positions[symbol]
        assert mine.quantity == D(position["amount"]) and cents(mine.unrealized_pnl) == cents(D(position["unrealized"]))
    assert all(p.quantity == 0 for s, p in store.positions.items() if s not in held)
    assert store.equity is not None and cents(store.equity.equity) == cents(D(account["equity"]))
    assert cents(store.equity.wallet_balance) == cents(D(account["wallet"]))
