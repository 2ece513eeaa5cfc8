"""A backtest of the bundled 1m window the end-to-end test replays (07:20 UTC on 2025-05-06)."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal
from pathlib import Path

from engine.backtest.driver import Backtest, Run, build_sim
from engine.config import Settings, load_settings
from engine.core.intervals import INTERVAL_MS
from engine.sim.options import SimOptions, parse_time
from engine.sim.sources import load_tapes
from engine.sim.tape import Tape

MARKET = Path(__file__).resolve().parents[2] / "data" / "market"
START = parse_time("2025-05-06T07:20:00Z")


def settings(**env: str) -> Settings:
    return load_settings({"SLT_INTERVAL": "1m", "SLT_SYMBOLS": "BTCUSDT,ETHUSDT", **env}, env_file=None)


def options(bars: int) -> SimOptions:
    return SimOptions(data_dir=MARKET, start_ms=START, end_ms=START + bars * 60_000)


def cut_tape(tape: Tape, cut_ms: int) -> Tape:
    """The tape as it was known at `cut_ms`: no bar closing after it, no later mark bar or funding."""
    def closed(bars):  # type: ignore[no-untyped-def]
        return bars.take(bars.open_time + INTERVAL_MS[bars.interval] - 1 <= cut_ms)
    keep = tape.funding_time <= cut_ms
    return dataclasses.replace(tape, base=closed(tape.base), history={i: closed(b) for i, b in tape.history.items()},
                               mark=closed(tape.mark) if tape.mark is not None else None,
                               funding_time=tape.funding_time[keep], funding_rate=tape.funding_rate[keep])


def backtest(bars: int = 525, *, stop_at_ms: int | None = None, cut_ms: int | None = None,
             **env: str) -> tuple[Run, Backtest]:
    """`cut_ms`: the data itself ends there (the replay too); `stop_at_ms`: the run stops there."""
    config = settings(**env)
    opts = dataclasses.replace(options(bars), symbols=config.symbols, interval=config.interval)
    loaded = None
    if cut_ms is not None:
        tapes, specs, start, _ = load_tapes(opts)
        loaded = ({s: cut_tape(t, cut_ms) for s, t in tapes.items()}, specs, start, cut_ms + 1)
    sim, accounts = build_sim(config, opts, Decimal(10_000), loaded)
    bt = Backtest(config, sim, accounts)
    return asyncio.run(bt.run(stop_at_ms=stop_at_ms)), bt
