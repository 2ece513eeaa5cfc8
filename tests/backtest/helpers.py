"""A backtest of the bundled 1m window the end-to-end test replays (07:20 UTC on 2025-05-06)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from engine.backtest.driver import Backtest, Run, build_sim
from engine.config import Settings, load_settings
from engine.sim.options import SimOptions, parse_time

MARKET = Path(__file__).resolve().parents[2] / "data" / "market"
START = parse_time("2025-05-06T07:20:00Z")


def settings(**env: str) -> Settings:
    return load_settings({"SLT_INTERVAL": "1m", "SLT_SYMBOLS": "BTCUSDT,ETHUSDT", **env}, env_file=None)


def backtest(bars: int = 525, *, stop_at_ms: int | None = None, **env: str) -> tuple[Run, Backtest]:
    import asyncio
    config = settings(**env)
    sim, accounts = build_sim(config, SimOptions(data_dir=MARKET, start_ms=START, end_ms=START + bars * 60_000),
                              Decimal(10_000))
    bt = Backtest(config, sim, accounts)
    return asyncio.run(bt.run(stop_at_ms=stop_at_ms)), bt
