"""Market regime: a pure function of candles, shared by the engine and the scheduled regime flow.

The rule (the original system's, made precise). At an evaluation time `at` (default: the moment
the last closed candle closed), over the window (at - 24 h, at]:

* hourly closes: 25 points p_k = at - k h (k = 24 .. 0). The close at p is the close of the last
  candle that closed in the hour (p - 1 h, p] (pandas `resample('1h', closed='right').last()` on
  candle close times, with the grid anchored at `at`). 1h candles are used as they are; 1m..30m
  candles are resampled this way, so the engine can evaluate on a live 1m feed without waiting for
  the hour to end. A point with no candle in its hour makes the window insufficient (below).
* change_pct = (close(at) / close(at - 24 h) - 1) * 100: last close against the close 24 h earlier.
* volatility_pct = stdev(ln(c_k / c_k+1)) * sqrt(24) * 100 over the 24 hourly log returns: the
  *sample* standard deviation (ddof = 1, mean not assumed zero). Sample, because 24 returns are a
  small sample of an unknown process (ddof = 1 is the unbiased variance estimator) and because it is
  what `pandas.Series.std()` - what the original Python system would have called - computes.
* classify: change < -15 -> CRASH; change > +10 -> RALLY; else volatility > 5.0 -> HIGH_VOLATILITY;
  volatility < 1.0 -> LOW_VOLATILITY; else NORMAL. All comparisons are strict, on the inputs
  rounded to 1e-9 percentage points, so a move of exactly -15 % (float: -15.000000000000002) is
  not a crash, and re-classifying a stored reading's inputs gives the stored regime.

Too little history (no candles, a window that starts before the first candle, or a gap of a whole
hour inside the window) raises `InsufficientHistory`, a `DataError` saying which hour is missing:
a regime from a partial window would be a guess. `regime_checks` skips such grid times.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

import msgspec
import numpy as np
import polars as pl

from engine.core.clock import iso_utc
from engine.core.errors import DataError
from engine.core.intervals import HOUR_MS, INTERVAL_MS
from engine.core.types import Candle

WINDOW_HOURS = 24
ROUND_DIGITS = 9
# regimes are read over whole hours, so on candles of 1h or a divisor of it
REGIME_INTERVAL_MS = {name: ms for name, ms in INTERVAL_MS.items() if HOUR_MS % ms == 0}


class Regime(StrEnum):
    NORMAL = "NORMAL"
    HIGH_VOLATILITY = "HIGH_VOLATILITY"
    LOW_VOLATILITY = "LOW_VOLATILITY"
    CRASH = "CRASH"
    RALLY = "RALLY"


@dataclass(frozen=True)
class RegimeThresholds:
    """The original system's thresholds, in percent (change) and daily percent (volatility)."""

    crash_change_pct: float = -15.0
    rally_change_pct: float = 10.0
    high_volatility_pct: float = 5.0
    low_volatility_pct: float = 1.0


DEFAULT_THRESHOLDS = RegimeThresholds()


class InsufficientHistory(DataError):
    """Not enough candles to measure a 24 h window; the message names the missing hour."""


class RegimeReading(msgspec.Struct, frozen=True):
    """A regime together with the inputs it was decided on (recorded in the store as they are)."""

    symbol: str
    interval: str
    regime: Regime
    change_pct: float
    volatility_pct: float
    close_start: float     # hourly close at window_start
    close_end: float       # last close, at window_end
    window_start: int      # ms UTC, = window_end - 24 h
    window_end: int        # ms UTC, the evaluation time `at`
    bar_count: int         # source candles that closed in (window_start, window_end]
    event_time: int = 0    # exchange time of the evaluation (= window_end)
    received_time: int = 0 # wall-clock time it was computed, when recorded live

    @property
    def record_id(self) -> str:
        return f"regime:{self.symbol}:{self.window_end}"


def classify(change_pct: float, volatility_pct: float, thresholds: RegimeThresholds = DEFAULT_THRESHOLDS) -> Regime:
    """The rule itself, on 24 h change and volatility in percent (the original's `market_data`)."""
    change, vol = round(change_pct, ROUND_DIGITS), round(volatility_pct, ROUND_DIGITS)
    if not (math.isfinite(change) and math.isfinite(vol)) or vol < 0:
        raise DataError(f"regime inputs must be finite (volatility >= 0), got change {change_pct}%, "
                        f"volatility {volatility_pct}%")
    if change < thresholds.crash_change_pct:
        return Regime.CRASH
    if change > thresholds.rally_change_pct:
        return Regime.RALLY
    if vol > thresholds.high_volatility_pct:
        return Regime.HIGH_VOLATILITY
    if vol < thresholds.low_volatility_pct:
        return Regime.LOW_VOLATILITY
    return Regime.NORMAL


@dataclass(frozen=True)
class _Series:
    """Closed candles of one symbol as arrays: close time (open_time + interval) and close."""

    symbol: str
    interval: str
    end: np.ndarray
    close: np.ndarray


def detect_regime(candles: Sequence[Candle] | pl.DataFrame, *, at: int | None = None,
                  thresholds: RegimeThresholds = DEFAULT_THRESHOLDS,
                  symbol: str | None = None, interval: str | None = None) -> RegimeReading:
    """The regime at `at` (ms UTC; default: when the last candle closed) from candles closed by then.

    `candles` are `Candle`s or a polars frame in the data/market layout (open_time, close, and
    symbol/interval columns or the `symbol`/`interval` arguments). Candles after `at` are ignored.
    """
    series = _series(candles, symbol, interval)
    if len(series.end) == 0:
        raise InsufficientHistory(f"{series.symbol or 'regime'}: no closed candles to measure a regime on")
    when = int(series.end[-1]) if at is None else int(at)
    result = _evaluate(series, np.array([when], dtype=np.int64), thresholds)[0]
    if isinstance(result, str):
        raise InsufficientHistory(result)
    return result


def check_time(now_ms: int, check_ms: int) -> int:
    """The latest regime check grid time at or before `now_ms`: checks fall on every multiple of
    `check_ms` since the epoch (`RISK_REGIME_CHECK_INTERVAL`), so the engine, a restart, a replay at
    any speed and a scheduled flow evaluate at the same moments and name the same records."""
    return now_ms - now_ms % check_ms


def next_check_time(at_ms: int, check_ms: int) -> int:
    """The first grid time after a check at `at_ms`."""
    return (at_ms // check_ms + 1) * check_ms


def regime_checks(candles: Sequence[Candle] | pl.DataFrame, *, check_ms: int = HOUR_MS,
                  thresholds: RegimeThresholds = DEFAULT_THRESHOLDS, start: int | None = None,
                  end: int | None = None, symbol: str | None = None,
                  interval: str | None = None) -> Iterator[RegimeReading]:
    """The regime at every check grid time (multiples of `check_ms`, hourly by default) from the first
    with 24 h of history (or `start`) to the last candle's close (or `end`); grid times with insufficient
    history are skipped. Each reading equals `detect_regime(candles, at=t)`: no look-ahead."""
    if check_ms <= 0:
        raise DataError(f"the regime check interval must be > 0 ms, got {check_ms}")
    series = _series(candles, symbol, interval)
    if len(series.end) == 0:
        return
    first = next_check_time(int(series.end[0]) + WINDOW_HOURS * HOUR_MS - 1, check_ms)
    last = check_time(int(series.end[-1]), check_ms)
    if start is not None:
        first = max(first, next_check_time(start - 1, check_ms))
    if end is not None:
        last = min(last, check_time(end, check_ms))
    chunk = 20_000 * check_ms
    for lo in range(first, last + 1, chunk):
        ats = np.arange(lo, min(lo + chunk, last + check_ms), check_ms, dtype=np.int64)
        for reading in _evaluate(series, ats, thresholds):
            if not isinstance(reading, str):
                yield reading


def regimes_in_force(readings: Sequence[RegimeReading], moments: Sequence[tuple[str, int]]) -> list[Regime | None]:
    """For each (symbol, exchange time), the regime of that symbol's latest reading with
    `window_end <= time` (what the risk manager held then), or None when there was none. Used to
    give a trade rebuilt after a crash the regime its entry was decided under."""
    by_symbol: dict[str, list[RegimeReading]] = {}
    for reading in sorted(readings, key=lambda r: r.window_end):
        by_symbol.setdefault(reading.symbol, []).append(reading)
    ends = {symbol: [r.window_end for r in rows] for symbol, rows in by_symbol.items()}
    out: list[Regime | None] = []
    for symbol, at in moments:
        i = bisect.bisect_right(ends.get(symbol, []), at)
        out.append(by_symbol[symbol][i - 1].regime if i else None)
    return out


def _evaluate(series: _Series, ats: np.ndarray, th: RegimeThresholds) -> list[RegimeReading | str]:
    """Readings at many evaluation times at once (vectorised); a string explains an insufficient one."""
    offsets = np.arange(WINDOW_HOURS, -1, -1, dtype=np.int64) * HOUR_MS       # 24 h ago .. now
    points = ats[:, None] - offsets[None, :]
    idx = np.searchsorted(series.end, points, side="right") - 1
    safe = np.clip(idx, 0, None)
    present = (idx >= 0) & (series.end[safe] > points - HOUR_MS)
    closes = series.close[safe]
    complete = present.all(axis=1)
    with np.errstate(all="ignore"):
        returns = np.diff(np.log(closes), axis=1)
        vols = returns.std(axis=1, ddof=1) * math.sqrt(WINDOW_HOURS) * 100.0
        changes = (closes[:, -1] / closes[:, 0] - 1.0) * 100.0
    counts = (np.searchsorted(series.end, ats, side="right")
              - np.searchsorted(series.end, ats - WINDOW_HOURS * HOUR_MS, side="right"))
    out: list[RegimeReading | str] = []
    for i, at in enumerate(ats.tolist()):
        if not complete[i]:
            out.append(_missing(series, at, points[i], present[i]))
            continue
        change, vol = round(float(changes[i]), ROUND_DIGITS), round(float(vols[i]), ROUND_DIGITS)
        out.append(RegimeReading(
            symbol=series.symbol, interval=series.interval, regime=classify(change, vol, th),
            change_pct=change, volatility_pct=vol, close_start=float(closes[i, 0]),
            close_end=float(closes[i, -1]), window_start=at - WINDOW_HOURS * HOUR_MS, window_end=at,
            bar_count=int(counts[i]), event_time=at))
    return out


def _missing(series: _Series, at: int, points: np.ndarray, present: np.ndarray) -> str:
    hole = int(points[int(np.argmin(present))])
    have = (f"candles close from {iso_utc(int(series.end[0]))} to {iso_utc(int(series.end[-1]))}"
            if len(series.end) else "no candles")
    return (f"{series.symbol} {series.interval}: not enough history for the 24 h regime at {iso_utc(at)}: "
            f"no candle closed in the hour ending {iso_utc(hole)} ({have})")


def _series(candles: Sequence[Candle] | pl.DataFrame, symbol: str | None, interval: str | None) -> _Series:
    if isinstance(candles, pl.DataFrame):
        return _from_frame(candles, symbol, interval)
    closed = [c for c in candles if c.closed]
    symbols = {c.symbol for c in closed} | ({symbol} if symbol else set())
    intervals = {c.interval for c in closed} | ({interval} if interval else set())
    name, step = _one(symbols, "symbol"), _step(_one(intervals, "interval") or "1h")
    opens = np.fromiter((c.open_time for c in closed), dtype=np.int64, count=len(closed))
    closes = np.fromiter((c.close for c in closed), dtype=np.float64, count=len(closed))
    return _checked(name, step[0], opens, closes, step[1])


def _from_frame(frame: pl.DataFrame, symbol: str | None, interval: str | None) -> _Series:
    missing = {"open_time", "close"} - set(frame.columns)
    if missing:
        raise DataError(f"candle frame lacks column(s) {sorted(missing)}; expected the data/market layout")
    nulls = [c for c in ("open_time", "close") if frame[c].null_count()]
    if nulls:
        raise DataError(f"candle frame has missing values in {nulls}")
    symbols = {s for s in frame["symbol"].unique().to_list() if s} if "symbol" in frame.columns else set()
    intervals = {i for i in frame["interval"].unique().to_list() if i} if "interval" in frame.columns else set()
    name = _one(symbols | ({symbol} if symbol else set()), "symbol")
    label = _one(intervals | ({interval} if interval else set()), "interval")
    if not label:
        raise DataError("candle frame has no interval column: pass interval=")
    step = _step(label)
    opens = frame["open_time"].cast(pl.Int64).to_numpy()
    closes = frame["close"].cast(pl.Float64).to_numpy()
    return _checked(name, step[0], opens, closes, step[1])


def _one(values: set[str], what: str) -> str:
    if len(values) > 1:
        raise DataError(f"regime candles must share one {what}, got {sorted(values)}")
    return next(iter(values), "")


def _step(interval: str) -> tuple[str, int]:
    if interval not in REGIME_INTERVAL_MS:
        raise DataError(f"regime detection needs candles of 1h or a divisor of it "
                        f"({', '.join(REGIME_INTERVAL_MS)}), got {interval!r}")
    return interval, REGIME_INTERVAL_MS[interval]


def _checked(symbol: str, interval: str, opens: np.ndarray, closes: np.ndarray, step: int) -> _Series:
    bad = ~(np.isfinite(closes) & (closes > 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{symbol} {interval} candle at {iso_utc(int(opens[i]))} has close {float(closes[i])!r}: "
                        "closes must be finite and positive")
    if len(opens) > 1 and not (np.diff(opens) > 0).all():
        i = int(np.argmin(np.diff(opens) > 0)) + 1
        raise DataError(f"{symbol} {interval} candles must be in strictly increasing open_time order; "
                        f"candle {i} at {iso_utc(int(opens[i]))} is not after the one before it")
    return _Series(symbol, interval, opens + step, closes)

