"""regime-detection's logic as plain functions, on real candles in a real DuckLake store."""

from __future__ import annotations

import pytest

from engine.config import Settings
from engine.core.clock import wall_ms
from engine.core.intervals import HOUR_MS
from engine.jobs import freshness, regimes
from engine.risk.regime import Regime, RegimeReading, regime_checks
from engine.store import connect, open_store
from engine.store.writer import write_records
from tests.orchestration.data import market_candles, store_candles

CHECK_MS = 300_000


def _run(settings: Settings) -> regimes.RegimeRun:
    with connect(settings, read_only=True) as lake:
        candles = regimes.candle_window(lake, ["BTCUSDT"], "1m", 6 * HOUR_MS)
        previous = regimes.latest_readings(lake)
    return regimes.evaluate(candles, previous, check_ms=CHECK_MS, lookback_ms=6 * HOUR_MS, received_ms=wall_ms())


def test_readings_match_the_engine_grid_and_a_rerun_writes_nothing(settings: Settings) -> None:
    candles = market_candles("BTCUSDT", 32)
    store_candles(settings, candles)
    run = _run(settings)
    expected = [r for r in regime_checks(candles, check_ms=CHECK_MS) if r.window_end > candles[-1].close_time + 1 - 6 * HOUR_MS]
    assert [r.record_id for r in run.readings] == [r.record_id for r in expected]
    assert [r.regime for r in run.readings] == [r.regime for r in expected]
    with open_store(settings) as lake:
        assert regimes.write(lake, run).inserted == len(expected) == 72
        assert write_records(lake, run.readings).inserted == 0   # the same records: a rerun is a no-op
    again = _run(settings)
    assert again.readings == [] and again.changes == [] and again.latest["BTCUSDT"].window_end == expected[-1].window_end


def test_new_candles_add_only_the_new_grid_times_and_changes_name_the_old_regime(settings: Settings) -> None:
    store_candles(settings, market_candles("BTCUSDT", 30, skip_last_hours=1))
    first = _run(settings)
    with open_store(settings) as lake:
        regimes.write(lake, first)
    assert [c.before for c in first.changes] == [None]
    store_candles(settings, market_candles("BTCUSDT", 30))
    second = _run(settings)
    assert len(second.readings) == 12 and second.readings[0].window_end == first.readings[-1].window_end + CHECK_MS
    for change in second.changes:
        assert change.before == first.latest["BTCUSDT"].regime.value != change.after.regime.value


def test_too_little_history_is_skipped_with_the_reason(settings: Settings) -> None:
    store_candles(settings, market_candles("BTCUSDT", 10))
    run = _run(settings)
    assert run.readings == [] and "not enough history" in run.skipped["BTCUSDT"]
    assert regimes.summary(run, {})[0]["note"] == run.skipped["BTCUSDT"]


def _reading(end: int, regime: Regime) -> RegimeReading:
    return RegimeReading("BTCUSDT", "1m", regime, 0.0, 2.0, 1.0, 1.0, end - 24 * HOUR_MS, end, 1440, end)


def test_regime_since_is_the_start_of_the_last_unbroken_run() -> None:
    history = [_reading(1, Regime.NORMAL), _reading(2, Regime.CRASH), _reading(3, Regime.CRASH)]
    assert regimes.regime_since(history) == 2
    assert regimes.regime_since(history[:1]) == 1
    assert regimes.regime_since([]) is None


def test_stale_or_missing_candles_fail_with_one_sentence_naming_the_table() -> None:
    now = 10_000_000
    freshness.check_candles({"BTCUSDT": now - 1000}, ("BTCUSDT",), "1m", now, 900)
    with pytest.raises(freshness.StaleInputs, match=r"table candles has no 1m candles for ETHUSDT.*candle-backfill"):
        freshness.check_candles({"BTCUSDT": now}, ("BTCUSDT", "ETHUSDT"), "1m", now, 900)
    with pytest.raises(freshness.StaleInputs, match=r"table candles is stale: .* BTCUSDT was recorded 50 min ago"):
        freshness.check_candles({"BTCUSDT": now - 3_000_000}, ("BTCUSDT",), "1m", now, 900)


def test_an_unreachable_store_is_stale_inputs(settings: Settings) -> None:
    with pytest.raises(freshness.StaleInputs, match="the store is unreachable"):
        freshness.open_reader(settings)
