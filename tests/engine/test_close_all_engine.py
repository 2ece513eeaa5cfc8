"""Close-all per group in the running engine: `slt accounts --close-all --group aggressive` while
four accounts hold positions closes exactly the aggressive accounts' positions (one reduce-only
market order per position, its client id from the command), cancels their protective orders,
leaves the other group untouched, records what it did, and a restart does not apply it again."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from engine.core.types import HealthEvent, TradeExit
from engine.execution.orders import Leg, leg_of, order_id
from engine.store import connect, reader
from tests.engine.process import EngineProcess, engine_env, settings_for
from tests.engine.test_accounts_engine import ACCOUNTS, account_env, slt_accounts
from tests.sim.harness import SimHandle

pytestmark = [pytest.mark.slow, pytest.mark.integration]
START = "2025-05-06T07:30:00Z"
AGGRESSIVE = {a.id for a in ACCOUNTS if a.group == "aggressive"}


async def positions(sim: SimHandle) -> dict[str, dict[str, D]]:
    views = {a.id: await sim.control.account(a.key) for a in ACCOUNTS}
    return {a: {p["symbol"]: D(p["amount"]) for p in v["positions"] if D(p["amount"])} for a, v in views.items()}


async def until(what: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        await asyncio.sleep(0.2)


async def test_close_all_closes_one_group_once(sim_process_factory: Any, tmp_path: Path) -> None:
    sim: SimHandle = sim_process_factory("--paused", "--speed", "300", "--start", START, "--end-after", "600m",
                                         *(f"--account={a.key}:{a.secret}:{a.usdt}" for a in ACCOUNTS))
    env = engine_env(sim, tmp_path / "data", **account_env())
    engine = EngineProcess(env, tmp_path / "engine.log")
    try:
        engine.start()
        engine.wait_for("engine ready", 30)
        await sim.control.resume()

        async def both_groups_hold() -> dict[str, dict[str, D]] | None:
            held = await positions(sim)
            return held if any(held[a] for a in AGGRESSIVE) and any(held[a] for a in held if a not in AGGRESSIVE) \
                else None
        await until("positions in both groups", both_groups_hold, 60)
        await sim.control.pause()
        await asyncio.sleep(1.5)                      # fills in flight land, protective orders are placed
        before = await positions(sim)
        algos_before = {a.id: (await sim.control.account(a.key))["open_algos"] for a in ACCOUNTS}
        assert any(algos_before[a] for a in AGGRESSIVE)

        out = slt_accounts(env, "--close-all", "risk off", "--group", "aggressive")
        command_id = out.split("recorded (")[1].split(")")[0]

        async def aggressive_flat_and_unprotected() -> bool:
            held = await positions(sim)
            views = {a: await sim.control.account(next(x.key for x in ACCOUNTS if x.id == a)) for a in AGGRESSIVE}
            return all(not held[a] and not views[a]["open_algos"] for a in AGGRESSIVE)
        await until("flat aggressive accounts", aggressive_flat_and_unprotected, 30)
        assert engine.stop() == 0, engine.text()[-3000:]

        engine.start()                                # a restart must not apply the command again
        engine.wait_for("engine ready", 30)
        await asyncio.sleep(3.0)                      # > one store poll
        assert engine.stop() == 0, engine.text()[-3000:]
        after = await positions(sim)
        views = {a.id: await sim.control.account(a.key) for a in ACCOUNTS}
    finally:
        engine.close()
        await sim.aclose()
    log = engine.text(since_start=False)
    assert "Traceback" not in log, log[-3000:]

    # the other group is untouched; the aggressive group is flat, by one close order per position it held
    for account in before:
        assert after[account] == ({} if account in AGGRESSIVE else before[account]), (account, before, after)
    for a in ACCOUNTS:
        closes = [o for o in views[a.id]["orders"] if leg_of(o["client_id"]) is Leg.CLOSE]
        if a.id not in AGGRESSIVE:
            assert not closes and views[a.id]["open_algos"] == algos_before[a.id]
            continue
        assert sorted((o["symbol"], o["client_id"], o["status"], o["reduce_only"], D(o["executed"])) for o in closes) \
            == sorted((s, order_id(f"{command_id}:{s}", Leg.CLOSE, a.id), "FILLED", True, abs(q))
                      for s, q in before[a.id].items())

    # recorded: the command, the engine's note of what it did (once), and the trades closed by hand
    with connect(settings_for(env), read_only=True) as lake:
        events = reader.read(lake, HealthEvent, **{"component = ?": "accounts.batch"})
        exits = reader.read(lake, TradeExit)
    applied = [e for e in events if e.status == "applied"]
    assert len(applied) == 1 and json.loads(applied[0].detail)["command"] == command_id
    assert set(json.loads(applied[0].detail)["accounts"]) == AGGRESSIVE
    manual = sorted((e.account, e.symbol) for e in exits if e.reason == "manual")
    assert manual == sorted((a, s) for a in AGGRESSIVE for s in before[a])
    assert log.count("operator close-all for aggressive (risk off)") == 1
