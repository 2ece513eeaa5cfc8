"""The model's features, computed live from the candles the engine sees (pure).

`engine.learning.dataset` builds the same columns in batch for training; a test replays bundled
candles through `IndicatorStream` and `FeatureStream` and finds the batch values, column by column,
so the model scores in the engine what it was trained on. Everything here is causal by
construction: a bar's features use that bar and the ones before it.

Two inputs are approximations of what training reads from files, documented here because they can
differ a little: the funding rate in force is the last rate the mark-price stream announced before a
funding time that has passed (NaN until the first settlement is seen), and the basis uses the last
mark price received at or before the candle's close instead of the mark kline's close.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping

from engine.core.intervals import DAY_MS, HOUR_MS, INTERVAL_MS
from engine.core.types import Candle
from engine.indicators import ICT_COLUMNS, Indicators

NAN = float("nan")
RETURN_HORIZONS = (1, 4, 12, 24, 72, 168)
VOLATILITY_HORIZONS = (24, 168)
VOLUME_WINDOW = 24
DAILY_TREND_DAYS = 20
ICT_STATES = tuple(n for n in ICT_COLUMNS if n.endswith(("_count", "_swept")) or n in ("ict_trend", "ict_bos", "ict_choch"))
ICT_LEVELS = tuple(n for n in ICT_COLUMNS if n not in ICT_STATES)
BAR_FEATURES = (
    "rsi", "adx", "bb_width", "atr_pct", "macd_atr", "macd_signal_atr", "macd_hist_atr", "ema_fast_dist_atr",
    "ema_slow_dist_atr", "ema_spread_atr", "bb_position", *ICT_STATES, *(f"{n}_dist_atr" for n in ICT_LEVELS),
    *(f"ret_{k}" for k in RETURN_HORIZONS), *(f"vol_{k}" for k in VOLATILITY_HORIZONS), "range_atr", "body_atr",
    "volume_rel_24", "hour", "weekday")
EXTRA_FEATURES = ("daily_trend", "daily_ret", "funding_rate", "basis")
CONTEXT_COLUMNS = ("ret_4", "ret_24", "vol_24", "daily_trend")
CONTEXT_FEATURES = tuple(f"btc_{n}" for n in CONTEXT_COLUMNS)
CONTEXT_SYMBOL = "BTCUSDT"


MAX_WARMUP_BARS = 1499   # one REST klines page (Binance answers at most 1500)


def warmup_bars(interval: str) -> int:
    """Closed bars the features need before their columns have values: 169 for the returns and
    volatilities, and the daily trend's 22 days where they fit in one klines page (1h: 528 bars;
    on shorter intervals the daily columns stay NaN until the engine has run that long)."""
    returns = max(RETURN_HORIZONS) + 1
    daily = (DAILY_TREND_DAYS + 2) * DAY_MS // INTERVAL_MS[interval]
    return max(returns, daily) if daily <= MAX_WARMUP_BARS else returns


def feature_names(*, context: bool) -> list[str]:
    """The model's input columns in order (the dataset's `feature_names`, checked by a test)."""
    return [*BAR_FEATURES, *EXTRA_FEATURES, *(CONTEXT_FEATURES if context else ()), "side", "confidence"]


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else NAN


class RollingStd:
    """The sample standard deviation (ddof 1) of the last `window` values, NaN until there are that
    many or while a NaN is among them (polars' rolling_std). Running sums make it O(1) per bar; they
    are recomputed exactly every `REFRESH` bars, so rounding cannot accumulate (a test holds the
    values to 1e-9 of the batch column)."""

    REFRESH = 512
    __slots__ = ("window", "_values", "_s1", "_s2", "_nans", "_since")

    def __init__(self, window: int) -> None:
        self.window = window
        self._values: deque[float] = deque(maxlen=window)
        self._s1 = self._s2 = 0.0
        self._nans = 0
        self._since = 0

    def push(self, value: float) -> float:
        values = self._values
        if len(values) == self.window:
            old = values[0]
            if math.isnan(old):
                self._nans -= 1
            else:
                self._s1 -= old
                self._s2 -= old * old
        values.append(value)
        if math.isnan(value):
            self._nans += 1
        else:
            self._s1 += value
            self._s2 += value * value
        self._since += 1
        if self._since >= self.REFRESH:
            finite = [v for v in values if not math.isnan(v)]
            self._s1, self._s2, self._since = math.fsum(finite), math.fsum(v * v for v in finite), 0
        n = len(values)
        if n < self.window or self._nans:
            return NAN
        mean = self._s1 / n
        return math.sqrt(max(0.0, (self._s2 - n * mean * mean) / (n - 1)))


class FundingState:
    """The funding rate in force: the last rate announced before a funding time that has passed."""

    __slots__ = ("_pending", "_settled")

    def __init__(self) -> None:
        self._pending: tuple[int, float] | None = None   # (funding time, announced rate)
        self._settled: list[tuple[int, float]] = []      # (funding time, rate), oldest first, a few kept

    def on_mark(self, rate: float, next_funding_time: int, event_time: int) -> None:
        pending = self._pending
        if pending is not None and event_time >= pending[0] and next_funding_time > pending[0]:
            self._settled.append(pending)
            del self._settled[:-4]
        if next_funding_time:
            self._pending = (next_funding_time, rate)

    def at(self, time_ms: int) -> float:
        """The last settled rate at or before `time_ms`, NaN before the first."""
        for settled_at, rate in reversed(self._settled):
            if settled_at <= time_ms:
                return rate
        return NAN


class FeatureStream:
    """One symbol's side-free features, one closed candle at a time (the engine's `IndicatorStream`
    gives the indicators; this keeps the short history the context columns need)."""

    def __init__(self, symbol: str, interval: str) -> None:
        self.symbol = symbol
        self.interval = interval
        self._interval_ms = INTERVAL_MS[interval]
        self._log_close: deque[float] = deque(maxlen=max(RETURN_HORIZONS) + 1)
        self._vol = {k: RollingStd(k) for k in VOLATILITY_HORIZONS}
        self._volume: deque[float] = deque(maxlen=VOLUME_WINDOW)
        self._day: int | None = None
        self._day_close = NAN
        self._days: deque[tuple[int, float]] = deque(maxlen=DAILY_TREND_DAYS + 1)   # completed (day, close)
        self.funding = FundingState()
        self.mark = NAN
        self.mark_time = 0
        self.last: dict[str, float] = {}
        self.last_open_time: int | None = None

    def on_mark(self, mark_price: float, rate: float, next_funding_time: int, event_time: int) -> None:
        self.funding.on_mark(rate, next_funding_time, event_time)
        if event_time >= self.mark_time:
            self.mark, self.mark_time = mark_price, event_time

    def update(self, candle: Candle, ind: Indicators) -> dict[str, float]:
        """The features of this closed candle (every name of `BAR_FEATURES` and `EXTRA_FEATURES`)."""
        close, atr = candle.close, ind.atr
        log_close = math.log(close) if close > 0 else NAN
        one_bar = log_close - self._log_close[-1] if self._log_close else None
        self._log_close.append(log_close)
        self._volume.append(candle.volume)
        day = candle.open_time // DAY_MS
        if self._day is not None and day != self._day:
            self._days.append((self._day, self._day_close))
        self._day, self._day_close = day, close
        f: dict[str, float] = {
            "rsi": ind.rsi, "adx": ind.adx, "bb_width": ind.bb_width, "atr_pct": _ratio(atr, close),
            "macd_atr": _ratio(ind.macd, atr), "macd_signal_atr": _ratio(ind.macd_signal, atr),
            "macd_hist_atr": _ratio(ind.macd_hist, atr), "ema_fast_dist_atr": _ratio(close - ind.ema_fast, atr),
            "ema_slow_dist_atr": _ratio(close - ind.ema_slow, atr),
            "ema_spread_atr": _ratio(ind.ema_fast - ind.ema_slow, atr),
            "bb_position": _ratio(close - ind.bb_lower, ind.bb_upper - ind.bb_lower),
        }
        ict = ind.ict._asdict() if ind.ict is not None else {}
        for name in ICT_STATES:
            f[name] = float(ict.get(name[4:], NAN))
        for name in ICT_LEVELS:
            f[f"{name}_dist_atr"] = _ratio(float(ict.get(name[4:], NAN)) - close, atr)
        closes = self._log_close
        for k in RETURN_HORIZONS:
            f[f"ret_{k}"] = log_close - closes[-1 - k] if len(closes) > k else NAN
        for k, rolling in self._vol.items():
            f[f"vol_{k}"] = rolling.push(one_bar) if one_bar is not None else NAN
        f["range_atr"] = _ratio(candle.high - candle.low, atr)
        f["body_atr"] = _ratio(close - candle.open, atr)
        mean_volume = sum(self._volume) / VOLUME_WINDOW if len(self._volume) == VOLUME_WINDOW else NAN
        rel = _ratio(candle.volume, mean_volume)
        f["volume_rel_24"] = (math.log(rel) if rel > 0 else -math.inf if rel == 0 else NAN)
        close_ms = candle.open_time + self._interval_ms
        f["hour"] = float((close_ms // HOUR_MS) % 24)
        f["weekday"] = float((close_ms // DAY_MS + 3) % 7)
        f["daily_trend"], f["daily_ret"] = self._daily(day)
        f["funding_rate"] = self.funding.at(close_ms - 1)
        basis = NAN
        if self.mark_time and self.mark_time <= candle.close_time + 1 and close > 0 and math.isfinite(self.mark):
            basis = (close - self.mark) / close
        f["basis"] = basis
        self.last, self.last_open_time = f, candle.open_time
        return f

    def _daily(self, day: int) -> tuple[float, float]:
        """The trend and return of the day completed before `day` (NaN when that day is missing)."""
        days = self._days
        if not days or days[-1][0] != day - 1:
            return NAN, NAN
        logs = [math.log(c) if c > 0 else NAN for _, c in days]
        trend = NAN
        if len(days) >= DAILY_TREND_DAYS:
            mean = sum(c for _, c in list(days)[-DAILY_TREND_DAYS:]) / DAILY_TREND_DAYS
            trend = logs[-1] - math.log(mean) if mean > 0 else NAN
        ret = logs[-1] - logs[-2] if len(days) >= 2 else NAN
        return trend, ret


class FeatureBook:
    """Every traded symbol's `FeatureStream`, and the context (BTC) columns joined by bar."""

    def __init__(self, symbols: tuple[str, ...] | list[str], interval: str, context_symbol: str = CONTEXT_SYMBOL):
        self.streams = {s: FeatureStream(s, interval) for s in symbols}
        self.context_symbol = context_symbol if context_symbol in self.streams else None

    @property
    def names(self) -> list[str]:
        """The columns this engine produces (with BTC context only when BTC is traded)."""
        return feature_names(context=self.context_symbol is not None)

    def on_mark(self, symbol: str, mark_price: float, rate: float, next_funding_time: int, event_time: int) -> None:
        stream = self.streams.get(symbol)
        if stream is not None:
            stream.on_mark(mark_price, rate, next_funding_time, event_time)

    def update(self, candle: Candle, ind: Indicators) -> dict[str, float] | None:
        stream = self.streams.get(candle.symbol)
        return None if stream is None else stream.update(candle, ind)

    def row(self, symbol: str, side: int, confidence: float) -> dict[str, float]:
        """The full feature row of `symbol`'s last bar for a signal of `side` (+1/-1): context columns
        from the context symbol's same bar (NaN when that bar has not arrived yet)."""
        stream = self.streams[symbol]
        out = dict(stream.last)
        if self.context_symbol is not None:
            ctx = self.streams[self.context_symbol]
            same = ctx.last_open_time == stream.last_open_time
            for name in CONTEXT_COLUMNS:
                out[f"btc_{name}"] = ctx.last.get(name, NAN) if same else NAN
        out["side"] = float(side)
        out["confidence"] = float(confidence)
        return out


def vector(row: Mapping[str, float], names: list[str]) -> list[float]:
    """The row's values in the model's column order (a missing name is NaN)."""
    return [float(row.get(n, NAN)) for n in names]
