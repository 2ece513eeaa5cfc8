"""Incremental indicators: one `IndicatorStream` per symbol and interval, fed each closed candle.

Each update costs O(1) time and memory (closure state and fixed-size rings, nothing grows with the
number of bars) and needs neither TA-Lib nor NumPy. Values equal the batch values of
`compute(..., backend="numpy")` bit for bit on every bar, warm-up included, and those of the TA-Lib
backend to ~1e-12 relative (TA-Lib fuses some multiply-adds, so its last bits differ).

A bad candle (see `engine.indicators.candles`) raises `CandleError` before any state changes, so the
stream carries on with the next good candle as if the bad one had never arrived.
"""

from __future__ import annotations

import math
from typing import Any

from engine.core.types import Candle
from engine.indicators.candles import CandleError, as_ohlcv, bar_is_valid, check_bar
from engine.indicators.ict import ICT_COLUMNS, ICTState
from engine.indicators.kernel import standard_kernel
from engine.indicators.params import DEFAULT_PARAMS, IndicatorParams
from engine.indicators.snapshot import STANDARD_COLUMNS, Indicators

_NANS = (math.nan,) * len(STANDARD_COLUMNS)


class StandardStream:
    """The standard set alone, on floats: `update(high, low, close)` returns the twelve values in
    `STANDARD_COLUMNS` order. No validation here; `IndicatorStream` validates."""

    __slots__ = ("params", "update")

    def __init__(self, params: IndicatorParams = DEFAULT_PARAMS) -> None:
        self.params = params
        self.update = standard_kernel(params)


class IndicatorStream:
    """Standard indicators and ICT features of one symbol and interval, one closed candle at a time.

    >>> stream = IndicatorStream("BTCUSDT", "1m")
    >>> indicators = stream.update(candle)        # doctest: +SKIP
    >>> indicators.rsi, indicators.rsi_signal      # doctest: +SKIP
    """

    def __init__(self, symbol: str, interval: str, params: IndicatorParams = DEFAULT_PARAMS,
                 *, ict: bool = True) -> None:
        self.symbol = symbol
        self.interval = interval
        self.params = params
        self._standard = standard_kernel(params)
        self._ict = ICTState(params.ict) if ict else None
        self.bars = 0
        self.last_open_time: int | None = None
        self._close = math.nan
        self._values: tuple[float, ...] = _NANS
        self._previous_hist = math.nan
        self._ict_values: tuple[float | int, ...] | None = None

    @property
    def ready(self) -> bool:
        """True once every standard indicator has a value (after `params.warmup` bars)."""
        return self.bars > self.params.warmup

    def update(self, candle: Candle) -> Indicators:
        """Advance by one closed candle of this stream's symbol and interval; return its indicators."""
        if candle.symbol != self.symbol or candle.interval != self.interval:
            raise CandleError(f"candle for {candle.symbol} {candle.interval} fed to the "
                              f"{self.symbol} {self.interval} stream", field="symbol", open_time=candle.open_time)
        if not candle.closed:
            raise CandleError("candle is not closed yet; indicators take closed candles only",
                              field="closed", open_time=candle.open_time)
        self.advance(candle.open_time, candle.open, candle.high, candle.low, candle.close, candle.volume)
        return self.snapshot()

    def advance(self, open_time: int, open: float, high: float, low: float, close: float,
                volume: float) -> None:
        """Validate and take one bar without building a snapshot (history warm-up, replays)."""
        previous = self.last_open_time
        if not bar_is_valid(open_time, open, high, low, close, volume, -(2 ** 63) if previous is None else previous):
            check_bar(open_time, open, high, low, close, volume, previous)
        self._previous_hist = self._values[5]
        self._values = self._standard(high, low, close)
        if self._ict is not None:
            self._ict_values = self._ict.update(open, high, low, close)
        self._close = close
        self.last_open_time = open_time
        self.bars += 1

    def warm_up(self, data: Any) -> None:
        """Feed history (a frame or arrays in the data/market klines layout), oldest bar first."""
        bars = as_ohlcv(data)
        for row in zip(*(column.tolist() for column in bars), strict=True):
            self.advance(*row)

    def snapshot(self) -> Indicators:
        """The typed indicators of the latest bar."""
        if self.last_open_time is None:
            raise CandleError("no candle yet", field="bars")
        return Indicators.build(self.symbol, self.interval, self.last_open_time, self._close, self._values,
                                self._previous_hist, self._ict_values, self.params)

    def row(self) -> dict[str, float | int]:
        """The latest values keyed like the columns of a batch frame."""
        values: dict[str, float | int] = {"open_time": -1 if self.last_open_time is None else self.last_open_time}
        values.update(zip(STANDARD_COLUMNS, self._values, strict=True))
        if self._ict_values is not None:
            values.update(zip(ICT_COLUMNS, self._ict_values, strict=True))
        return values
