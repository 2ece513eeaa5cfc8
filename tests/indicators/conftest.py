"""Real candles from data/market for the indicator tests, and a builder for hand-made ones."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
import polars as pl

from engine.core.types import Candle
from tests.conftest import MARKET_DATA

# Several symbols and intervals (1m, 5m, 1h, 8h) of Binance USD-M perpetual klines.
PARITY_FILES = (
    "BTCUSDT-perp-klines-1h.parquet",
    "ETHUSDT-perp-klines-1m-2025-05.parquet",
    "BTCUSDT-perp-klines-1m-2023-07.parquet",
    "XRPUSDT-perp-klines-1h.parquet",
    "XRPUSDT-perp-klines-5m-2021-11.parquet",
    "XRPUSDT-perp-klines-8h-2021-11.parquet",
)


@cache
def klines(name: str) -> pl.DataFrame:
    return pl.read_parquet(MARKET_DATA / name)


def candles_of(frame: pl.DataFrame) -> list[Candle]:
    interval_ms = int(frame.get_column("open_time").diff().min() or 60_000)
    return [Candle(symbol=r["symbol"], interval=r["interval"], open_time=r["open_time"],
                   close_time=r["open_time"] + interval_ms - 1, open=r["open"], high=r["high"],
                   low=r["low"], close=r["close"], volume=r["volume"]) for r in frame.iter_rows(named=True)]


def bars(ohlc: Sequence[tuple[float, float, float, float]], start: int = 1_700_000_000_000,
         step: int = 60_000) -> pl.DataFrame:
    """A klines frame from (open, high, low, close) tuples, one minute apart, volume 1."""
    o, h, l, c = (list(x) for x in zip(*ohlc, strict=True))
    n = len(o)
    return pl.DataFrame({"open_time": np.arange(n, dtype=np.int64) * step + start, "open": o, "high": h,
                         "low": l, "close": c, "volume": [1.0] * n, "symbol": ["TESTUSDT"] * n,
                         "interval": ["1m"] * n})


def same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise bit equality where NaN equals NaN."""
    return (a == b) | (np.isnan(a) & np.isnan(b))
