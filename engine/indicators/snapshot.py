"""The typed result for one bar (`Indicators`), the column names, and the signal rules.

The signals are derived here and only here, from the numeric values, whichever path produced them
(a stream, a batch frame row), so a policy sees the same signal for the same bar in live trading,
in a backtest and in training.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import NamedTuple

import polars as pl

from engine.indicators.ict import ICT_COLUMNS
from engine.indicators.params import IndicatorParams

STANDARD_COLUMNS = ("ema_fast", "ema_slow", "rsi", "macd", "macd_signal", "macd_hist",
                    "bb_upper", "bb_middle", "bb_lower", "bb_width", "adx", "atr")
COLUMNS = ("open_time", *STANDARD_COLUMNS, *ICT_COLUMNS)


class Trend(StrEnum):
    BULLISH = "bullish"
    BEARISH = "bearish"
    NEUTRAL = "neutral"


class RsiSignal(StrEnum):
    OVERBOUGHT = "overbought"
    OVERSOLD = "oversold"
    NEUTRAL = "neutral"


class MacdCross(StrEnum):
    BULLISH = "bullish"  # the histogram turned positive on this bar
    BEARISH = "bearish"  # ... turned negative
    NONE = "none"


class AdxGrade(StrEnum):
    WEAK = "weak"
    MODERATE = "moderate"
    STRONG = "strong"
    VERY_STRONG = "very_strong"


def ema_trend(fast: float, slow: float, p: IndicatorParams) -> Trend:
    """Bullish when the fast EMA is above the slow one by more than `ema_neutral_band` * slow,
    bearish when below by more; neutral otherwise and while either is undefined."""
    if math.isnan(fast) or math.isnan(slow) or abs(fast - slow) <= p.ema_neutral_band * slow:
        return Trend.NEUTRAL
    return Trend.BULLISH if fast > slow else Trend.BEARISH


def rsi_signal(rsi: float, p: IndicatorParams) -> RsiSignal:
    """Overbought at rsi >= rsi_overbought (70), oversold at <= rsi_oversold (30)."""
    if rsi >= p.rsi_overbought:
        return RsiSignal.OVERBOUGHT
    if rsi <= p.rsi_oversold:
        return RsiSignal.OVERSOLD
    return RsiSignal.NEUTRAL


def macd_cross(hist: float, previous_hist: float) -> MacdCross:
    """A cross is the histogram (MACD - signal) changing sign between the previous bar and this one:
    previous <= 0 < now is bullish, previous >= 0 > now bearish."""
    if previous_hist <= 0.0 < hist:
        return MacdCross.BULLISH
    if previous_hist >= 0.0 > hist:
        return MacdCross.BEARISH
    return MacdCross.NONE


def adx_grade(adx: float, p: IndicatorParams) -> AdxGrade:
    """Weak below adx_grades[0] (20) and while undefined, moderate below [1] (25), strong below
    [2] (50), very strong from there."""
    weak, moderate, strong = p.adx_grades
    if not adx >= weak:
        return AdxGrade.WEAK
    if adx < moderate:
        return AdxGrade.MODERATE
    return AdxGrade.STRONG if adx < strong else AdxGrade.VERY_STRONG


def signal_frame(frame: pl.DataFrame, params: IndicatorParams) -> pl.DataFrame:
    """The four signals for every row of a batch frame (Enum columns), by the same rules as the
    scalar functions above (a test holds them equal bar for bar). NaN guards come first because
    Polars orders NaN above every number."""
    fast, slow, rsi, adx, hist = (pl.col(n) for n in ("ema_fast", "ema_slow", "rsi", "adx", "macd_hist"))
    prev = hist.shift(1)
    weak, moderate, strong = params.adx_grades

    def enum(values: type[StrEnum]) -> pl.Enum:
        return pl.Enum([v.value for v in values])

    return frame.select(
        ema_trend=pl.when(fast.is_nan() | slow.is_nan() | ((fast - slow).abs() <= params.ema_neutral_band * slow))
        .then(pl.lit(Trend.NEUTRAL.value)).when(fast > slow).then(pl.lit(Trend.BULLISH.value))
        .otherwise(pl.lit(Trend.BEARISH.value)).cast(enum(Trend)),
        rsi_signal=pl.when(rsi.is_nan()).then(pl.lit(RsiSignal.NEUTRAL.value))
        .when(rsi >= params.rsi_overbought).then(pl.lit(RsiSignal.OVERBOUGHT.value))
        .when(rsi <= params.rsi_oversold).then(pl.lit(RsiSignal.OVERSOLD.value))
        .otherwise(pl.lit(RsiSignal.NEUTRAL.value)).cast(enum(RsiSignal)),
        macd_cross=pl.when(hist.is_nan() | prev.is_nan() | prev.is_null()).then(pl.lit(MacdCross.NONE.value))
        .when((prev <= 0.0) & (hist > 0.0)).then(pl.lit(MacdCross.BULLISH.value))
        .when((prev >= 0.0) & (hist < 0.0)).then(pl.lit(MacdCross.BEARISH.value))
        .otherwise(pl.lit(MacdCross.NONE.value)).cast(enum(MacdCross)),
        adx_signal=pl.when(adx.is_nan() | (adx < weak)).then(pl.lit(AdxGrade.WEAK.value))
        .when(adx < moderate).then(pl.lit(AdxGrade.MODERATE.value))
        .when(adx < strong).then(pl.lit(AdxGrade.STRONG.value))
        .otherwise(pl.lit(AdxGrade.VERY_STRONG.value)).cast(enum(AdxGrade)),
    )


class ICTFeatures(NamedTuple):
    """The ICT columns of one bar without their `ict_` prefix (definitions in engine.indicators.ict).
    Counts and flags are ints, levels floats (NaN when there is none)."""

    trend: int
    bos: int
    choch: int
    swing_high: float
    swing_low: float
    ob_bull_count: int
    ob_bull_top: float
    ob_bull_bottom: float
    ob_bear_count: int
    ob_bear_top: float
    ob_bear_bottom: float
    eqh_count: int
    eqh_level: float
    eqh_swept: int
    eql_count: int
    eql_level: float
    eql_swept: int
    fvg_bull_count: int
    fvg_bull_top: float
    fvg_bull_bottom: float
    fvg_bear_count: int
    fvg_bear_top: float
    fvg_bear_bottom: float

    @property
    def market_structure(self) -> Trend:
        return {1: Trend.BULLISH, -1: Trend.BEARISH}.get(self.trend, Trend.NEUTRAL)

    @property
    def order_blocks_count(self) -> int:
        return self.ob_bull_count + self.ob_bear_count

    @property
    def fvg_count(self) -> int:
        return self.fvg_bull_count + self.fvg_bear_count

    @property
    def liquidity_context(self) -> str:
        """"swept_highs" / "swept_lows" on a bar that swept a pool (both: "swept_both"), otherwise
        where live pools rest: "pools_above_and_below", "pools_above", "pools_below" or "none"."""
        if self.eqh_swept or self.eql_swept:
            return "swept_both" if self.eqh_swept and self.eql_swept else (
                "swept_highs" if self.eqh_swept else "swept_lows")
        above, below = self.eqh_count > 0, self.eql_count > 0
        if above and below:
            return "pools_above_and_below"
        return "pools_above" if above else ("pools_below" if below else "none")


assert ICTFeatures._fields == tuple(name.removeprefix("ict_") for name in ICT_COLUMNS)


class Indicators(NamedTuple):
    """Every indicator and signal for one closed bar of one symbol and interval (immutable).

    `ready` is False during warm-up, when some values are NaN; signals then read neutral, none or
    weak. `ict` is None when ICT features were not computed. bb_width = (bb_upper - bb_lower) /
    bb_middle, a fraction of the price. (A NamedTuple: built in ~0.2 us, versus ~1.5 us for a
    frozen dataclass, which matters once per candle per symbol.)
    """

    symbol: str
    interval: str
    open_time: int
    close: float
    ema_fast: float
    ema_slow: float
    rsi: float
    macd: float
    macd_signal: float
    macd_hist: float
    bb_upper: float
    bb_middle: float
    bb_lower: float
    bb_width: float
    adx: float
    atr: float
    ema_trend: Trend
    rsi_signal: RsiSignal
    macd_cross: MacdCross
    adx_signal: AdxGrade
    ready: bool
    ict: ICTFeatures | None

    @classmethod
    def build(cls, symbol: str, interval: str, open_time: int, close: float, standard: Sequence[float],
              previous_hist: float, ict: Sequence[float | int] | None, params: IndicatorParams) -> Indicators:
        """From the twelve standard values (STANDARD_COLUMNS order) and the ICT values (ICT_COLUMNS)."""
        ema_fast, ema_slow, rsi, macd, signal, hist, upper, middle, lower, width, adx, atr = standard
        return cls(
            symbol, interval, open_time, close, ema_fast, ema_slow, rsi, macd, signal, hist, upper, middle,
            lower, width, adx, atr, ema_trend(ema_fast, ema_slow, params), rsi_signal(rsi, params),
            macd_cross(hist, previous_hist), adx_grade(adx, params), not any(map(math.isnan, standard)),
            None if ict is None else ICTFeatures._make(ict))

    @classmethod
    def from_row(cls, row: Mapping[str, float | int], previous_hist: float, params: IndicatorParams,
                 *, symbol: str = "", interval: str = "", close: float = math.nan) -> Indicators:
        """From one row of a batch frame (a dict of column -> value)."""
        has_ict = ICT_COLUMNS[0] in row
        return cls.build(symbol, interval, int(row["open_time"]), float(close),
                         [float(row[name]) for name in STANDARD_COLUMNS], float(previous_hist),
                         [row[name] for name in ICT_COLUMNS] if has_ict else None, params)

    def as_dict(self) -> dict[str, object]:
        """Plain values (the ICT features as a nested dict)."""
        values: dict[str, object] = self._asdict()
        if self.ict is not None:
            values["ict"] = self.ict._asdict()
        return values
