"""The parameters of every indicator and ICT feature, in one frozen (hashable) object.

A params object is part of every cache key and travels with a stream, so two results computed with
the same params are comparable bar for bar. Out-of-range values raise `ConfigError` at construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from engine.core.errors import ConfigError

MAX_PERIOD = 100_000  # TA-Lib's own upper bound on every period


def _period(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= MAX_PERIOD:
        raise ConfigError(f"{name}={value!r} is not allowed: expected an integer from 2 to {MAX_PERIOD}")


def _positive(name: str, value: float, *, zero_ok: bool = False) -> None:
    ok = isinstance(value, (int, float)) and math.isfinite(value) and (value >= 0 if zero_ok else value > 0)
    if not ok:
        raise ConfigError(f"{name}={value!r} is not allowed: expected a finite number "
                          f"{'>= 0' if zero_ok else '> 0'}")


@dataclass(frozen=True, slots=True)
class ICTParams:
    """ICT feature parameters (definitions in `engine.indicators.ict`).

    swing_length: bars on each side of a swing point; a swing is confirmed `swing_length` bars
        after it, once those bars have closed.
    equal_tolerance: two swing highs (lows) are "equal" when they differ by at most this fraction
        of the larger (lower) one; 0.0005 = 0.05 %.
    ob_lookback: how many bars before a structure break are searched for the order-block candle.
    max_zones: at most this many order blocks, fair value gaps, liquidity pools and remembered
        swing points are kept per side (the oldest is forgotten first), which bounds memory and the
        work per bar.
    fvg_min_size: a fair value gap must be at least this fraction of the third candle's close.
    """

    swing_length: int = 3
    equal_tolerance: float = 0.0005
    ob_lookback: int = 20
    max_zones: int = 10
    fvg_min_size: float = 0.0

    def __post_init__(self) -> None:
        for name in ("swing_length", "ob_lookback", "max_zones"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
                raise ConfigError(f"ict.{name}={value!r} is not allowed: expected an integer from 1 to 1000")
        _positive("ict.equal_tolerance", self.equal_tolerance, zero_ok=True)
        _positive("ict.fvg_min_size", self.fvg_min_size, zero_ok=True)


@dataclass(frozen=True, slots=True)
class IndicatorParams:
    """Periods and signal thresholds of the standard set; defaults are the original system's.

    ema_neutral_band: `ema_trend` is neutral while |ema_fast - ema_slow| <= band * ema_slow
        (0 = neutral only when equal or not yet defined).
    rsi_overbought / rsi_oversold: `rsi_signal` is "overbought" at rsi >= 70, "oversold" at <= 30.
    adx_grades: `adx_signal` is "weak" below 20, "moderate" below 25, "strong" below 50,
        "very_strong" from 50 (Wilder: above 25 a trend is worth trading, below 20 there is none).
    bb_std: the bands are middle +/- bb_std population standard deviations.
    """

    ema_fast: int = 12
    ema_slow: int = 26
    ema_neutral_band: float = 0.0
    rsi_period: int = 14
    rsi_overbought: float = 70.0
    rsi_oversold: float = 30.0
    macd_fast: int = 12
    macd_slow: int = 26
    macd_signal: int = 9
    bb_period: int = 20
    bb_std: float = 2.0
    adx_period: int = 14
    adx_grades: tuple[float, float, float] = (20.0, 25.0, 50.0)
    atr_period: int = 14
    ict: ICTParams = field(default_factory=ICTParams)

    def __post_init__(self) -> None:
        for name in ("ema_fast", "ema_slow", "rsi_period", "macd_fast", "macd_slow", "macd_signal",
                     "bb_period", "adx_period", "atr_period"):
            _period(name, getattr(self, name))
        if self.macd_fast >= self.macd_slow:
            raise ConfigError(f"macd_fast={self.macd_fast} must be below macd_slow={self.macd_slow}")
        _positive("bb_std", self.bb_std)
        _positive("ema_neutral_band", self.ema_neutral_band, zero_ok=True)
        if not 0 < self.rsi_oversold < self.rsi_overbought < 100:
            raise ConfigError(f"rsi_oversold={self.rsi_oversold}, rsi_overbought={self.rsi_overbought}: "
                              "expected 0 < oversold < overbought < 100")
        grades = self.adx_grades
        if len(grades) != 3 or not all(isinstance(g, (int, float)) for g in grades) \
                or not 0 < grades[0] < grades[1] < grades[2] < 100:
            raise ConfigError(f"adx_grades={grades!r}: expected three increasing numbers between 0 and 100")
        if not isinstance(self.ict, ICTParams):
            raise ConfigError(f"ict={self.ict!r}: expected an ICTParams")

    # TA-Lib's lookbacks (unstable period 0): the index of each indicator's first value.
    @property
    def lookbacks(self) -> dict[str, int]:
        return {
            "ema_fast": self.ema_fast - 1,
            "ema_slow": self.ema_slow - 1,
            "rsi": self.rsi_period,
            "macd": self.macd_slow - 1 + self.macd_signal - 1,
            "bb": self.bb_period - 1,
            "adx": 2 * self.adx_period - 1,
            "atr": self.atr_period,
        }

    @property
    def warmup(self) -> int:
        """Bars before the first bar on which every standard indicator has a value."""
        return max(self.lookbacks.values())

    @property
    def min_bars(self) -> int:
        """The fewest bars a batch call accepts: enough for one full set of values."""
        return self.warmup + 1


DEFAULT_PARAMS = IndicatorParams()
