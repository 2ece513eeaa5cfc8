"""The dataset: one function from candles, mark prices and funding to features and labels.

Training, evaluation and (later) the engine build their rows here, so a feature means the same
everywhere. Rows are the bootstrap policy's signals (meta-labelling: the model judges a proposed
trade, it does not pick a side). Features are computed by the engine's own indicator code
(`engine.indicators.compute`, numpy backend: bit for bit what `IndicatorStream` gives the engine)
plus context, all causal: the value at bar t uses bars 0..t only (a test truncates the data at t
and compares every column). Labels come from `engine.learning.labels`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from engine.core.intervals import DAY_MS, HOUR_MS, INTERVAL_MS
from engine.indicators import DEFAULT_PARAMS, STANDARD_COLUMNS, IndicatorParams, Indicators, compute
from engine.indicators.ict import ICT_COLUMNS, ICT_INT_COLUMNS
from engine.learning.labels import ExitSpec, barrier_outcomes
from engine.signals import BootstrapPolicy, SignalPolicy

FEATURE_VERSION = "meta-v1"
RETURN_HORIZONS = (1, 4, 12, 24, 72, 168)
VOLATILITY_HORIZONS = (24, 168)
DAILY_TREND_DAYS = 20
ICT_LEVELS = tuple(name for name in ICT_COLUMNS if name not in ICT_INT_COLUMNS)
ICT_STATES = tuple(name for name in ICT_COLUMNS if name in ICT_INT_COLUMNS)
HIST = STANDARD_COLUMNS.index("macd_hist")


@dataclass(frozen=True)
class MarketData:
    """One symbol's history in the data/market layout (funding and mark may be empty frames)."""

    symbol: str
    interval: str
    candles: pl.DataFrame
    mark: pl.DataFrame
    funding: pl.DataFrame


def _ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    return pl.when(den > 0).then(num / den).otherwise(None).fill_null(float("nan"))


def _bar_features(interval_ms: int) -> list[pl.Expr]:
    close, atr, log_close = pl.col("close"), pl.col("atr"), pl.col("close").log()
    one_bar = log_close - log_close.shift(1)
    close_ms = pl.col("open_time") + interval_ms
    return [
        pl.col("rsi").alias("rsi"), pl.col("adx").alias("adx"), pl.col("bb_width").alias("bb_width"),
        _ratio(atr, close).alias("atr_pct"),
        *(_ratio(pl.col(n), atr).alias(f"{n}_atr") for n in ("macd", "macd_signal", "macd_hist")),
        _ratio(close - pl.col("ema_fast"), atr).alias("ema_fast_dist_atr"),
        _ratio(close - pl.col("ema_slow"), atr).alias("ema_slow_dist_atr"),
        _ratio(pl.col("ema_fast") - pl.col("ema_slow"), atr).alias("ema_spread_atr"),
        _ratio(close - pl.col("bb_lower"), pl.col("bb_upper") - pl.col("bb_lower")).alias("bb_position"),
        *(pl.col(n).cast(pl.Float64).alias(n) for n in ICT_STATES),
        *(_ratio(pl.col(n) - close, atr).alias(f"{n}_dist_atr") for n in ICT_LEVELS),
        *((log_close - log_close.shift(k)).alias(f"ret_{k}") for k in RETURN_HORIZONS),
        *(one_bar.rolling_std(k).alias(f"vol_{k}") for k in VOLATILITY_HORIZONS),
        _ratio(pl.col("high") - pl.col("low"), atr).alias("range_atr"),
        _ratio(close - pl.col("open"), atr).alias("body_atr"),
        _ratio(pl.col("volume"), pl.col("volume").rolling_mean(24)).log().alias("volume_rel_24"),
        ((close_ms // HOUR_MS) % 24).cast(pl.Float64).alias("hour"),
        ((close_ms // DAY_MS + 3) % 7).cast(pl.Float64).alias("weekday"),
    ]


BAR_FEATURES = tuple(e.meta.output_name() for e in _bar_features(HOUR_MS))
EXTRA_FEATURES = ("daily_trend", "daily_ret", "funding_rate", "basis")
CONTEXT_COLUMNS = ("ret_4", "ret_24", "vol_24", "daily_trend")
CONTEXT_FEATURES = tuple(f"btc_{n}" for n in CONTEXT_COLUMNS)
RAW = ("open_time", "open", "high", "low", "close", "atr")


def indicator_frame(data: MarketData, params: IndicatorParams = DEFAULT_PARAMS) -> pl.DataFrame:
    """The candles and every indicator and ICT column the engine computes on them."""
    bars = data.candles.select("open_time", "open", "high", "low", "close", "volume").sort("open_time")
    return pl.concat([bars, compute(bars, params, backend="numpy").drop("open_time")], how="horizontal")


def market_features(data: MarketData, params: IndicatorParams = DEFAULT_PARAMS,
                    indicators: pl.DataFrame | None = None) -> pl.DataFrame:
    """open_time, the raw prices and ATR, and every side-free feature, for every bar."""
    interval_ms = INTERVAL_MS[data.interval]
    frame = indicator_frame(data, params) if indicators is None else indicators
    bars = frame.select("open_time", "close")
    out = frame.select(*RAW, *_bar_features(interval_ms)).with_columns(
        pl.all().exclude("open_time").cast(pl.Float64).fill_null(float("nan")))
    return out.join(_daily_trend(bars), on="open_time", how="left").join(
        _funding_in_force(bars, data.funding, interval_ms), on="open_time", how="left").join(
        _basis(bars, data.mark), on="open_time", how="left").with_columns(
        pl.col(*EXTRA_FEATURES).fill_null(float("nan")))


def _daily_trend(bars: pl.DataFrame) -> pl.DataFrame:
    """The higher timeframe: days completed before the bar's day (so known at its close)."""
    day = (pl.col("open_time") // DAY_MS).alias("day")
    days = bars.group_by(day).agg(pl.col("close").sort_by("open_time").last().alias("day_close")).sort("day")
    log_day = pl.col("day_close").log()
    days = days.select(
        (pl.col("day") + 1).alias("day"),
        (log_day - pl.col("day_close").rolling_mean(DAILY_TREND_DAYS).log()).alias("daily_trend"),
        (log_day - log_day.shift(1)).alias("daily_ret"))
    return bars.select("open_time", day).join(days, on="day", how="left").drop("day")


def _funding_in_force(bars: pl.DataFrame, funding: pl.DataFrame, interval_ms: int) -> pl.DataFrame:
    """The last funding rate settled at or before the bar's close."""
    if funding.is_empty():
        return bars.select("open_time", pl.lit(float("nan")).alias("funding_rate"))
    times = funding["open_time"].to_numpy()
    rates = funding["funding_rate"].to_numpy().astype(np.float64)
    close_ms = bars["open_time"].to_numpy() + interval_ms - 1
    at = np.searchsorted(times, close_ms, side="right") - 1
    value = np.where(at >= 0, rates[np.clip(at, 0, None)], np.nan)
    return pl.DataFrame({"open_time": bars["open_time"], "funding_rate": value})


def _basis(bars: pl.DataFrame, mark: pl.DataFrame) -> pl.DataFrame:
    """(last - mark) / last at the bar's close; NaN where the mark bar is missing."""
    if mark.is_empty():
        return bars.select("open_time", pl.lit(float("nan")).alias("basis"))
    return bars.select("open_time", "close").join(
        mark.select("open_time", pl.col("close").alias("mark_close")), on="open_time", how="left").select(
        "open_time", ((pl.col("close") - pl.col("mark_close")) / pl.col("close")).alias("basis"))


def context_features(btc: pl.DataFrame) -> pl.DataFrame:
    """BTC's returns, volatility and trend at the same bar, the market every symbol trades in."""
    return btc.select("open_time", *(pl.col(n).alias(f"btc_{n}") for n in CONTEXT_COLUMNS))


def policy_signals(frame: pl.DataFrame, symbol: str, interval: str, policy: SignalPolicy,
                   params: IndicatorParams = DEFAULT_PARAMS) -> pl.DataFrame:
    """index, side (+1/-1) and confidence of every signal the policy gives on the frame's bars,
    by replaying its `evaluate` on the engine's typed `Indicators` of each closed bar: of each bar
    its `candidates` admits, when it has that method (see `engine.signals.policy.SignalPolicy`)."""
    candidates = getattr(policy, "candidates", None)
    bars = np.arange(frame.height) if candidates is None else np.flatnonzero(candidates(frame))
    picked = frame[bars]
    times = picked["open_time"].to_list()
    closes = picked["close"].to_list()
    standard = picked.select(STANDARD_COLUMNS).rows()
    ict = picked.select(pl.col(n).cast(pl.Int64) if n in ICT_INT_COLUMNS else pl.col(n)
                        for n in ICT_COLUMNS).rows()
    hist = frame[STANDARD_COLUMNS[HIST]].to_list()
    interval_ms = INTERVAL_MS[interval]
    index, side, confidence = [], [], []
    for k, i in enumerate(bars.tolist()):
        previous_hist = hist[i - 1] if i > 0 else float("nan")
        indicators = Indicators.build(symbol, interval, times[k], closes[k], standard[k], previous_hist, ict[k], params)
        signal = policy.evaluate(indicators, times[k] + interval_ms)
        if signal is not None:
            index.append(i)
            side.append(signal.side.sign)
            confidence.append(signal.confidence)
    return pl.DataFrame({"index": index, "side": side, "confidence": confidence},
                        schema={"index": pl.Int64, "side": pl.Int8, "confidence": pl.Float64})


def feature_names(*, context: bool) -> list[str]:
    """The model's input columns, in order."""
    return [*BAR_FEATURES, *EXTRA_FEATURES, *(CONTEXT_FEATURES if context else ()), "side", "confidence"]


@dataclass(frozen=True)
class Dataset:
    """Signals with features, outcomes and their label windows, oldest first."""

    frame: pl.DataFrame          # symbol, open_time, label_end, features..., net_return, label
    features: list[str]
    version: str = FEATURE_VERSION

    @property
    def rows(self) -> int:
        return self.frame.height

    def matrix(self) -> np.ndarray:
        return self.frame.select(self.features).to_numpy().astype(np.float64)

    def weights(self) -> np.ndarray | None:
        """Per-row sample weights (column `weight`, set by `engine.learning.own`), None when all equal."""
        if "weight" not in self.frame.columns:
            return None
        return self.frame["weight"].to_numpy().astype(np.float64)

    @property
    def own_rows(self) -> int:
        """Rows that are the engine's own closed trades (`engine.learning.own`)."""
        return int(self.frame["own"].sum()) if "own" in self.frame.columns else 0


def symbol_rows(data: MarketData, exits: ExitSpec, *, context: pl.DataFrame | None = None,
                policy: SignalPolicy | None = None, params: IndicatorParams = DEFAULT_PARAMS,
                indicators: pl.DataFrame | None = None, features: pl.DataFrame | None = None) -> pl.DataFrame:
    """One symbol's labelled signals (every feature column, side, confidence, outcome);
    `indicators` and `features`, when the caller has them already (`indicator_frame`, `market_features`)."""
    indicators = indicator_frame(data, params) if indicators is None else indicators
    frame = market_features(data, params, indicators) if features is None else features
    if context is not None:
        frame = frame.join(context, on="open_time", how="left").with_columns(
            pl.col(f"btc_{n}" for n in CONTEXT_COLUMNS).fill_null(float("nan")))
    found = policy_signals(indicators, data.symbol, data.interval, policy or BootstrapPolicy(), params)
    interval_ms = INTERVAL_MS[data.interval]
    funding = data.funding.sort("open_time") if not data.funding.is_empty() else data.funding
    index = found["index"].to_numpy()
    outcomes = barrier_outcomes(
        frame["open_time"].to_numpy(), *(frame[n].to_numpy() for n in ("open", "high", "low", "close")),
        index, found["side"].to_numpy(), frame["atr"].to_numpy()[index], exits,
        funding["open_time"].to_numpy() if not funding.is_empty() else np.empty(0, np.int64),
        funding["funding_rate"].to_numpy().astype(np.float64) if not funding.is_empty() else np.empty(0),
        interval_ms)
    times = frame["open_time"].to_numpy()
    exit_index = np.clip(outcomes.exit_index, 0, None)
    rows = frame[index].with_columns(
        pl.lit(data.symbol).alias("symbol"),
        pl.Series("side", found["side"].to_numpy().astype(np.float64)),
        pl.Series("confidence", found["confidence"].to_numpy()),
        pl.Series("label_end", times[exit_index] + interval_ms),
        pl.Series("net_return", outcomes.net_return),
        pl.Series("resolved", outcomes.resolved))
    return rows.filter(pl.col("resolved")).drop("resolved").with_columns(
        (pl.col("net_return") > 0).cast(pl.Int8).alias("label"))


def build_dataset(history: list[MarketData], exits: ExitSpec = ExitSpec(), *, policy: SignalPolicy | None = None,
                  params: IndicatorParams = DEFAULT_PARAMS, context_symbol: str = "BTCUSDT") -> Dataset:
    """Every symbol's labelled signals, pooled and sorted by time. The context symbol's features
    join every row when it is among `history`."""
    indicators = {d.symbol: indicator_frame(d, params) for d in history}  # once each: the ICT pass is the cost
    features = {d.symbol: market_features(d, params, indicators[d.symbol]) for d in history}
    context = context_features(features[context_symbol]) if context_symbol in features else None
    parts = [symbol_rows(d, exits, context=context, policy=policy, params=params, indicators=indicators[d.symbol],
                         features=features[d.symbol]) for d in history]
    frame = pl.concat(parts, how="vertical").sort("open_time", "symbol")
    names = feature_names(context=context is not None)
    return Dataset(frame.select("symbol", "open_time", "label_end", *names, "net_return", "label"), names)
