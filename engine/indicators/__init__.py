"""The indicator engine: one source of truth for every indicator and ICT feature.

Used per closed candle by the trading engine (`IndicatorStream`), over history by training flows
(`compute` -> a feature frame), and by the rule-based bootstrap policy (the typed `Indicators` and
its signals). Pure: NumPy, Polars and (optionally) TA-Lib; no I/O.

    from engine.indicators import IndicatorStream, compute, IndicatorEngine

    frame = compute(klines)                         # open_time + every column, NaN during warm-up
    stream = IndicatorStream("BTCUSDT", "1m")
    indicators = stream.update(candle)              # typed result for that closed candle
    indicators.ema_trend, indicators.rsi_signal, indicators.adx_signal, indicators.ict.fvg_count

Batch (TA-Lib or NumPy/Polars) and stream (pure Python) compute the same definitions: the stream
equals `backend="numpy"` bit for bit and TA-Lib to ~1e-12 relative. Every feature is causal: its
value at bar t depends only on bars 0..t.
"""

from engine.indicators.batch import Backend, Progress, compute, ict_frame, resolve_backend, standard_frame
from engine.indicators.cache import CacheStats, IndicatorCache, cache_key
from engine.indicators.calculator import IndicatorEngine
from engine.indicators.candles import CandleError, Ohlcv, as_ohlcv, check_bar, validate
from engine.indicators.ict import ICT_COLUMNS, ICTState
from engine.indicators.params import DEFAULT_PARAMS, ICTParams, IndicatorParams
from engine.indicators.snapshot import (
    COLUMNS,
    STANDARD_COLUMNS,
    AdxGrade,
    ICTFeatures,
    Indicators,
    MacdCross,
    RsiSignal,
    Trend,
    adx_grade,
    ema_trend,
    macd_cross,
    rsi_signal,
    signal_frame,
)
from engine.indicators.stream import IndicatorStream, StandardStream
from engine.indicators.talib_backend import talib_available

__all__ = [
    "AdxGrade", "Backend", "COLUMNS", "CacheStats", "CandleError", "DEFAULT_PARAMS", "ICTFeatures", "ICTParams",
    "ICTState", "ICT_COLUMNS", "IndicatorCache", "IndicatorEngine", "IndicatorParams", "IndicatorStream",
    "Indicators", "MacdCross", "Ohlcv", "Progress", "RsiSignal", "STANDARD_COLUMNS", "StandardStream", "Trend",
    "adx_grade", "as_ohlcv", "cache_key", "check_bar", "compute", "ema_trend", "ict_frame", "macd_cross",
    "resolve_backend", "rsi_signal", "signal_frame", "standard_frame", "talib_available", "validate",
]
