"""Parity with the live engine: on the end-to-end replay (525 one-minute bars of BTCUSDT, ETHUSDT and
XRPUSDT from 07:20 UTC on 2025-05-06, funding at 08:00 and 16:00), the backtest makes the same
orders (client ids and statuses), fills, closed trades and PnL, to the cent, as `python -m engine`
trading the simulator process over HTTP and websockets.

What is set so the two agree (README, Backtest): the live replay is not run on a clock but stepped
one path point at a time (`POST /admin/clock/step`). After a step at which the backtest's engine
produced signals, the next step waits until the live engine has recorded as many (its /metrics),
and after a step at which the backtest's exchange account changed (an order placed, filled,
triggered or cancelled) until the live account shows the same orders: the live engine then never
lags the market, as the backtest's engine, which settles after every step, never does. Without
that, an order sent while the replay moves fills at whichever path point it reaches, and a candle
decided late meets a stop that has triggered since; the two runs part at the first such one.
The settings are the end-to-end test's (every bootstrap signal admitted)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from engine.backtest.driver import Backtest, build_sim
from engine.core.types import TradeExit
from engine.sim.admin import account_view
from engine.sim.options import SimOptions
from tests.backtest.helpers import MARKET
from tests.engine.process import EngineProcess, engine_env, settings_for, stored
from tests.sim.harness import SimHandle

pytestmark = pytest.mark.integration  # the simulator and the engine as processes on 127.0.0.1

START, BARS = "2025-05-06T07:20:00Z", 525
WAIT_S = 30.0


def shape(view: dict[str, Any]) -> dict[str, Any]:
    """What both runs must agree on at a step: every order's client id, status and fill, the
    resting conditional orders, the executions and the ledger."""
    return {"orders": sorted((o["client_id"], o["status"], o["executed"]) for o in view["orders"]),
            "algos": sorted(a["client_id"] for a in view["open_algos"]),
            "trades": [(t["id"], t["price"], t["qty"], t["commission"]) for t in view["trades"]],
            "ledger": {k: Decimal(str(v)) for k, v in view["ledger"].items()}}


def backtest_timeline(env: dict[str, str]) -> tuple[dict[int, dict[str, Any]], dict[int, int], Any, Backtest]:
    """The backtest on the same settings, with the exchange account's shape after every step that changed
    it, and the engine's signal count after every step that produced signals."""
    settings = settings_for(env)
    from engine.sim.options import parse_time
    start = parse_time(START)
    options = SimOptions(data_dir=MARKET, start_ms=start, end_ms=start + BARS * 60_000)
    sim, accounts = build_sim(settings, options, Decimal(10_000))
    bt = Backtest(settings, sim, accounts)
    changes: dict[int, dict[str, Any]] = {}
    signals: dict[int, int] = {}
    last: list[Any] = [shape(account_view(sim, "bt-main", detail=True)), 0]

    def observe(steps: int) -> None:
        now = shape(account_view(sim, "bt-main", detail=True))
        if now != last[0]:
            changes[steps] = now
            last[0] = now
        if bt.trader.signals != last[1]:
            signals[steps] = last[1] = bt.trader.signals
    run = asyncio.run(bt.run(observe=observe))
    return changes, signals, run, bt


async def live_signals(port: str) -> int:
    """The live engine's signal count (its /metrics): a signal is recorded when its candle is decided."""
    import aiohttp
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as answer:
        text = await answer.text()
    return int(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("slt_signals_total{")))


def difference(live: dict[str, Any], ours: dict[str, Any]) -> dict[str, Any]:
    """What the live account has that the backtest's has not, and the reverse."""
    out: dict[str, Any] = {}
    for key in ("orders", "algos", "trades"):
        a, b = set(live[key]), set(ours[key])
        if a != b:
            out[key] = {"live only": sorted(a - b), "backtest only": sorted(b - a)}
    if live["ledger"] != ours["ledger"]:
        out["ledger"] = {"live": live["ledger"], "backtest": ours["ledger"]}
    return out


async def subscribed(sim: SimHandle, engine: EngineProcess, streams: int) -> None:
    """The engine's market connection holds its streams and its user stream is connected: frames of the
    next step reach it (a frame published before a subscription is lost, live as here)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        connections = await sim.control.connections()
        if any(c["user"] for c in connections) and any(len(c["streams"]) >= streams for c in connections):
            return
        assert time.monotonic() < deadline, f"the engine did not subscribe: {connections}\n{engine.text()[-3000:]}"
        await asyncio.sleep(0.05)


async def test_the_backtest_trades_the_replay_as_the_live_engine_does(sim_process_factory: Any, tmp_path: Path) -> None:
    sim: SimHandle = sim_process_factory("--paused", "--start", START, "--end-after", f"{BARS}m")
    env = engine_env(sim, tmp_path / "data")
    changes, signals, run, bt = await asyncio.to_thread(backtest_timeline, env)
    assert len(changes) > 20, "the backtest barely traded: nothing to compare"
    engine = EngineProcess(env, tmp_path / "engine.log")
    try:
        engine.start()
        engine.wait_for("engine ready", 30)
        await subscribed(sim, engine, 6)
        steps = 0
        while not (await sim.control.step(steps=1))["finished"]:
            steps += 1
            deadline = time.monotonic() + WAIT_S
            decided = signals.get(steps)
            while decided is not None and await live_signals(env["SLT_HEALTH_PORT"]) < decided:
                assert time.monotonic() < deadline, f"the live engine did not decide step {steps}'s candles"
                await asyncio.sleep(0.01)
            want = changes.get(steps)
            if want is None:
                continue
            while (got := shape(await sim.control.account(sim.key))) != want:
                assert engine.process is not None and engine.process.poll() is None, engine.text()[-3000:]
                if time.monotonic() > deadline:
                    diff = difference(got, want)
                    pytest.fail(f"after step {steps} the live account differs from the backtest's: {diff}\n"
                                f"{engine.text()[-3000:]}")
                await asyncio.sleep(0.02)
        await asyncio.sleep(1.0)  # the last events reach the engine
        assert engine.stop() == 0, engine.text()[-3000:]
        live = await sim.control.account(sim.key)
    finally:
        engine.close()
        await sim.aclose()
    assert "Traceback" not in engine.text()
    ours = account_view(bt.sim, "bt-main", detail=True)
    assert shape(live) == shape(ours)
    assert (live["wallet"], live["equity"]) == (ours["wallet"], ours["equity"])

    # the closed trades the live engine stored equal the backtest's, trade id by trade id
    live_exits = {x.trade_id: x for x in stored(settings_for(env)).exits}
    bt_exits = {x.trade_id: x for x in run.records.of(TradeExit)}
    assert sorted(live_exits) == sorted(bt_exits) and len(bt_exits) >= 5
    for trade_id, x in bt_exits.items():
        y = live_exits[trade_id]
        assert dataclasses.astuple(_money(x)) == dataclasses.astuple(_money(y)), trade_id


@dataclasses.dataclass(frozen=True)
class _Money:
    symbol: str
    quantity: Decimal
    price: Decimal
    realized: Decimal
    fees: Decimal
    funding: Decimal
    reason: str


def _money(x: TradeExit) -> _Money:
    cent = Decimal("0.01")
    return _Money(x.symbol, x.quantity, x.price, x.realized_pnl.quantize(cent), x.fees.quantize(cent),
                  x.funding.quantize(cent), str(x.reason))
