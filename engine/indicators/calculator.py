"""`IndicatorEngine`: batch indicators with fixed parameters, a backend and an optional cache.

The one object a caller holds when it asks, again and again, for indicators of a recent window
(the original `EliteTechnicalEngine.calculate_all_indicators(df, symbol)`): `frame(data)` for every
bar, `latest(data)` for the typed result of the last bar. Identical candles within the cache TTL
are served from the cache.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from engine.indicators.batch import Backend, Progress, compute, resolve_backend
from engine.indicators.cache import IndicatorCache, cache_key
from engine.indicators.candles import as_ohlcv
from engine.indicators.params import DEFAULT_PARAMS, IndicatorParams
from engine.indicators.snapshot import Indicators


class IndicatorEngine:
    def __init__(self, params: IndicatorParams = DEFAULT_PARAMS, *, backend: Backend = "auto",
                 ict: bool = True, cache: IndicatorCache | None = None) -> None:
        self.params = params
        self.backend = resolve_backend(backend)
        self.ict = ict
        self.cache = cache

    def frame(self, data: Any, progress: Progress | None = None) -> pl.DataFrame:
        """`compute(data)` with this engine's settings, through the cache when there is one."""
        bars = as_ohlcv(data)
        if self.cache is None:
            return compute(bars, self.params, backend=self.backend, ict=self.ict, progress=progress)  # type: ignore[arg-type]
        key = cache_key(bars, self.params, self.backend, self.ict)
        frame = self.cache.get(key)
        if frame is None:
            frame = compute(bars, self.params, backend=self.backend, ict=self.ict, progress=progress)  # type: ignore[arg-type]
            self.cache.put(key, frame)
        return frame

    def latest(self, data: Any, symbol: str = "", interval: str = "") -> Indicators:
        """Typed indicators of the last bar of `data` (which needs at least `params.min_bars` bars)."""
        bars = as_ohlcv(data)
        if isinstance(data, pl.DataFrame) and data.height:
            symbol = symbol or str(data.get_column("symbol")[-1]) if "symbol" in data.columns else symbol
            interval = interval or str(data.get_column("interval")[-1]) if "interval" in data.columns else interval
        frame = self.frame(bars)
        tail = frame.tail(2).to_dicts()
        previous_hist = tail[0]["macd_hist"] if len(tail) == 2 else math.nan
        return Indicators.from_row(tail[-1], previous_hist, self.params, symbol=symbol, interval=interval,
                                   close=float(bars.close[-1]))
