"""Each component's rules on constructed inputs, at every level boundary."""

from __future__ import annotations

import pytest

from engine.health import api, database, latency, memory, trading, websocket
from engine.health.api import ApiInputs
from engine.health.database import DatabaseInputs
from engine.health.latency import LatencyInputs
from engine.health.levels import Band, Level
from engine.health.memory import MIB, MemoryInputs
from engine.health.thresholds import Thresholds
from engine.health.trading import TradingInputs
from engine.health.websocket import UserStreamInputs, WebsocketInputs

H, D, U, C = Level.HEALTHY, Level.DEGRADED, Level.UNHEALTHY, Level.CRITICAL
LIMITS = Thresholds()  # the original's defaults


def test_band_grades_each_boundary_as_the_level_it_starts() -> None:
    band = Band(10, 20, 30)
    assert [band.level(v) for v in (9.99, 10, 19.99, 20, 29.99, 30)] == [H, D, D, U, U, C]
    assert Band(10, None, 30).level(25) is D and Band(None).level(1e9) is H


@pytest.mark.parametrize(("silence", "level"), [(29.9, H), (30, D), (59.9, D), (60, U), (299.9, U), (300, C)])
def test_websocket_silence_against_ws_lag_seconds(silence: float, level: Level) -> None:
    found = websocket.evaluate(WebsocketInputs(connected=True, silence_s=silence), LIMITS)
    assert found.level is level
    if level is not H:
        assert "no market frame for" in found.summary


@pytest.mark.parametrize(("inputs", "level"), [
    (WebsocketInputs(connected=False, silence_s=0), U),
    (WebsocketInputs(connected=True, silence_s=0, reconnects=1), D),
    (WebsocketInputs(connected=True, silence_s=0, pong_timeouts=1), D),
    (WebsocketInputs(connected=True, silence_s=0, candles_waiting=0), H),
    (WebsocketInputs(connected=True, silence_s=0, candles_waiting=1), D),
    (WebsocketInputs(connected=True, silence_s=0, candles_waiting=100), U),
    (WebsocketInputs(True, 0, user_streams=(UserStreamInputs("main", True),)), H),
    (WebsocketInputs(True, 0, user_streams=(UserStreamInputs("main", False),)), D),
    (WebsocketInputs(True, 0, user_streams=(UserStreamInputs("a", False), UserStreamInputs("b", True))), D),
    (WebsocketInputs(True, 0, user_streams=(UserStreamInputs("a", False), UserStreamInputs("b", False))), U),
    (WebsocketInputs(True, 0, user_streams=(UserStreamInputs("main", True, bad_frames=2),)), D),
])
def test_websocket_connection_rules(inputs: WebsocketInputs, level: Level) -> None:
    assert websocket.evaluate(inputs, LIMITS).level is level


@pytest.mark.parametrize(("percent", "level"), [(67.9, H), (68, D), (84.9, D), (85, U), (92.4, U), (92.5, C)])
def test_memory_system_percent(percent: float, level: Level) -> None:
    assert memory.evaluate(MemoryInputs(100 * MIB, percent), LIMITS).level is level


@pytest.mark.parametrize(("mib", "level"), [(3276, H), (3277, D), (4095, D), (4096, U), (8191, U), (8192, C)])
def test_memory_rss(mib: int, level: Level) -> None:
    found = memory.evaluate(MemoryInputs(mib * MIB, 10.0), Thresholds(rss_mb=4096))
    assert found.level is level and found.metrics["rss_mb"] == mib


def test_memory_threshold_is_configurable() -> None:
    assert memory.evaluate(MemoryInputs(MIB, 50), Thresholds(memory_percent=50)).level is U


@pytest.mark.parametrize(("ms", "level"), [(999, H), (1000, D), (4999, D), (5000, U)])
def test_api_latency(ms: float, level: Level) -> None:
    assert api.evaluate(ApiInputs(ms), LIMITS).level is level


@pytest.mark.parametrize(("inputs", "level"), [
    (ApiInputs(None, "timeout"), U),
    (ApiInputs(5, rate_limited=1), D),
    (ApiInputs(5, calls=10, errors=1), D),
    (ApiInputs(5, calls=10, errors=4), D),
    (ApiInputs(5, calls=6, errors=3), U),
    (ApiInputs(5, calls=2, errors=2), D),     # two failures are not yet a pattern
])
def test_api_errors_and_rate_limits(inputs: ApiInputs, level: Level) -> None:
    assert api.evaluate(inputs, LIMITS).level is level


def _db(**kw: object) -> DatabaseInputs:
    base: dict[str, object] = dict(pending=0, commit_age_s=0.0, store_reachable=True, disk_free_percent=50.0)
    base.update(kw)
    return DatabaseInputs(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(("inputs", "level"), [
    (_db(), H),
    (_db(pending=9_999), H), (_db(pending=10_000, commit_age_s=0), D), (_db(pending=100_000, commit_age_s=0), U),
    (_db(pending=1, commit_age_s=14.9), H), (_db(pending=1, commit_age_s=15), D),
    (_db(pending=1, commit_age_s=60), U), (_db(pending=1, commit_age_s=600), C),
    (_db(pending=0, commit_age_s=10_000), H),       # nothing waits: an idle store is fine
    (_db(store_reachable=False), U), (_db(store_reachable=None), H),
    (_db(rejected=1), D),
    (_db(disk_free_percent=10.1), H), (_db(disk_free_percent=10), D), (_db(disk_free_percent=5), U),
    (_db(disk_free_percent=2), C),
])
def test_database_rules(inputs: DatabaseInputs, level: Level) -> None:
    assert database.evaluate(inputs).level is level


@pytest.mark.parametrize(("inputs", "level"), [
    (TradingInputs(True, 0.0), H),
    (TradingInputs(True, 0.0249), H), (TradingInputs(True, 0.025), D), (TradingInputs(True, 0.05), U),
    (TradingInputs(False, 0.06), U),
    (TradingInputs(True, 0, rejects=1), D), (TradingInputs(True, 0, rejects=5), U),
    (TradingInputs(True, 0, unknown_orders=1), D), (TradingInputs(True, 0, unknown_orders=5), U),
    (TradingInputs(True, 0, in_doubt=("BTCUSDT",)), U),
    (TradingInputs(True, 0, failed_accounts=("b",), accounts=2), U),
    (TradingInputs(True, 0, failed_accounts=("a", "b"), accounts=2), C),
    (TradingInputs(True, 0, model_fallback=True), D),
    (TradingInputs(True, 0, policy_errors=1), D),
])
def test_trading_rules(inputs: TradingInputs, level: Level) -> None:
    assert trading.evaluate(inputs, LIMITS).level is level


def test_trading_drawdown_follows_the_kill_switch_limit() -> None:
    assert trading.evaluate(TradingInputs(True, 0.01), Thresholds(max_daily_drawdown=0.02)).level is D
    assert trading.evaluate(TradingInputs(True, 0.02), Thresholds(max_daily_drawdown=0.02)).level is U


@pytest.mark.parametrize(("inputs", "level"), [
    (LatencyInputs(99, 0, 10), H), (LatencyInputs(100, 0, 10), D), (LatencyInputs(1000, 0, 10), U),
    (LatencyInputs(5000, 0, 10), C),
    (LatencyInputs(0, 71.9, 10), H), (LatencyInputs(0, 72, 10), D), (LatencyInputs(0, 90, 10), U),
    (LatencyInputs(0, 400, 10), U),        # CPU alone never makes it critical
    (LatencyInputs(0, 0, 399), H), (LatencyInputs(0, 0, 400), D), (LatencyInputs(0, 0, 500), U),
    (LatencyInputs(0, 0, 1000), C),
    (LatencyInputs(0, 0, 10, candle_to_ack_ms=999), H), (LatencyInputs(0, 0, 10, candle_to_ack_ms=1000), D),
    (LatencyInputs(0, 0, 10, candle_to_ack_ms=5000), U),
])
def test_latency_rules(inputs: LatencyInputs, level: Level) -> None:
    assert latency.evaluate(inputs, LIMITS).level is level


def test_a_finding_names_the_figure_and_the_bound() -> None:
    found = latency.evaluate(LatencyInputs(0, 95.5, 10), LIMITS)
    assert found.reasons == ("engine CPU 95.5 % >= 90 % (UNHEALTHY)",)
    found = database.evaluate(_db(disk_free_percent=4.5))
    assert found.reasons == ("disk free 4.5 % <= 5 % (UNHEALTHY)",)


def test_the_worst_finding_sets_the_level_and_all_are_named() -> None:
    found = websocket.evaluate(WebsocketInputs(False, 400, reconnects=2), LIMITS)
    assert found.level is C and len(found.reasons) == 3
