"""The incremental stream equals the batch on every bar, in O(1) memory, and survives bad candles."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import polars as pl
import pytest

from engine.core.types import Candle
from engine.indicators import (
    COLUMNS,
    ICT_COLUMNS,
    STANDARD_COLUMNS,
    CandleError,
    IndicatorParams,
    IndicatorStream,
    StandardStream,
    compute,
)
from tests.indicators.conftest import candles_of, klines, same

STREAM_BARS = 12_000


def stream_frame(data: pl.DataFrame, params: IndicatorParams = IndicatorParams()) -> pl.DataFrame:
    """Feed every candle through `update(Candle)` and collect each bar's row."""
    stream = IndicatorStream(data["symbol"][0], data["interval"][0], params)
    rows = []
    for candle in candles_of(data):
        stream.update(candle)
        rows.append(stream.row())
    return pl.DataFrame(rows, schema={name: pl.Float64 for name in COLUMNS}, orient="row")


@pytest.mark.parametrize("name", ["ETHUSDT-perp-klines-1m-2025-05.parquet", "XRPUSDT-perp-klines-1h.parquet"])
def test_stream_equals_numpy_batch_bit_for_bit_on_every_bar(name: str) -> None:
    data = klines(name).head(STREAM_BARS)
    streamed = stream_frame(data)
    batch = compute(data, backend="numpy")
    for column in COLUMNS:
        a, b = streamed[column].to_numpy(), batch[column].cast(pl.Float64).to_numpy()
        ok = same(a, b)
        assert ok.all(), f"{name} {column}: first difference at bar {int(np.argmin(ok))}: {a[~ok][0]!r} vs {b[~ok][0]!r}"


def test_stream_equals_talib_batch_within_1e9() -> None:
    data = klines("BTCUSDT-perp-klines-1m-2023-07.parquet").head(STREAM_BARS)
    streamed = stream_frame(data)
    batch = compute(data, backend="talib")
    close = data["close"].to_numpy()
    for column in STANDARD_COLUMNS:
        a, b = streamed[column].to_numpy(), batch[column].to_numpy()
        assert np.array_equal(np.isnan(a), np.isnan(b)), column
        scale = np.maximum(np.abs(b), close) if column.startswith("macd") else np.abs(b)
        assert np.nanmax(np.abs(a - b) - 1e-9 * scale) <= 0, column
    for column in ICT_COLUMNS:  # ICT features do not depend on the backend
        assert same(streamed[column].to_numpy(), batch[column].cast(pl.Float64).to_numpy()).all(), column


@pytest.mark.parametrize("p", [
    # nothing shared between the standalone EMAs / ATR and MACD's / ADX's internal averages
    IndicatorParams(ema_fast=3, ema_slow=8, rsi_period=2, macd_fast=2, macd_slow=40, macd_signal=2,
                    bb_period=2, bb_std=1.0, adx_period=2, atr_period=30),
    # MACD's fast EMA and ADX's TR derived from ema_fast and atr, but a separate slow EMA
    IndicatorParams(ema_fast=5, ema_slow=20, macd_fast=5, macd_slow=30, macd_signal=4, adx_period=7,
                    atr_period=7, bb_period=9),
])
def test_stream_with_other_params_equals_batch(p: IndicatorParams) -> None:
    data = klines("XRPUSDT-perp-klines-5m-2021-11.parquet")
    streamed = stream_frame(data, p)
    batch = compute(data, p, backend="numpy")
    for column in COLUMNS:
        assert same(streamed[column].to_numpy(), batch[column].cast(pl.Float64).to_numpy()).all(), column


def test_standard_stream_memory_does_not_grow() -> None:
    """O(1) memory: after warm-up, 20,000 more bars leave the heap where it was."""
    data = klines("ETHUSDT-perp-klines-1m-2023-07.parquet")
    h, l, c = (data[x].to_list() for x in ("high", "low", "close"))
    stream = IndicatorStream("ETHUSDT", "1m")
    o, v, t = data["open"].to_list(), data["volume"].to_list(), data["open_time"].to_list()
    for i in range(2_000):
        stream.advance(t[i], o[i], h[i], l[i], c[i], v[i])
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for i in range(2_000, 22_000):
        stream.advance(t[i], o[i], h[i], l[i], c[i], v[i])
    grown = sum(stat.size_diff for stat in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    assert grown < 16_384, f"stream state grew by {grown} bytes over 20,000 bars"


def test_standard_stream_alone_matches_full_stream() -> None:
    data = klines("XRPUSDT-perp-klines-8h-2021-11.parquet")
    plain = StandardStream()
    full = IndicatorStream("XRPUSDT", "8h", ict=False)
    for candle in candles_of(data):
        values = plain.update(candle.high, candle.low, candle.close)
        indicators = full.update(candle)
        assert all(same(np.array(values), np.array([getattr(indicators, n) for n in STANDARD_COLUMNS])))
    assert indicators.ict is None and indicators.ready


def _candle(base: Candle, **changes: object) -> Candle:
    fields = {f: getattr(base, f) for f in base.__struct_fields__}
    fields.update(changes)
    return Candle(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("change, field", [
    ({"close": math.nan}, "close"),
    ({"high": math.inf}, "high"),
    ({"low": -1.0}, "low"),
    ({"high": 1.0, "low": 2.0, "open": 1.5, "close": 1.5}, "high"),
    ({"volume": -0.5}, "volume"),
    ({"open_time": 0}, "open_time"),
    ({"symbol": "ETHUSDT"}, "symbol"),
    ({"closed": False}, "closed"),
])
def test_bad_candle_is_rejected_without_touching_state(change: dict[str, object], field: str) -> None:
    candles = candles_of(klines("BTCUSDT-perp-klines-1h.parquet").slice(1_000, 300))
    clean = IndicatorStream("BTCUSDT", "1h")
    hit = IndicatorStream("BTCUSDT", "1h")
    for i, candle in enumerate(candles):
        if i == 150:
            bad = _candle(candle, **change)
            with pytest.raises(CandleError) as caught:
                hit.update(bad)
            assert caught.value.field == field
            assert str(bad.open_time) in str(caught.value)
        expected, got = clean.update(candle), hit.update(candle)
        assert same(np.array(list(clean.row().values()), dtype=float),
                    np.array(list(hit.row().values()), dtype=float)).all()
        assert (expected.ema_trend, expected.macd_cross) == (got.ema_trend, got.macd_cross)
    assert hit.bars == clean.bars == len(candles)


def test_duplicate_candle_is_rejected() -> None:
    candle = candles_of(klines("BTCUSDT-perp-klines-1h.parquet").head(1))[0]
    stream = IndicatorStream("BTCUSDT", "1h")
    stream.update(candle)
    with pytest.raises(CandleError, match="not after the previous bar"):
        stream.update(candle)
    assert stream.bars == 1


def test_ready_and_snapshot_during_warm_up() -> None:
    stream = IndicatorStream("BTCUSDT", "1h")
    with pytest.raises(CandleError, match="no candle yet"):
        stream.snapshot()
    candles = candles_of(klines("BTCUSDT-perp-klines-1h.parquet").slice(500, 40))
    for i, candle in enumerate(candles):
        indicators = stream.update(candle)
        assert indicators.ready == (i >= IndicatorParams().warmup) == stream.ready
    assert indicators.open_time == candles[-1].open_time and indicators.close == candles[-1].close


def test_warm_up_from_history_then_continue() -> None:
    data = klines("ETHUSDT-perp-klines-1h.parquet").slice(2_000, 1_000)
    stream = IndicatorStream("ETHUSDT", "1h")
    stream.warm_up(data.head(900))
    for candle in candles_of(data.tail(100)):
        last = stream.update(candle)
    batch = compute(data, backend="numpy")
    assert last.rsi == batch["rsi"][-1] and last.adx == batch["adx"][-1]
    assert last.ict is not None and last.ict.fvg_bull_count == batch["ict_fvg_bull_count"][-1]
