"""RegimeWatch: evaluated on the exchange-time grid, recorded, adopted; a fresher reading from the
store (a scheduled flow's) takes over; too little history keeps the regime in force (pure)."""

from __future__ import annotations

import logging

import msgspec
import pytest

from engine.core.clock import ManualClock
from engine.execution.regimes import RegimeWatch
from engine.risk import Regime, RegimeReading, RiskManager
from engine.risk.tracker import RegimeTracker
from tests.risk.builders import BTC, T0, candles, geometric

MINUTE = 60_000
CHECK = 300_000


def minutes(closes: list[float], start: int = T0) -> list:  # type: ignore[type-arg]
    return candles(closes, start=start, interval="1m", symbol="BTCUSDT", step_ms=MINUTE)


def watch() -> tuple[RegimeWatch, list[RegimeReading], RiskManager]:
    recorded: list[RegimeReading] = []
    risk = RiskManager({"BTCUSDT": BTC}, clock=ManualClock(T0))
    return RegimeWatch(RegimeTracker("1m", CHECK), risk, recorded.append, wall_ms=lambda: 42), recorded, risk


def test_a_crash_switches_the_caps_on_the_next_check(caplog: pytest.LogCaptureFixture) -> None:
    regimes, recorded, risk = watch()
    flat = minutes([100.0 + (i % 7) * 0.05 for i in range(25 * 60)])
    start = regimes.seed("BTCUSDT", flat, flat[-1].close_time + 1)
    assert start is not None and start.regime is Regime.LOW_VOLATILITY and recorded == [start]
    fall = minutes(geometric(100.0, 70.0, 120)[1:], start=flat[-1].open_time + MINUTE)
    caplog.set_level(logging.INFO, "engine.risk")
    readings = [r for c in fall if (r := regimes.on_candle(c)) is not None]
    assert [r.window_end % CHECK for r in readings] == [0] * len(readings)   # on the grid
    assert len(readings) == 120 // 5 and recorded[1:] == readings and readings[-1].regime is Regime.CRASH
    assert all(r.received_time == 42 for r in recorded)
    assert risk.regime("BTCUSDT") is Regime.CRASH and risk.get_risk_parameters("BTCUSDT").max_leverage == 5
    assert "-> CRASH (engine; 24 h change -" in caplog.text


def test_too_little_history_keeps_the_default_and_says_why_once(caplog: pytest.LogCaptureFixture) -> None:
    regimes, recorded, risk = watch()
    short = minutes([100.0] * 600)
    caplog.set_level(logging.DEBUG, "engine.risk")
    assert regimes.seed("BTCUSDT", short, short[-1].close_time + 1) is None
    for candle in minutes([100.0] * 30, start=short[-1].open_time + MINUTE):
        regimes.on_candle(candle)
    assert recorded == [] and risk.regime("BTCUSDT") is Regime.NORMAL and regimes.insufficient == 7
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "keeping NORMAL: " in warnings[0].getMessage()
    assert "not enough history" in warnings[0].getMessage()


def test_a_fresher_store_reading_takes_over_and_the_engine_only_reads() -> None:
    regimes, recorded, risk = watch()
    series = minutes([100.0 + (i % 5) * 0.3 for i in range(25 * 60 + 20)])
    regimes.seed("BTCUSDT", series[:25 * 60], series[25 * 60 - 1].close_time + 1)
    now = series[25 * 60 - 1].open_time + MINUTE
    flow = msgspec.structs.replace(regimes.tracker.reading("BTCUSDT"), regime=Regime.RALLY, window_end=now + 60_000)
    future = msgspec.structs.replace(flow, window_end=now + 10 * CHECK, regime=Regime.CRASH)
    stale = msgspec.structs.replace(flow, window_end=now - 3 * CHECK)
    assert regimes.adopt([future, stale], now + 60_000) == []          # another timeline / too old
    assert regimes.adopt([flow], now + 60_000) == [flow] and risk.regime("BTCUSDT") is Regime.RALLY
    before = len(recorded)
    for candle in series[25 * 60:25 * 60 + 5]:
        regimes.on_candle(candle)          # the check at now + 5 min: the flow's reading is < 5 min old
    assert len(recorded) == before and risk.regime("BTCUSDT") is Regime.RALLY
    for candle in series[25 * 60 + 5:]:
        regimes.on_candle(candle)          # the flow fell silent: the engine evaluates again
    assert len(recorded) == before + 3 and risk.regime("BTCUSDT") is not Regime.RALLY   # at +10, +15, +20 min
