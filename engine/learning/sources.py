"""Reading the bundled history (data/market layout) into `MarketData` (the I/O edge of the dataset)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from engine.core.errors import DataError
from engine.learning.dataset import MarketData

_EMPTY_FUNDING = pl.DataFrame(schema={"open_time": pl.Int64, "funding_rate": pl.Float64})
_EMPTY_MARK = pl.DataFrame(schema={"open_time": pl.Int64, "close": pl.Float64})


def bundled(market_dir: Path, symbol: str, interval: str) -> MarketData:
    """`<symbol>-perp-klines-<interval>.parquet` plus its mark and funding files when present."""
    candles_path = market_dir / f"{symbol}-perp-klines-{interval}.parquet"
    if not candles_path.is_file():
        raise DataError(f"no candles for {symbol} {interval}: {candles_path} does not exist")
    mark_path = market_dir / f"{symbol}-perp-mark-{interval}.parquet"
    funding_path = market_dir / f"{symbol}-perp-funding-8h.parquet"
    return MarketData(symbol, interval, pl.read_parquet(candles_path),
                      pl.read_parquet(mark_path) if mark_path.is_file() else _EMPTY_MARK,
                      pl.read_parquet(funding_path).sort("open_time") if funding_path.is_file() else _EMPTY_FUNDING)


def from_files(candles: Path, mark: Path | None = None, funding: Path | None = None) -> MarketData:
    """One symbol from explicit files; symbol and interval are read from the candle file's columns."""
    frame = pl.read_parquet(candles)
    for column in ("symbol", "interval"):
        if column not in frame.columns or frame[column].n_unique() != 1:
            raise DataError(f"{candles}: expected one value in its '{column}' column (data/market layout)")
    return MarketData(frame["symbol"][0], frame["interval"][0], frame,
                      pl.read_parquet(mark) if mark else _EMPTY_MARK,
                      pl.read_parquet(funding).sort("open_time") if funding else _EMPTY_FUNDING)
