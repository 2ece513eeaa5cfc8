"""Batch indicators over a whole candle history: one Polars frame in, one Polars frame out.

`compute(data)` validates the candles, computes the standard set with TA-Lib (`backend="talib"`) or
without it (`backend="numpy"`; "auto" picks TA-Lib when importable) and the ICT features, and returns
`open_time` plus every column of `COLUMNS` (NaN during each indicator's warm-up; ICT counts and flags
as small integers). The two backends agree to ~1e-12 relative; the stream equals the numpy backend
bit for bit.

Large inputs (>= `PARALLEL_MIN_BARS`) use two threads: TA-Lib, NumPy and Polars release the GIL, so
validation and the independent indicator groups run side by side. ICT features are a sequential
state machine (the same one the stream uses) and run at a few microseconds per bar.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
import polars as pl

from engine.core.errors import ConfigError
from engine.indicators.candles import Ohlcv, as_ohlcv, validate
from engine.indicators.ict import ICT_COLUMNS, ICT_INT_COLUMNS, ICTState
from engine.indicators.numpy_backend import standard_numpy
from engine.indicators.params import DEFAULT_PARAMS, ICTParams, IndicatorParams
from engine.indicators.snapshot import STANDARD_COLUMNS
from engine.indicators.talib_backend import check_talib_settings, talib_available, talib_tasks

Backend = Literal["auto", "talib", "numpy"]
Progress = Callable[[str, int, int], None]  # (stage, bars done, bars in total)

PARALLEL_MIN_BARS = 200_000
ICT_CHUNK = 65_536
_ICT_DTYPES = {name: (np.int8 if name in ("ict_trend", "ict_bos", "ict_choch") or name.endswith("_swept")
                      else np.int16) for name in ICT_INT_COLUMNS}

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="indicators")
        return _pool


def resolve_backend(backend: str) -> str:
    """"auto" -> "talib" when importable, else "numpy"; an unknown or unavailable backend is an error."""
    if backend == "auto":
        return "talib" if talib_available() else "numpy"
    if backend not in ("talib", "numpy"):
        raise ConfigError(f"backend={backend!r} is not allowed: expected 'auto', 'talib' or 'numpy'")
    if backend == "talib" and not talib_available():
        raise ConfigError("backend='talib' needs the ta-lib package; install it or use backend='numpy'")
    return backend


def standard_frame(bars: Ohlcv, params: IndicatorParams = DEFAULT_PARAMS, backend: str = "auto",
                   *, parallel: bool | None = None) -> pl.DataFrame:
    """The standard columns only, after validating the bars (both in parallel for large inputs)."""
    backend = resolve_backend(backend)
    if parallel is None:
        parallel = len(bars) >= PARALLEL_MIN_BARS
    if backend == "talib":
        check_talib_settings()
    if backend == "numpy":
        if not parallel:
            validate(bars, params.min_bars)
            return standard_numpy(bars, params)
        checked = _executor().submit(validate, bars, params.min_bars)
        try:
            return standard_numpy(bars, params, executor=_executor())
        finally:  # a CandleError from the validation wins over whatever bad bars did to the maths
            checked.result()
    first, second = talib_tasks(bars, params)

    def second_with_check() -> dict[str, np.ndarray]:
        validate(bars, params.min_bars)
        return second()

    if parallel:
        pending = _executor().submit(second_with_check)
        values = first()
        values.update(pending.result())
    else:
        values = second_with_check()
        values.update(first())
    return pl.DataFrame({name: values[name] for name in STANDARD_COLUMNS})


def ict_frame(bars: Ohlcv, params: ICTParams, progress: Progress | None = None) -> pl.DataFrame:
    """The ICT columns, by running the stream's state machine over every bar."""
    n = len(bars)
    update = ICTState(params).update
    out = {name: np.empty(n, dtype=_ICT_DTYPES.get(name, np.float64)) for name in ICT_COLUMNS}
    columns = [out[name] for name in ICT_COLUMNS]
    o, h, l, c = (a.tolist() for a in (bars.open, bars.high, bars.low, bars.close))
    for start in range(0, n, ICT_CHUNK):
        stop = min(n, start + ICT_CHUNK)
        rows = np.array([update(o[i], h[i], l[i], c[i]) for i in range(start, stop)], dtype=np.float64)
        for j, column in enumerate(columns):
            column[start:stop] = rows[:, j]
        if progress is not None:
            progress("ict", stop, n)
    return pl.DataFrame(out)


def compute(data: Any, params: IndicatorParams = DEFAULT_PARAMS, *, backend: Backend = "auto",
            ict: bool = True, parallel: bool | None = None, progress: Progress | None = None) -> pl.DataFrame:
    """`open_time` and every indicator column for every bar of `data` (see module docstring).

    `data`: a Polars or pandas frame, a numpy structured array or a mapping of columns named like
    the klines files (open_time int64 ms, open, high, low, close, volume). Raises `CandleError`
    naming the first bad bar and field, `ConfigError` for an unusable backend or TA-Lib setting.
    """
    bars = as_ohlcv(data)
    standard = standard_frame(bars, params, backend, parallel=parallel)
    if progress is not None:
        progress("standard", len(bars), len(bars))
    parts = [pl.DataFrame({"open_time": bars.open_time}), standard]
    if ict:
        parts.append(ict_frame(bars, params.ict, progress))
    return pl.concat(parts, how="horizontal")
