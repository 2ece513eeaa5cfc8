"""candle-backfill: fills the holes in the stored candles of the traded streams, hourly and on demand.

Reads: `candles` (which bars of each traded symbol and interval, and of the interval regimes are
measured on, are missing over the lookback window) and where the exchange's market data stands
(its forming bar). Fetches: exactly the missing closed bars over REST (the venue's range pager,
through ccxt). Writes: `candles` (record id symbol:interval:open time, so a rerun stores nothing
twice). Publishes: the table artifact `candle-backfill` (per stream with a hole: holes, bars
missing, bars fetched). `slt up` also runs it once at start, for the time the system was down.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from prefect import flow, get_run_logger
from prefect.states import State

from engine.core.errors import DataError, ExchangeError
from engine.jobs import backfill
from engine.risk.tracker import regime_interval
from flows import begin, failed
from tasks import exchange, publish, store


@flow(name="candle-backfill", description=__doc__.split("\n")[0])
def candle_backfill(symbols: list[str] | None = None, intervals: list[str] | None = None,
                    lookback_hours: float = 168.0) -> dict[str, Any] | State:
    settings = begin()
    if isinstance(settings, State):
        return settings
    if (problem := store.check_store(settings)) is not None:
        return failed(problem)
    chosen = list(symbols or settings.symbols)
    wanted = list(intervals or dict.fromkeys([settings.interval, regime_interval(settings.interval)]))
    streams = [(s, i) for s in chosen for i in wanted]
    try:
        holes = store.candle_holes(settings, exchange.current_bars(settings, streams), lookback_hours)
        candles = exchange.fetch_holes(settings, holes) if holes else []
    except (ExchangeError, DataError) as exc:
        return failed(f"candle-backfill: {exc}")
    written = store.write(settings, candles)
    fetched = Counter((c.symbol, c.interval) for c in candles)
    publish.table("candle-backfill", backfill.summary(holes, dict(fetched)),
                  f"Missing candles over the last {lookback_hours:g} h (exchange time), fetched over REST")
    get_run_logger().info("%d holes (%d bars missing) in %d streams; %d fetched, %d stored, %d already stored",
                          len(holes), sum(h.bars for h in holes), len(streams), len(candles), written.inserted,
                          written.skipped)
    return {"holes": len(holes), "missing": sum(h.bars for h in holes), "fetched": len(candles),
            "stored": written.inserted}
