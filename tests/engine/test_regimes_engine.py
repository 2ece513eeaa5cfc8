"""Regimes in the running engine, on the simulator's synthetic crash: `python -m engine` evaluates
each symbol on the 5-minute exchange-time grid, records every reading with its inputs (equal to
`detect_regime` on the simulator's own candles), and the caps in force follow: entries decided in
CRASH are cut to 20 % of equity at most 5x leverage (set on the exchange), and never more than two
positions are open when one is decided."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from engine.core.clock import ManualClock
from engine.core.secret import Secret
from engine.core.types import EquitySnapshot, TradeEntry, TradeExit
from engine.risk import Regime, RegimeReading, detect_regime
from engine.store import connect, reader
from engine.venues.binance import BinanceVenue
from tests.engine.process import EngineProcess, engine_env, settings_for
from tests.sim.harness import SimHandle

pytestmark = [pytest.mark.slow, pytest.mark.integration]
HOUR = 3_600_000
# series from 2024-01-01 00:00: normal 30 h, a 25 % crash over 24 h, normal; the replay starts 10 h into the
# crash (BTCUSDT turns CRASH ~1.3 h later, ETHUSDT ~3.4 h, XRPUSDT ~4.2 h) and runs 6 h
START, START_MS, HOURS = "2024-01-02T16:00:00Z", 1_704_211_200_000, 6


async def candles(sim: SimHandle, symbol: str, start: int, end: int) -> list[Any]:
    venue = BinanceVenue(account="check", rest_url=sim.rest_url, ws_url=sim.ws_url, api_key=Secret(sim.key),
                         api_secret=Secret(sim.secret), clock=ManualClock(), rate_limit=False)
    await venue.start()
    try:
        return await venue.fetch_candle_range(symbol, "1m", start, end)
    finally:
        await venue.close()


async def test_a_synthetic_crash_switches_the_engine_to_crash_caps(sim_process_factory: Any, tmp_path: Path) -> None:
    sim: SimHandle = sim_process_factory("--paused", "--speed", "2400", "--source", "synthetic", "--seed", "7",
                                         "--regimes", "normal:30,crash:24,normal:6", "--history-hours", "40",
                                         "--start", START, "--end-after", f"{HOURS}h")
    env = engine_env(sim, tmp_path / "data", SLT_LEVERAGE="10", SLT_ENTRY_EQUITY_FRACTION="0.05",
                     SLT_MAX_DAILY_DRAWDOWN="0.5")  # the kill switch is tested apart
    engine = EngineProcess(env, tmp_path / "engine.log")
    try:
        engine.start()
        engine.wait_for("engine ready", 30)
        await sim.control.resume()
        deadline = time.monotonic() + 90
        while not (await sim.control.state())["finished"]:
            assert time.monotonic() < deadline, "the replay did not finish in time"
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.5)
        assert engine.stop() == 0, engine.text()[-3000:]
        account = await sim.control.account(sim.key)
        tape = await candles(sim, "BTCUSDT", START_MS - 26 * HOUR, START_MS + HOURS * HOUR)
    finally:
        engine.close()
        await sim.aclose()
    log = engine.text()
    assert "Traceback" not in log, log[-3000:]
    with connect(settings_for(env), read_only=True) as lake:
        readings = reader.read(lake, RegimeReading, **{"symbol = ?": "BTCUSDT"})
        entries = reader.read(lake, TradeEntry)
        exits = reader.read(lake, TradeExit)
        equity = reader.read(lake, EquitySnapshot)

    # one reading at start and one per 5 minutes of exchange time, each equal to detect_regime on the
    # simulator's candles at that moment: the same inputs, recorded with them
    ends = [r.window_end for r in readings]
    assert ends[0] == START_MS and all(b - a == 300_000 for a, b in zip(ends, ends[1:])), ends[:5]
    assert len(readings) >= HOURS * 12 - 2
    for reading in readings:
        expected = detect_regime(tape, at=reading.window_end)
        assert (reading.regime, reading.change_pct, reading.volatility_pct, reading.close_start, reading.close_end,
                reading.bar_count) == (expected.regime, expected.change_pct, expected.volatility_pct,
                                       expected.close_start, expected.close_end, expected.bar_count), reading
    regimes = [r.regime for r in readings]
    assert regimes[0] is Regime.NORMAL and regimes[-1] is Regime.CRASH
    switch = next(r for r in readings if r.regime is Regime.CRASH)
    assert switch.change_pct < -15 and f"regime BTCUSDT: NORMAL -> CRASH (engine; 24 h change {switch.change_pct:+.2f}" \
        in log

    # the caps in force followed the regime
    def equity_at(account: str, t: int) -> D:
        return max((e for e in equity if e.account == account and e.event_time <= t), key=lambda e: e.event_time).equity

    crash = [e for e in entries if e.regime == "CRASH"]
    normal = [e for e in entries if e.regime == "NORMAL"]
    assert len(crash) >= 3 and len(normal) >= 3, (len(crash), len(normal))
    ratio = {e.trade_id: e.quantity * e.price / equity_at(e.account, e.event_time) for e in entries}
    assert max(ratio[e.trade_id] for e in normal) > D("0.25")       # NORMAL: up to 50 % of equity
    assert max(ratio[e.trade_id] for e in crash) <= D("0.2") * D("1.02"), sorted(ratio[e.trade_id] for e in crash)
    closed = {x.trade_id: x.event_time for x in exits}
    for entry in crash:
        # caps are the symbol's regime's: an entry on a NORMAL symbol decided in the same candle but
        # after this one is bound by NORMAL's cap, not by this CRASH one, so only earlier ones count
        open_then = [e for e in entries if (e is entry or e.event_time < entry.event_time)
                     and entry.event_time < closed.get(e.trade_id, 2**62)]
        assert len(open_then) <= 2, (entry, open_then)
    assert "concurrent_orders: 2 open positions and working entry orders; CRASH allows 2" in log  # the cap bit
    assert "leverage 10 -> 5 (the regime's cap" in log
    assert account["leverage"]["BTCUSDT"] == 5
