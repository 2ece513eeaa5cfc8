from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from engine.learning.dataset import MarketData
from engine.learning.sources import bundled

MARKET = Path(__file__).resolve().parents[2] / "data" / "market"


def sliced(data: MarketData, start: int, stop: int) -> MarketData:
    """Bars start..stop of the candles, with the mark and funding rows of that window."""
    candles = data.candles.sort("open_time")[start:stop]
    lo, hi = candles["open_time"][0], candles["open_time"][-1]
    return MarketData(data.symbol, data.interval, candles,
                      data.mark.filter(pl.col("open_time").is_between(lo, hi)),
                      data.funding.filter(pl.col("open_time").is_between(lo, hi + 3_600_000)))


@pytest.fixture(scope="session")
def history() -> list[MarketData]:
    """Three symbols, 1h, the same 6000-bar window of 2022-2023 (real candles)."""
    out = []
    for symbol in ("BTCUSDT", "ETHUSDT", "XRPUSDT"):
        full = bundled(MARKET, symbol, "1h")
        start = full.candles["open_time"].search_sorted(1_640_995_200_000)  # 2022-01-01
        out.append(sliced(full, start, start + 6000))
    return out
