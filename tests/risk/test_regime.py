"""Regime detection on hand-built candles: each regime, the boundaries, the formulas, bad input."""

from __future__ import annotations

import math
import statistics

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.errors import DataError
from engine.core.types import Candle
from engine.risk.regime import (
    InsufficientHistory,
    Regime,
    RegimeReading,
    RegimeThresholds,
    classify,
    detect_regime,
    regime_checks,
    regimes_in_force,
)
from tests.risk.builders import HOUR, T0, candles, geometric, zigzag


@pytest.mark.parametrize(("change", "vol", "expected"), [
    (-15.0, 3.0, Regime.NORMAL),
    (-15.000001, 3.0, Regime.CRASH),
    (10.0, 3.0, Regime.NORMAL),
    (10.000001, 3.0, Regime.RALLY),
    (0.0, 5.0, Regime.NORMAL),
    (0.0, 5.000001, Regime.HIGH_VOLATILITY),
    (0.0, 1.0, Regime.NORMAL),
    (0.0, 0.999999, Regime.LOW_VOLATILITY),
    (-40.0, 30.0, Regime.CRASH),          # a crash is a crash however volatile
    (12.0, 0.1, Regime.RALLY),            # ... and a rally however calm
    (-14.0, 8.0, Regime.HIGH_VOLATILITY),
])
def test_classify_boundaries_are_strict(change: float, vol: float, expected: Regime) -> None:
    assert classify(change, vol) is expected


def test_classify_rounds_float_noise_at_the_boundary() -> None:
    assert (0.85 - 1) * 100 < -15                              # float says "more than 15 % down" ...
    assert classify((0.85 - 1) * 100, 3.0) is Regime.NORMAL    # ... the rule treats it as exactly 15 %


def test_classify_rejects_non_finite_inputs() -> None:
    with pytest.raises(DataError, match="finite"):
        classify(float("nan"), 1.0)
    with pytest.raises(DataError, match="finite"):
        classify(0.0, -1.0)


@pytest.mark.parametrize(("closes", "expected"), [
    (geometric(100, 80), Regime.CRASH),
    (geometric(100, 115), Regime.RALLY),
    (zigzag(0.02), Regime.HIGH_VOLATILITY),    # daily vol 0.02 * sqrt(24/23) * sqrt(24) * 100 = 10.0
    (zigzag(0.001), Regime.LOW_VOLATILITY),    # 0.5
    (zigzag(0.006), Regime.NORMAL),            # 3.0
])
def test_each_regime_from_hand_built_candles(closes: list[float], expected: Regime) -> None:
    assert detect_regime(candles(closes)).regime is expected


def test_exactly_fifteen_percent_down_is_not_a_crash_and_a_cent_more_is() -> None:
    assert detect_regime(candles(geometric(100, 85))).regime is not Regime.CRASH
    assert detect_regime(candles(geometric(100, 84.99))).regime is Regime.CRASH
    assert detect_regime(candles(geometric(100, 110))).regime is not Regime.RALLY
    assert detect_regime(candles(geometric(100, 110.01))).regime is Regime.RALLY


def test_volatility_boundaries_from_candles() -> None:
    per_hour_at_5 = 5.0 / 100 / math.sqrt(24) / math.sqrt(24 / 23)   # zigzag amplitude that gives exactly 5 %
    assert detect_regime(candles(zigzag(per_hour_at_5 * 1.001))).regime is Regime.HIGH_VOLATILITY
    assert detect_regime(candles(zigzag(per_hour_at_5 * 0.999))).regime is Regime.NORMAL
    assert detect_regime(candles(zigzag(per_hour_at_5 / 5 * 1.001))).regime is Regime.NORMAL
    assert detect_regime(candles(zigzag(per_hour_at_5 / 5 * 0.999))).regime is Regime.LOW_VOLATILITY


def test_reading_carries_its_inputs_and_the_stated_formulas() -> None:
    closes = [100.0] * 24 + [101.0, 99.5, 102.0, 98.0] + [100.0 + (i % 5) for i in range(21)]
    reading = detect_regime(candles(closes, symbol="BTCUSDT"))
    hourly = closes[-25:]
    returns = [math.log(b / a) for a, b in zip(hourly, hourly[1:], strict=False)]
    assert reading.symbol == "BTCUSDT" and reading.interval == "1h"
    assert reading.window_end == T0 + len(closes) * HOUR and reading.window_start == reading.window_end - 24 * HOUR
    assert (reading.close_start, reading.close_end) == (hourly[0], hourly[-1])
    assert reading.change_pct == pytest.approx((hourly[-1] / hourly[0] - 1) * 100, abs=1e-9)
    assert reading.volatility_pct == pytest.approx(statistics.stdev(returns) * math.sqrt(24) * 100, abs=1e-9)
    assert reading.bar_count == 24
    assert classify(reading.change_pct, reading.volatility_pct) is reading.regime
    assert reading.record_id == f"regime:BTCUSDT:{reading.window_end}"


def test_sub_hourly_candles_resample_to_hourly_closes() -> None:
    hourly = zigzag(0.012, steps=30)
    five = []
    for close in hourly:     # 12 five-minute candles per hour; the last one closes the hour
        five += [close * (1 + 0.01 * math.sin(i)) for i in range(11)] + [close]
    fine = candles(five, interval="5m", step_ms=300_000)
    coarse = candles(hourly)
    a, b = detect_regime(fine), detect_regime(coarse)
    assert (a.regime, a.change_pct, a.volatility_pct, a.window_end) == (b.regime, b.change_pct, b.volatility_pct,
                                                                         b.window_end)
    assert a.bar_count == 24 * 12 and a.interval == "5m"


def test_evaluation_time_anchors_the_hourly_grid_mid_hour() -> None:
    closes = [100.0 + (i % 3) for i in range(26 * 60)]
    minutes = candles(closes, interval="1m", step_ms=60_000)
    at = T0 + (25 * 60 + 37) * 60_000      # 25 h 37 min after the first candle opened
    reading = detect_regime(minutes, at=at)
    assert reading.window_end == at and reading.close_end == closes[25 * 60 + 36]
    assert reading.close_start == closes[60 + 36] and reading.bar_count == 24 * 60


def test_candles_after_the_evaluation_time_are_ignored() -> None:
    series = candles(zigzag(0.01, steps=60))
    at = T0 + 30 * HOUR
    assert detect_regime(series, at=at) == detect_regime(series[:30], at=at) == detect_regime(series[:30])


def test_too_little_history_is_an_error_naming_the_missing_hour() -> None:
    with pytest.raises(InsufficientHistory, match="no closed candles"):
        detect_regime([])
    with pytest.raises(InsufficientHistory, match="not enough history for the 24 h regime"):
        detect_regime(candles([100.0] * 24))          # 24 closes = 23 returns: one hour short
    gap = candles([100.0] * 30)
    del gap[10]
    with pytest.raises(InsufficientHistory, match="no candle closed in the hour ending 2023-11-15T09:00:00Z"):
        detect_regime(gap)
    with pytest.raises(InsufficientHistory):          # the feed went silent for over an hour
        detect_regime(candles([100.0] * 30), at=T0 + 32 * HOUR)


def test_bad_candles_are_rejected_with_the_reason() -> None:
    series = candles([100.0] * 30)
    with pytest.raises(DataError, match="close nan"):
        detect_regime(series[:5] + [candles([float("nan")], start=T0 + 5 * HOUR)[0]] + series[6:])
    with pytest.raises(DataError, match="strictly increasing"):
        detect_regime(series[:10] + series[9:])
    with pytest.raises(DataError, match="one symbol"):
        detect_regime(series + candles([1.0], symbol="OTHER", start=T0 + 30 * HOUR))
    with pytest.raises(DataError, match="1h or a divisor"):
        detect_regime(candles([100.0] * 30, interval="8h"))


def test_in_progress_candle_is_not_a_close() -> None:
    series = candles([100.0] * 30)
    live = Candle("TEST", "1h", T0 + 30 * HOUR, T0 + 31 * HOUR - 1, 50.0, 50.0, 50.0, 50.0, 1.0, closed=False)
    assert detect_regime(series + [live]) == detect_regime(series)


def test_polars_frame_equals_candles() -> None:
    series = candles(zigzag(0.009, steps=40), symbol="ETHUSDT")
    frame = pl.DataFrame({"open_time": [c.open_time for c in series], "close": [c.close for c in series],
                          "symbol": [c.symbol for c in series], "interval": [c.interval for c in series]})
    assert detect_regime(frame) == detect_regime(series)
    assert list(regime_checks(frame)) == list(regime_checks(series))
    with pytest.raises(DataError, match="interval"):
        detect_regime(frame.drop("interval"))
    assert detect_regime(frame.drop("interval"), interval="1h") == detect_regime(series)
    with pytest.raises(DataError, match=r"missing values in \['close'\]"):
        detect_regime(frame.with_columns(pl.when(pl.col("open_time") == T0).then(None).otherwise(pl.col("close"))
                                         .alias("close")))


def test_history_yields_every_hour_and_skips_gaps() -> None:
    series = candles(zigzag(0.01, steps=80))
    del series[40]
    readings = list(regime_checks(series))
    ends = [r.window_end for r in readings]
    assert ends == sorted(ends) and all(e % HOUR == 0 for e in ends)
    assert ends[0] == T0 + 25 * HOUR               # first hour with 24 h of closes after the first close
    assert T0 + 41 * HOUR not in ends and T0 + 41 * HOUR + 24 * HOUR not in ends   # windows holding the gap
    assert T0 + 41 * HOUR + 25 * HOUR in ends
    for reading in readings:
        assert detect_regime(series, at=reading.window_end) == reading


def test_custom_thresholds() -> None:
    strict = RegimeThresholds(crash_change_pct=-5.0)
    assert detect_regime(candles(geometric(100, 94)), thresholds=strict).regime is Regime.CRASH


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=-0.08, max_value=0.08, allow_nan=False), min_size=25, max_size=60),
       st.integers(min_value=0, max_value=35))
def test_readings_are_consistent_and_never_look_ahead(returns: list[float], cut: int) -> None:
    closes = [100.0]
    for r in returns:
        closes.append(closes[-1] * math.exp(r))
    series = candles(closes)
    for reading in regime_checks(series):
        assert reading.volatility_pct >= 0
        assert classify(reading.change_pct, reading.volatility_pct) is reading.regime
    at = T0 + (25 + min(cut, len(closes) - 25)) * HOUR
    truncated = [c for c in series if c.open_time + HOUR <= at]
    assert detect_regime(series, at=at) == detect_regime(truncated)


def test_regime_in_force_is_the_symbols_latest_reading_at_or_before_the_moment() -> None:
    def reading(symbol: str, end: int, regime: Regime) -> RegimeReading:
        return RegimeReading(symbol, "1m", regime, 0.0, 2.0, 1.0, 1.0, end - 86_400_000, end, 1440)

    readings = [reading("BTCUSDT", 300_000, Regime.CRASH), reading("BTCUSDT", 0, Regime.NORMAL),
                reading("ETHUSDT", 100_000, Regime.RALLY)]
    moments = [("BTCUSDT", -1), ("BTCUSDT", 0), ("BTCUSDT", 299_999), ("BTCUSDT", 300_000), ("ETHUSDT", 10**9),
               ("XRPUSDT", 10**9)]
    assert regimes_in_force(readings, moments) == [None, Regime.NORMAL, Regime.NORMAL, Regime.CRASH, Regime.RALLY, None]
