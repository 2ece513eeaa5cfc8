"""RegimeTracker: the candles it keeps and the exchange-time grid its checks fall on."""

from __future__ import annotations

import pytest

from engine.core.errors import DataError
from engine.risk.regime import (
    InsufficientHistory,
    check_time,
    detect_regime,
    next_check_time,
    regime_checks,
)
from engine.risk.tracker import RegimeTracker, regime_interval
from tests.risk.builders import HOUR, T0, candles, geometric

MINUTE = 60_000
CHECK = 300_000


def minutes(closes: list[float], start: int = T0) -> list:  # type: ignore[type-arg]
    return candles(closes, start=start, interval="1m", symbol="BTCUSDT", step_ms=MINUTE)


def test_checks_fall_on_the_grid_once_each() -> None:
    tracker = RegimeTracker("1m", CHECK)
    assert tracker.due("BTCUSDT", T0 + 7 * MINUTE) == T0 + 5 * MINUTE   # nothing ran yet: the latest grid time
    tracker.done("BTCUSDT", T0 + 5 * MINUTE)
    assert tracker.due("BTCUSDT", T0 + 9 * MINUTE) is None
    assert tracker.due("BTCUSDT", T0 + 10 * MINUTE) == T0 + 10 * MINUTE
    assert tracker.due("BTCUSDT", T0 + 27 * MINUTE) == T0 + 25 * MINUTE  # missed checks: only the latest
    tracker.done("BTCUSDT", T0 + 25 * MINUTE)
    assert tracker.due("BTCUSDT", T0 + 29 * MINUTE) is None


def test_keeps_25_hours_and_one_check_and_reads_like_detect_regime() -> None:
    tracker = RegimeTracker("1m", CHECK)
    closes = [100.0] * (26 * 60)
    series = minutes(closes)
    tracker.seed("BTCUSDT", series[:600])
    for candle in series[600:]:
        assert tracker.add(candle)
    assert not tracker.add(series[-1])                 # not newer: ignored
    assert tracker.last_end("BTCUSDT") == series[-1].open_time + MINUTE
    assert len(tracker._candles["BTCUSDT"]) == 25 * 60 + 5
    at = series[-1].open_time + MINUTE
    assert tracker.reading("BTCUSDT", at) == detect_regime(series, at=at)


def test_a_hole_in_the_window_is_insufficient_history() -> None:
    tracker = RegimeTracker("1m", CHECK)
    series = minutes(geometric(100, 80, 25 * 60))
    tracker.seed("BTCUSDT", series[:300] + series[400:])   # 100 minutes missing: one whole hour inside
    with pytest.raises(InsufficientHistory, match="no candle closed in the hour"):
        tracker.reading("BTCUSDT")
    assert RegimeTracker("1m", CHECK).seed("BTCUSDT", series) == len(series)


def test_coarse_trading_intervals_use_1h_candles_topped_up_over_rest() -> None:
    assert regime_interval("1m") == "1m" and regime_interval("4h") == "1h"
    tracker = RegimeTracker("1h", 3_600_000)
    now = T0 + 30 * HOUR
    assert tracker.behind("BTCUSDT", now) == now - tracker.keep_ms
    tracker.seed("BTCUSDT", candles([100.0] * 30, symbol="BTCUSDT"))
    assert tracker.behind("BTCUSDT", now) is None
    assert tracker.behind("BTCUSDT", now + HOUR) == now
    with pytest.raises(DataError):
        RegimeTracker("4h", CHECK)


def test_a_flow_on_the_same_grid_names_the_readings_the_tracker_makes() -> None:
    """What the engine's tracker evaluates as candles arrive is what `regime_checks` computes in one go
    over the same candles (a scheduled flow): the same grid times, values and record ids."""
    series = minutes(geometric(100.0, 80.0, steps=26 * 60 - 1))
    tracker = RegimeTracker("1m", CHECK)
    live = []
    for candle in series:
        tracker.add(candle)
        at = tracker.due("BTCUSDT", candle.open_time + MINUTE)
        if at is None:
            continue
        tracker.done("BTCUSDT", at)
        try:
            live.append(tracker.reading("BTCUSDT", at))
        except InsufficientHistory:
            continue
    batch = list(regime_checks(series, check_ms=CHECK))
    assert len(live) == 24 and [r.record_id for r in live] == [r.record_id for r in batch]
    assert live == batch


def test_the_check_grid() -> None:
    assert check_time(T0 + 7 * MINUTE, CHECK) == T0 + 5 * MINUTE
    assert check_time(T0 + 5 * MINUTE, CHECK) == T0 + 5 * MINUTE
    assert next_check_time(T0 + 5 * MINUTE, CHECK) == T0 + 10 * MINUTE
    assert next_check_time(T0 + 9 * MINUTE, CHECK) == T0 + 10 * MINUTE
    with pytest.raises(DataError, match="check interval"):
        list(regime_checks(minutes([100.0]), check_ms=0))
