"""The kill switch in the running engine, on a scripted drawdown: `python -m engine` trades a paused
synthetic replay on the simulator (both real processes, a real DuckLake store) until three
positions are open; the test then injects a price far through the largest position's stop, so the
stop fills at a loss of about 4 % of equity (limit 2 %), and steps the replay one bar. The engine's
next equity snapshot trips the switch. While it is tripped an open position still exits (an
opposite signal closes it: an order the engine sends through the same risk check as entries),
admitted signals are refused with the kill switch named, no entry order goes out, and `slt risk`
reports entries blocked. `slt risk --reset` re-arms it in the running engine and entries resume.
Everything is checked from the log, the store and the simulator's account."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from engine.core.types import EquitySnapshot, HealthEvent, Order, TradeEntry, TradeExit
from engine.execution.orders import Leg, leg_of
from engine.risk.history import COMPONENT
from engine.store import connect, reader
from tests.conftest import REPO
from tests.engine.process import EngineProcess, engine_env, settings_for, wait_until
from tests.sim.harness import SimHandle

pytestmark = [pytest.mark.slow, pytest.mark.integration]
LIMIT = D("0.02")
LOSS = D("0.04")   # the scripted loss, as a fraction of equity: twice the limit


def after(engine: EngineProcess, mark: int, pattern: str) -> re.Match[str] | None:
    return re.compile(pattern).search(engine.text(), mark)


async def settled(sim: SimHandle, engine: EngineProcess) -> dict[str, Any]:
    """The account once the engine's order calls have landed (two reads 0.4 s apart agree)."""
    def shape(a: dict[str, Any]) -> object:
        return ([(p["symbol"], p["amount"]) for p in a["positions"]], sorted(o["client_id"] for o in a["open_algos"]),
                sorted(o["client_id"] for o in a["open_orders"]), len(a["trades"]))

    previous: list[dict[str, Any]] = []

    async def stable() -> dict[str, Any] | None:
        account = await sim.control.account(sim.key)
        same = previous and shape(previous[-1]) == shape(account)
        previous.append(account)
        await asyncio.sleep(0.4)
        return account if same else None

    return await wait_until("settled account", stable, engine, timeout=15)


def open_positions(account: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["symbol"]: p for p in account["positions"] if D(p["amount"]) != 0}


def protected(account: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Open positions that have both their stop-loss and take-profit on the exchange."""
    legs: dict[str, set[str]] = {}
    for algo in account["open_algos"]:
        legs.setdefault(algo["symbol"], set()).add(algo["type"])
    return {s: p for s, p in open_positions(account).items()
            if {"STOP_MARKET", "TAKE_PROFIT_MARKET"} <= legs.get(s, set())}


def slt_risk(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "engine.cli", "risk", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done


async def test_a_scripted_drawdown_trips_the_kill_switch_which_blocks_entries_not_exits(
        sim_process_factory: Any, tmp_path: Path) -> None:
    sim: SimHandle = sim_process_factory("--paused", "--speed", "300", "--source", "synthetic", "--seed", "11",
                                         "--regimes", "normal:48", "--history-hours", "30",
                                         "--start", "2024-01-02T01:00:00Z", "--end-after", "12h")
    # 15 % of equity per position, so three fit in NORMAL's 50 %; stops and targets wide, so positions
    # close on the test's price or on opposite signals, not on the replay's own moves
    env = engine_env(sim, tmp_path / "data", SLT_LEVERAGE="10", SLT_ENTRY_EQUITY_FRACTION="0.015",
                     SLT_MAX_DAILY_DRAWDOWN=str(LIMIT), SLT_STOP_LOSS_ATR="6", SLT_TAKE_PROFIT_ATR="10")
    engine = EngineProcess(env, tmp_path / "engine.log")
    try:
        engine.start()
        engine.wait_for("engine ready", 60)
        held: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + 60
        while len(held) < 3:   # three positions with their stops and targets, the replay paused
            assert time.monotonic() < deadline, f"never three positions at once:\n{engine.text()[-4000:]}"
            await sim.control.resume()

            async def three_open() -> bool:
                return len(protected(await sim.control.account(sim.key))) == 3
            await wait_until("three protected positions", three_open, engine, timeout=30)
            await sim.control.pause()
            account = await settled(sim, engine)
            held = protected(account)

        # the drawdown: the largest position's last price far through its stop; the stop fills there
        victim = max(held.values(), key=lambda p: abs(D(p["amount"])) * D(p["entry_price"]))
        entry, amount, equity = D(victim["entry_price"]), D(victim["amount"]), D(account["equity"])
        move = min(LOSS * equity / (abs(amount) * entry), D("0.5"))
        price = entry * (1 - move if amount > 0 else 1 + move)
        await sim.control.set_price(victim["symbol"], float(price))
        await wait_until("stop-loss exit", lambda: after(engine, 0, rf"on {victim['symbol']} closed \(stop_loss\)"), engine,
                         timeout=15)
        mark = len(engine.text())
        for _ in range(3):   # the next equity snapshot (a candle close) trips it
            await sim.control.step(bars=1)
            try:
                await wait_until("trip", lambda: after(engine, mark, "kill switch TRIPPED"), engine, timeout=5)
                break
            except AssertionError:
                continue
        tripped_at = after(engine, mark, "kill switch TRIPPED")
        assert tripped_at, engine.text()[-4000:]
        trip_mark = tripped_at.start()
        assert re.search(r"TRIPPED: new entries blocked until the next UTC midnight or slt risk --reset, exits "
                         r"still allowed: daily drawdown \d+\.\d+% reached the limit 2\.00%", engine.text()), \
            engine.text()[-3000:]

        # while tripped: an open position still exits (an opposite signal closes it, through the same
        # risk check as every order), and the entries that follow are refused, the kill switch named
        await sim.control.step(steps=1)                  # one tick on: what follows is later than the trip
        account = await settled(sim, engine)
        assert protected(account), f"no position left open after the trip: {account['positions']}"
        exits_mark = len(engine.text())
        await sim.control.resume()
        closed = await wait_until("exit while tripped",
                                  lambda: after(engine, exits_mark, r"on (\w+) closed \(signal\)"), engine, timeout=40)
        await wait_until("refused entry", lambda: after(engine, trip_mark, r"no entry on \w+ for \S+ on account main: "
                                                        r"kill_switch: daily drawdown"), engine, timeout=30)
        await sim.control.pause()
        paused = await settled(sim, engine)
        symbol = closed.group(1)
        assert symbol not in open_positions(paused), paused["positions"]   # closed on the exchange, not reopened
        report = json.loads(slt_risk(env, "--json").stdout)
        switch = report["kill_switch"]
        assert switch["entries_allowed"] is False and switch["trip"]["kind"] == "drawdown", switch
        assert D(switch["trip"]["drawdown"]) >= LIMIT, switch

        # a manual reset re-arms the running engine; entries resume
        slt_risk(env, "--reset")
        rearmed = await wait_until("re-arm", lambda: after(engine, trip_mark, r"kill switch re-armed \(operator reset"),
                                   engine, timeout=15)
        await sim.control.resume()
        resumed = await wait_until("entry after the reset", lambda: after(engine, rearmed.end(), r"sending entry"), engine,
                                   timeout=30)
        await wait_until("its fill", lambda: after(engine, resumed.end(), r"sending stop-loss"), engine, timeout=15)
        await sim.control.pause()
        await settled(sim, engine)
        assert engine.stop() == 0, engine.text()[-3000:]
    finally:
        engine.close()
        await sim.aclose()

    log = engine.text()
    assert "Traceback" not in log, log[-3000:]
    with connect(settings_for(env), read_only=True) as lake:
        events = reader.read(lake, HealthEvent, **{"component = ?": COMPONENT})
        entries = reader.read(lake, TradeEntry)
        exits = reader.read(lake, TradeExit)
        orders = reader.read(lake, Order)
        snapshots = reader.read(lake, EquitySnapshot)

    # the trip is recorded with the drawdown, from the equity snapshot taken after the stop's loss
    trips = [e for e in events if e.status == "tripped"]
    assert len(trips) == 1, events
    detail = json.loads(trips[0].detail)
    t_trip = trips[0].event_time
    assert detail["trip"]["kind"] == "drawdown" and D(detail["drawdown"]) >= LIMIT, detail
    assert D(detail["equity"]) == sum((s.equity for s in snapshots if s.event_time == t_trip), D(0))
    assert D(detail["equity"]) <= D(detail["day_peak"]) * (1 - LIMIT)
    stop_exit = next(x for x in exits if x.symbol == victim["symbol"] and x.reason == "stop_loss")
    assert stop_exit.event_time <= t_trip and stop_exit.realized_pnl < -LIMIT * equity, stop_exit
    # the reset: the operator's command, applied by the engine at its exchange time, and the re-arm
    assert [e.status for e in events if e.status in ("reset", "trip")] == ["reset"], events
    t_reset = next(e.event_time for e in events if e.status == "applied")
    assert any(e.status == "rearmed" and e.event_time == t_reset for e in events), events
    assert t_trip < t_reset

    # no entry order and no entry while tripped; entries before the trip and after the reset
    first_seen: dict[str, int] = {}
    for order in orders:
        if leg_of(order.client_order_id) is Leg.ENTRY:
            first_seen[order.client_order_id] = min(first_seen.get(order.client_order_id, 2**62), order.event_time)
    assert not [c for c, t in first_seen.items() if t_trip < t < t_reset], (t_trip, t_reset, first_seen)
    assert not [e for e in entries if t_trip < e.event_time < t_reset], (t_trip, t_reset)
    assert any(e.event_time <= t_trip for e in entries) and any(e.event_time > t_reset for e in entries)
    blocked = log[trip_mark:rearmed.start()]
    assert "sending entry" not in blocked and "kill_switch: daily drawdown" in blocked

    # exits went on while tripped (the exchange showed the position closed, checked above)
    while_tripped = [x for x in exits if t_trip < x.event_time < t_reset]
    assert any(x.symbol == symbol and x.reason == "signal" for x in while_tripped), (t_trip, exits)
