"""The standard set through TA-Lib, when it is importable.

TA-Lib keeps process-wide settings that change results: per-function "unstable periods" (extra
warm-up bars that shift every seed) and a Metastock compatibility mode (different EMA/RSI seeds).
Our definitions, the NumPy fallback and the stream all assume the defaults (unstable period 0,
default compatibility), so a call refuses to run when someone changed them instead of silently
returning different numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from engine.core.errors import ConfigError
from engine.indicators.candles import Ohlcv
from engine.indicators.params import IndicatorParams

try:
    import talib as _talib
except ImportError:  # pragma: no cover - exercised only where TA-Lib is not installed
    _talib = None

UNSTABLE_FUNCTIONS = ("EMA", "RSI", "ADX", "ATR")  # the ones whose seeds the unstable period moves


def talib_available() -> bool:
    return _talib is not None


def _lib() -> Any:
    if _talib is None:
        raise ConfigError("backend='talib' needs the ta-lib package; install it or use backend='numpy'")
    return _talib


def check_talib_settings() -> None:
    """Refuse to compute under non-default TA-Lib global settings (they change every seed)."""
    lib = _lib()
    check_settings({name: lib.get_unstable_period(name) for name in UNSTABLE_FUNCTIONS}, lib.get_compatibility())


def check_settings(unstable_periods: dict[str, int], compatibility: int) -> None:
    """The rule on TA-Lib's settings as read: unstable periods all 0, compatibility 0 (default)."""
    changed = {name: period for name, period in unstable_periods.items() if period != 0}
    if changed:
        raise ConfigError(f"TA-Lib unstable periods were changed ({changed}); the indicator engine needs "
                          "the default 0 (talib.set_unstable_period(name, 0))")
    if compatibility != 0:
        raise ConfigError("TA-Lib is in Metastock compatibility mode; the indicator engine needs the default "
                          "(talib.set_compatibility(0))")


def talib_tasks(bars: Ohlcv, p: IndicatorParams) -> tuple[Callable[[], dict[str, np.ndarray]], ...]:
    """The TA-Lib calls as independent tasks (TA-Lib releases the GIL, so they can run in parallel),
    split in two groups of about equal cost (the second also carries the input validation)."""
    lib = _lib()
    high, low, close = bars.high, bars.low, bars.close

    def closes() -> dict[str, np.ndarray]:
        macd, signal, hist = lib.MACD(close, p.macd_fast, p.macd_slow, p.macd_signal)
        upper, middle, lower = lib.BBANDS(close, p.bb_period, p.bb_std, p.bb_std, 0)
        width = np.subtract(upper, lower)
        width /= middle
        return {"ema_fast": lib.EMA(close, p.ema_fast), "ema_slow": lib.EMA(close, p.ema_slow),
                "rsi": lib.RSI(close, p.rsi_period), "macd": macd, "macd_signal": signal, "macd_hist": hist,
                "bb_upper": upper, "bb_middle": middle, "bb_lower": lower, "bb_width": width}

    def ranges() -> dict[str, np.ndarray]:
        return {"adx": lib.ADX(high, low, close, p.adx_period), "atr": lib.ATR(high, low, close, p.atr_period)}

    return closes, ranges
