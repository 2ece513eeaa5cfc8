"""Regime detection on real Binance USD-M perpetual history in data/market."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from engine.risk.regime import Regime, RegimeReading, detect_regime, regime_checks
from tests.conftest import MARKET_DATA

DAY = 86_400_000


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def hourly(symbol: str) -> pl.DataFrame:
    return pl.read_parquet(MARKET_DATA / f"{symbol}-perp-klines-1h.parquet")


def day_readings(frame: pl.DataFrame, day: str) -> list[RegimeReading]:
    """Readings at 01:00 .. 24:00 of a UTC day (each covering the 24 h before it)."""
    start = ms(day)
    return list(regime_checks(frame, start=start + 3_600_000, end=start + DAY))


@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT"])
@pytest.mark.parametrize("day", ["2020-03-12", "2020-03-13", "2021-05-19"])
def test_known_crashes_are_detected_as_crash(symbol: str, day: str) -> None:
    readings = day_readings(hourly(symbol), day)
    assert len(readings) == 24
    crashes = [r for r in readings if r.regime is Regime.CRASH]
    assert crashes, f"{symbol} {day}: no CRASH hour; worst change {min(r.change_pct for r in readings):.1f} %"
    assert all(r.change_pct < -15 for r in crashes)


def test_march_2020_crash_in_detail() -> None:
    reading = detect_regime(hourly("BTCUSDT"), at=ms("2020-03-13 00:00"))   # the 24 h of 2020-03-12
    assert reading.regime is Regime.CRASH
    assert reading.change_pct < -25 and reading.volatility_pct > 15
    assert reading.bar_count == 24 and reading.window_start == ms("2020-03-12 00:00")


def test_may_2021_crash_hours() -> None:
    crash_hours = [r.window_end for r in day_readings(hourly("BTCUSDT"), "2021-05-19") if r.regime is Regime.CRASH]
    assert ms("2021-05-19 13:00") in crash_hours     # the hour of the 28,688 low, 24 h change about -20 %


def test_a_calm_month_has_no_crash_or_rally() -> None:
    frame = hourly("BTCUSDT")
    july_2023 = list(regime_checks(frame, start=ms("2023-07-01 01:00"), end=ms("2023-08-01")))
    assert len(july_2023) == 31 * 24
    assert {r.regime for r in july_2023} <= {Regime.NORMAL, Regime.LOW_VOLATILITY, Regime.HIGH_VOLATILITY}
    assert any(r.regime is Regime.LOW_VOLATILITY for r in july_2023)


def test_one_minute_history_gives_the_same_regimes_as_the_hourly_bars() -> None:
    minutes = pl.read_parquet(MARKET_DATA / "BTCUSDT-perp-klines-1m-2023-07.parquet")
    fine = {r.window_end: r for r in regime_checks(minutes)}
    coarse = {r.window_end: r for r in regime_checks(hourly("BTCUSDT"), start=min(fine), end=max(fine))}
    assert len(fine) > 600 and fine.keys() == coarse.keys()
    for end, reading in fine.items():
        other = coarse[end]
        assert (reading.regime, reading.change_pct, reading.volatility_pct) == (
            other.regime, other.change_pct, other.volatility_pct)
        assert reading.bar_count == 1440 and other.bar_count == 24
