"""Signal rules and the typed result, at their thresholds."""

from __future__ import annotations

import math

import pytest

from engine.core.errors import ConfigError
from engine.indicators import (
    AdxGrade,
    ICTParams,
    IndicatorParams,
    Indicators,
    MacdCross,
    RsiSignal,
    Trend,
    adx_grade,
    ema_trend,
    macd_cross,
    rsi_signal,
)
from engine.indicators.snapshot import STANDARD_COLUMNS

P = IndicatorParams()


def test_rsi_thresholds_are_inclusive() -> None:
    assert [rsi_signal(x, P) for x in (70.0, 69.99, 30.0, 30.01, math.nan)] == [
        RsiSignal.OVERBOUGHT, RsiSignal.NEUTRAL, RsiSignal.OVERSOLD, RsiSignal.NEUTRAL, RsiSignal.NEUTRAL]


def test_adx_grades() -> None:
    assert [adx_grade(x, P) for x in (math.nan, 19.99, 20.0, 24.99, 25.0, 49.99, 50.0)] == [
        AdxGrade.WEAK, AdxGrade.WEAK, AdxGrade.MODERATE, AdxGrade.MODERATE, AdxGrade.STRONG,
        AdxGrade.STRONG, AdxGrade.VERY_STRONG]


def test_ema_trend_and_its_neutral_band() -> None:
    assert ema_trend(101.0, 100.0, P) is Trend.BULLISH and ema_trend(99.0, 100.0, P) is Trend.BEARISH
    assert ema_trend(100.0, 100.0, P) is Trend.NEUTRAL and ema_trend(math.nan, 100.0, P) is Trend.NEUTRAL
    banded = IndicatorParams(ema_neutral_band=0.01)
    assert ema_trend(100.9, 100.0, banded) is Trend.NEUTRAL and ema_trend(101.1, 100.0, banded) is Trend.BULLISH


def test_macd_cross_is_a_sign_change_of_the_histogram() -> None:
    assert macd_cross(0.1, -0.1) is MacdCross.BULLISH and macd_cross(0.1, 0.0) is MacdCross.BULLISH
    assert macd_cross(-0.1, 0.2) is MacdCross.BEARISH and macd_cross(0.1, 0.2) is MacdCross.NONE
    assert macd_cross(0.1, math.nan) is MacdCross.NONE


def test_indicators_build_and_original_names() -> None:
    standard = [101.0, 100.0, 75.0, 1.0, 0.5, 0.5, 110.0, 100.0, 90.0, 0.2, 30.0, 2.0]
    ict = [1, 1, 0, 105.0, 95.0, 2, 99.0, 98.0, 1, 106.0, 105.5, 1, 107.0, 0, 0, math.nan, 1,
           3, 99.5, 99.0, 0, math.nan, math.nan]
    ind = Indicators.build("BTCUSDT", "1m", 1, 100.0, standard, -0.1, ict, P)
    assert (ind.ema_trend, ind.rsi_signal, ind.macd_cross, ind.adx_signal) == (
        Trend.BULLISH, RsiSignal.OVERBOUGHT, MacdCross.BULLISH, AdxGrade.STRONG)
    assert ind.ready and ind.ict is not None
    assert ind.ict.market_structure is Trend.BULLISH and ind.ict.order_blocks_count == 3
    assert ind.ict.fvg_count == 3 and ind.ict.liquidity_context == "swept_lows"
    assert ind.as_dict()["rsi"] == 75.0
    warm = Indicators.build("BTCUSDT", "1m", 1, 100.0, [math.nan] * len(STANDARD_COLUMNS), math.nan, None, P)
    assert not warm.ready and warm.ict is None and warm.adx_signal is AdxGrade.WEAK


@pytest.mark.parametrize("kwargs", [
    {"ema_fast": 1}, {"rsi_period": 100_001}, {"macd_fast": 26}, {"bb_std": 0.0}, {"bb_std": math.inf},
    {"rsi_oversold": 80.0}, {"adx_grades": (30.0, 25.0, 50.0)}, {"ema_neutral_band": -0.1},
    {"atr_period": True}, {"ict": "default"},
])
def test_bad_parameters_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        IndicatorParams(**kwargs)  # type: ignore[arg-type]


def test_bad_ict_parameters_are_refused() -> None:
    with pytest.raises(ConfigError, match="ict.swing_length"):
        ICTParams(swing_length=0)
    with pytest.raises(ConfigError, match="ict.equal_tolerance"):
        ICTParams(equal_tolerance=-1.0)


def test_warmup_is_the_slowest_lookback() -> None:
    assert P.warmup == 33 and P.min_bars == 34  # MACD: 25 + 8
    assert IndicatorParams(adx_period=30).warmup == 59


def test_signal_frame_matches_the_scalar_rules_on_every_bar() -> None:
    from engine.indicators import compute, signal_frame
    from tests.indicators.conftest import klines
    p = IndicatorParams(ema_neutral_band=0.0005)
    frame = compute(klines("ETHUSDT-perp-klines-1h.parquet").head(20_000), p, ict=False)
    signals = signal_frame(frame, p)
    previous = math.nan
    for row, got in zip(frame.iter_rows(named=True), signals.iter_rows(), strict=True):
        want = (ema_trend(row["ema_fast"], row["ema_slow"], p), rsi_signal(row["rsi"], p),
                macd_cross(row["macd_hist"], previous), adx_grade(row["adx"], p))
        assert got == tuple(w.value for w in want), row["open_time"]
        previous = row["macd_hist"]
    assert set(signals["macd_cross"].unique()) == {"bullish", "bearish", "none"}
    assert set(signals["adx_signal"].unique()) == {"weak", "moderate", "strong", "very_strong"}
