"""Stored candles for the flow tests: real 1m klines from data/market, recorded "now"."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from engine.config import Settings
from engine.core.clock import wall_ms
from engine.core.intervals import INTERVAL_MS
from engine.core.types import Candle
from engine.store import init_store, open_store
from engine.store.writer import write_records

MARKET = Path(__file__).resolve().parents[2] / "data" / "market"


def market_candles(symbol: str, hours: float, *, skip_last_hours: float = 0, received: int | None = None) -> list[Candle]:
    """The last `hours` of the symbol's July-2023 1m klines (minus the last `skip_last_hours`)."""
    frame = pl.read_parquet(MARKET / f"{symbol}-perp-klines-1m-2023-07.parquet").sort("open_time")
    end = int(frame["open_time"][-1]) - int(skip_last_hours * 3_600_000)
    frame = frame.filter((pl.col("open_time") > end - int(hours * 3_600_000)) & (pl.col("open_time") <= end))
    got, step = received if received is not None else wall_ms(), INTERVAL_MS["1m"]
    return [Candle(symbol, "1m", t, t + step - 1, o, h, lo, c, v, True, t + step, got)
            for t, o, h, lo, c, v in frame.select("open_time", "open", "high", "low", "close", "volume").iter_rows()]


def store_candles(settings: Settings, candles: list[Candle]) -> int:
    init_store(settings)
    with open_store(settings) as lake:
        return write_records(lake, candles).inserted
