"""Bad input gives a clear `CandleError` (a `DataError`) naming the bar, its open_time and the field."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.errors import DataError
from engine.indicators import STANDARD_COLUMNS, CandleError, IndicatorParams, as_ohlcv, check_bar, compute, validate
from engine.indicators.candles import bar_is_valid
from tests.indicators.conftest import klines, same

N = 200


def frame() -> pl.DataFrame:
    return klines("BTCUSDT-perp-klines-1h.parquet").slice(10_000, N)


def broken(column: str, index: int, value: float | int) -> pl.DataFrame:
    data = frame()
    values = data[column].to_list()
    values[index] = value
    return data.with_columns(pl.Series(column, values, dtype=data[column].dtype))


@pytest.mark.parametrize("column, index, value, field, words", [
    ("close", 57, math.nan, "close", "close is nan"),
    ("open", 3, math.inf, "open", "open is inf"),
    ("high", 120, -math.inf, "high", "high is -inf"),
    ("low", 99, 0.0, "low", "not a positive price"),
    ("volume", 150, -2.0, "volume", "volume -2.0 is negative"),
    ("volume", 151, math.nan, "volume", "volume is nan"),
    ("open_time", 42, 0, "open_time", "is not after the previous bar"),
])
@pytest.mark.parametrize("backend", ["talib", "numpy"])
@pytest.mark.parametrize("parallel", [False, True])
def test_bad_values_name_bar_time_and_field(column: str, index: int, value: float, field: str, words: str,
                                            backend: str, parallel: bool) -> None:
    data = broken(column, index, value)
    with pytest.raises(CandleError) as caught:
        compute(data, backend=backend, parallel=parallel)  # type: ignore[arg-type]
    error = caught.value
    assert isinstance(error, DataError)
    assert (error.index, error.field) == (index, field)
    assert error.open_time == data["open_time"][index]
    assert f"bar {index}" in str(error) and str(data["open_time"][index]) in str(error) and words in str(error)


def test_high_below_low_is_named() -> None:
    data = frame()
    row = data.row(77, named=True)
    data = data.with_columns(
        pl.when(pl.int_range(pl.len()) == 77).then(row["low"] - 1).otherwise(pl.col("high")).alias("high"),
        pl.when(pl.int_range(pl.len()) == 77).then(row["low"] - 1).otherwise(pl.col("open")).alias("open"),
        pl.when(pl.int_range(pl.len()) == 77).then(row["low"] - 1).otherwise(pl.col("close")).alias("close"))
    with pytest.raises(CandleError, match=r"bar 77, .*high .* is below low") as caught:
        compute(data)
    assert caught.value.field == "high"


def test_close_outside_the_bar_range_is_named() -> None:
    data = broken("close", 10, frame()["high"][10] * 1.01)
    with pytest.raises(CandleError, match=r"bar 10, .*close .* is outside \[low"):
        compute(data)


def test_non_increasing_timestamps_across_a_block_boundary() -> None:
    """The blocked check must see a timestamp going back right at a block edge."""
    n = 70_000
    times = np.arange(n, dtype=np.int64) * 60_000
    times[65_536] = times[65_535]
    data = {"open_time": times, "open": np.full(n, 10.0), "high": np.full(n, 11.0), "low": np.full(n, 9.0),
            "close": np.full(n, 10.0), "volume": np.ones(n)}
    with pytest.raises(CandleError) as caught:
        validate(as_ohlcv(data), 34)
    assert (caught.value.index, caught.value.field) == (65_536, "open_time")


def test_the_first_bad_bar_is_reported() -> None:
    data = broken("close", 150, math.nan)
    data = data.with_columns(pl.Series("volume", [*data["volume"][:20].to_list(), -1.0, *data["volume"][21:].to_list()]))
    with pytest.raises(CandleError) as caught:
        compute(data)
    assert caught.value.index == 20


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("rows", [0, 1, 33])
def test_too_few_bars(rows: int, parallel: bool) -> None:
    p = IndicatorParams()
    for backend in ("talib", "numpy"):
        with pytest.raises(CandleError, match=f"{rows} bars is too few: .* at least {p.min_bars}"):
            compute(frame().head(rows), backend=backend, parallel=parallel)  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", ["talib", "numpy"])
def test_exactly_enough_bars(backend: str) -> None:
    """The last of min_bars bars carries every standard value, equal to the longer history's."""
    p = IndicatorParams()
    short = compute(frame().head(p.min_bars), backend=backend)  # type: ignore[arg-type]
    assert short.height == p.min_bars
    assert not any(math.isnan(v) for v in short.select(STANDARD_COLUMNS).row(-1))  # every value is there
    longer = compute(frame(), backend=backend).row(p.min_bars - 1)  # type: ignore[arg-type]
    assert same(np.array(short.row(-1), dtype=float), np.array(longer, dtype=float)).all()


def test_missing_column_null_and_wrong_types() -> None:
    with pytest.raises(CandleError, match="missing column 'volume'"):
        compute(frame().drop("volume"))
    with pytest.raises(CandleError, match=r"bar 5, .*high is missing \(null\)"):
        compute(frame().with_columns(pl.when(pl.int_range(pl.len()) == 5).then(None).otherwise(pl.col("high"))
                                     .alias("high")))
    with pytest.raises(CandleError, match="open_time must be integer milliseconds"):
        compute(frame().with_columns(pl.col("open_time").cast(pl.Float64)))
    with pytest.raises(DataError, match="cannot read candles from str"):
        compute("BTCUSDT")


def test_pandas_numpy_and_mapping_inputs_give_the_same_frame() -> None:
    data = frame()
    expected = compute(data)
    arrays = {name: data[name].to_numpy() for name in ("open_time", "open", "high", "low", "close", "volume")}
    structured = np.rec.fromarrays(list(arrays.values()), names=list(arrays))
    for other in (pd.DataFrame(arrays), arrays, structured):
        assert compute(other).equals(expected)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 1.0, 2.0])),
                min_size=5, max_size=5),
       st.integers(-5, 5))
def test_fast_check_and_diagnosis_agree(values: list[float], step: int) -> None:
    """The stream's one-expression check and `check_bar` accept exactly the same bars."""
    o, h, l, c, v = values
    try:
        check_bar(1000 + step, o, h, l, c, v, 1000)
        diagnosed_ok = True
    except CandleError:
        diagnosed_ok = False
    assert bar_is_valid(1000 + step, o, h, l, c, v, 1000) == diagnosed_ok
