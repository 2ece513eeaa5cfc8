"""End to end: `python -m engine` trades a fast replay on the simulator (both real processes, a real
DuckLake store in a tmp dir), and afterwards the store equals the simulator's account: every fill once,
every closed trade's realised PnL, fees and funding, and at the end realised and unrealised PnL,
fees, funding and equity, to the cent."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from tests.engine.process import (
    EngineProcess,
    assert_store_equals_account,
    engine_env,
    income,
    settings_for,
    stored,
    wait_finished,
)
from tests.sim.harness import SimHandle

pytestmark = pytest.mark.integration  # starts the simulator (or the engine) on 127.0.0.1

# 07:20 -> 16:05 UTC: 525 one-minute bars with the 08:00 and 16:00 funding settlements inside
START, BARS, SPEED = "2025-05-06T07:20:00Z", 525, "1200"


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
    assert D(account["ledger"]["funding"]) != 0, "no funding settlement while a position was open: pick another window"

    closed = assert_store_equals_account(store, account, rows)
    assert len(closed) >= 5, f"only {len(closed)} round trips: the engine barely traded"
