"""Candle input for the indicator engine: one array container, one conversion, one set of rules.

Every path (batch frames, streamed candles) rejects the same bad bars with the same message, naming
the bar (index and open_time) and the field:

- a price or the volume that is NaN, infinite, or missing (null);
- a price that is zero or negative;
- high below low, or open/close outside [low, high];
- negative volume;
- an open_time that is not strictly after the previous bar's;
- (batch only) fewer bars than the parameters need for one full set of values.

The batch check runs a handful of whole-array reductions first and only looks for the offending bar
when one of them fails, so a clean million-bar frame costs about a millisecond.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import polars as pl

from engine.core.clock import iso_utc
from engine.core.errors import DataError

PRICE_FIELDS = ("open", "high", "low", "close")
FIELDS = ("open_time", *PRICE_FIELDS, "volume")
_INF = math.inf


class CandleError(DataError):
    """A bar that cannot be used. `index` is the bar's position in the input (None for a streamed
    candle), `open_time` its open time in ms, `field` the offending column."""

    def __init__(self, reason: str, *, field: str, index: int | None = None,
                 open_time: int | None = None) -> None:
        where = []
        if index is not None:
            where.append(f"bar {index}")
        if open_time is not None:
            when = iso_utc(open_time) \
                if -62135596800000 < open_time < 253402300800000 else "?"
            where.append(f"open_time {open_time} ({when})")
        prefix = (", ".join(where) + ": ") if where else ""
        super().__init__(f"{prefix}{reason}")
        self.reason = reason
        self.field = field
        self.index = index
        self.open_time = open_time


class Ohlcv(NamedTuple):
    """Contiguous float64 price/volume arrays and int64 open times (ms), one entry per bar."""

    open_time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:  # type: ignore[override]
        return int(self.close.shape[0])


def check_bar(open_time: int, o: float, h: float, l: float, c: float, v: float,
              prev_open_time: int | None, index: int | None = None) -> None:
    """Raise `CandleError` for the first rule this bar breaks (fields in a fixed order)."""
    if prev_open_time is not None and not open_time > prev_open_time:
        raise CandleError(f"open_time {open_time} is not after the previous bar's {prev_open_time}",
                          field="open_time", index=index, open_time=open_time)
    for name, x in (("open", o), ("high", h), ("low", l), ("close", c), ("volume", v)):
        if not math.isfinite(x):
            raise CandleError(f"{name} is {x}", field=name, index=index, open_time=open_time)
    for name, x in (("open", o), ("high", h), ("low", l), ("close", c)):
        if x <= 0.0:
            raise CandleError(f"{name} {x} is not a positive price", field=name, index=index,
                              open_time=open_time)
    if h < l:
        raise CandleError(f"high {h} is below low {l}", field="high", index=index, open_time=open_time)
    if not l <= o <= h:
        raise CandleError(f"open {o} is outside [low {l}, high {h}]", field="open", index=index,
                          open_time=open_time)
    if not l <= c <= h:
        raise CandleError(f"close {c} is outside [low {l}, high {h}]", field="close", index=index,
                          open_time=open_time)
    if v < 0.0:
        raise CandleError(f"volume {v} is negative", field="volume", index=index, open_time=open_time)


def bar_is_valid(open_time: int, o: float, h: float, l: float, c: float, v: float,
                 prev_open_time: int) -> bool:
    """The same rules as `check_bar` as one expression (NaN fails every comparison): the fast path."""
    return (open_time > prev_open_time and 0.0 < l <= o <= h < _INF and l <= c <= h
            and 0.0 <= v < _INF)


def _column(data: Any, name: str) -> np.ndarray:
    if isinstance(data, pl.DataFrame):
        if name not in data.columns:
            raise CandleError(f"missing column {name!r} (have {data.columns})", field=name)
        series = data.get_column(name)
        if series.null_count():
            first = int(series.is_null().arg_max() or 0)
            raise CandleError(f"{name} is missing (null)", field=name, index=first,
                              open_time=_open_time_at(data, first))
        return series.to_numpy()
    try:
        column = data[name]
    except (KeyError, IndexError, ValueError) as exc:
        raise CandleError(f"missing column {name!r}", field=name) from exc
    to_numpy = getattr(column, "to_numpy", None)
    return np.asarray(to_numpy() if callable(to_numpy) else column)


def _open_time_at(data: pl.DataFrame, index: int) -> int | None:
    if "open_time" not in data.columns:
        return None
    value = data.get_column("open_time")[index]
    return int(value) if isinstance(value, (int, np.integer)) else None


def as_ohlcv(data: Any) -> Ohlcv:
    """Arrays from a Polars frame, a pandas frame, a numpy structured array or a mapping of columns
    named like the klines files in data/market (open_time int64 ms, open/high/low/close/volume)."""
    if isinstance(data, Ohlcv):
        return data
    if not isinstance(data, (pl.DataFrame, Mapping, np.ndarray)) and not hasattr(data, "columns"):
        raise DataError(f"cannot read candles from {type(data).__name__}: expected a Polars or pandas "
                        "DataFrame, a numpy structured array or a mapping of columns")
    times = _column(data, "open_time")
    if times.ndim != 1 or not np.issubdtype(times.dtype, np.integer):
        raise CandleError(f"open_time must be integer milliseconds, got dtype {times.dtype}",
                          field="open_time")
    arrays = [np.ascontiguousarray(times, dtype=np.int64)]
    for name in (*PRICE_FIELDS, "volume"):
        column = _column(data, name)
        if column.ndim != 1 or column.shape[0] != times.shape[0] or not (
                np.issubdtype(column.dtype, np.floating) or np.issubdtype(column.dtype, np.integer)):
            raise CandleError(f"{name} must be a numeric column as long as open_time "
                              f"(dtype {column.dtype}, shape {column.shape})", field=name)
        arrays.append(np.ascontiguousarray(column, dtype=np.float64))
    return Ohlcv(*arrays)


def validate(bars: Ohlcv, min_bars: int) -> None:
    """Raise `CandleError` naming the first bad bar, or too few bars; cheap when all is well.

    Works through cache-sized blocks: open and close against [low, high] via min/max of the two,
    then low > 0, high < inf, volume in [0, inf) and increasing times. NaN fails every comparison
    and propagates through min/max, so it is caught without a separate pass."""
    n = len(bars)
    if n < min_bars:
        raise CandleError(f"{n} bars is too few: these parameters need at least {min_bars} "
                          "for one full set of indicator values", field="bars")
    t, o, h, l, c, v = bars
    scratch = np.empty(min(n, _BLOCK))
    mask = np.empty(min(n, _BLOCK), dtype=bool)
    for a in range(0, n, _BLOCK):
        z = min(n, a + _BLOCK)
        k = z - a
        s, m = scratch[:k], mask[:k]
        lo, hi, vol = l[a:z], h[a:z], v[a:z]
        np.minimum(o[a:z], c[a:z], out=s)
        ok = bool(np.greater_equal(s, lo, out=m).all())
        np.maximum(o[a:z], c[a:z], out=s)
        ok = ok and bool(np.less_equal(s, hi, out=m).all())
        ok = ok and lo.min() > 0.0 and hi.max() < _INF and vol.min() >= 0.0 and vol.max() < _INF
        times = t[max(a - 1, 0):z]
        ok = ok and bool(np.greater(times[1:], times[:-1], out=mask[:times.shape[0] - 1]).all())
        if not ok:
            _raise_first_bad(Ohlcv(*(column[:z] for column in bars)))


_BLOCK = 1 << 16


def _raise_first_bad(bars: Ohlcv) -> None:
    t, o, h, l, c, v = bars
    with np.errstate(invalid="ignore"):
        good = (l > 0.0) & (l <= o) & (o <= h) & (h < _INF) & (l <= c) & (c <= h) & (v >= 0.0) & (v < _INF)
    good[1:] &= t[1:] > t[:-1]
    index = int(np.argmin(good))
    prev = int(t[index - 1]) if index else None
    check_bar(int(t[index]), float(o[index]), float(h[index]), float(l[index]), float(c[index]),
              float(v[index]), prev, index=index)
    raise AssertionError(f"bar {index} failed the array check but passes check_bar")  # unreachable
