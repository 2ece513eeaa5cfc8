"""The batch cache: data+params key, TTL on the injected clock (no sleeping), bounded size."""

from __future__ import annotations

import polars as pl
import pytest

from engine.core.clock import ManualClock
from engine.core.errors import ConfigError
from engine.indicators import IndicatorCache, IndicatorEngine, IndicatorParams, as_ohlcv, cache_key
from tests.indicators.conftest import klines


def window(start: int = 0, length: int = 300) -> pl.DataFrame:
    return klines("ETHUSDT-perp-klines-1h.parquet").slice(start, length)


def test_key_changes_with_any_bar_and_any_parameter() -> None:
    data = window()
    base = cache_key(as_ohlcv(data), IndicatorParams(), "numpy", True)
    assert base == cache_key(as_ohlcv(data.clone()), IndicatorParams(), "numpy", True)
    nudged = data.with_columns(pl.when(pl.int_range(pl.len()) == 123).then(pl.col("volume") + 1e-9)
                               .otherwise(pl.col("volume")).alias("volume"))
    assert cache_key(as_ohlcv(nudged), IndicatorParams(), "numpy", True) != base
    assert cache_key(as_ohlcv(data), IndicatorParams(rsi_period=15), "numpy", True) != base
    assert cache_key(as_ohlcv(data), IndicatorParams(), "talib", True) != base
    assert cache_key(as_ohlcv(data), IndicatorParams(), "numpy", False) != base


def test_entries_expire_after_the_ttl() -> None:
    clock = ManualClock(start_ms=1_000_000)
    cache = IndicatorCache(clock=clock)
    assert cache.ttl == 300.0
    frame = pl.DataFrame({"x": [1]})
    cache.put("k", frame)
    clock.advance(299.9)
    assert cache.get("k") is frame
    clock.advance(0.1)
    assert cache.get("k") is None and len(cache) == 0
    stats = cache.stats
    assert (stats.hits, stats.misses, stats.expired) == (1, 1, 1)


def test_size_is_bounded_expired_first_then_least_recently_used() -> None:
    clock = ManualClock()
    cache = IndicatorCache(ttl=10.0, max_entries=3, clock=clock)
    frame = pl.DataFrame({"x": [1]})
    cache.put("old", frame)
    clock.advance(11)
    cache.put("a", frame)
    cache.put("b", frame)
    cache.put("c", frame)  # "old" has expired: cleaned up, nothing evicted
    assert len(cache) == 3 and cache.stats.evicted == 0 and cache.stats.expired == 1
    assert cache.get("a") is frame  # "a" is now the most recently used
    cache.put("d", frame)
    assert cache.get("b") is None and cache.get("a") is frame and cache.stats.evicted == 1
    assert len(cache) == 3
    clock.advance(10)
    assert cache.purge_expired() == 3 and len(cache) == 0


def test_engine_serves_repeated_calls_from_the_cache() -> None:
    clock = ManualClock()
    engine = IndicatorEngine(backend="numpy", cache=IndicatorCache(ttl=300, clock=clock))
    data = window()
    first = engine.frame(data)
    assert engine.frame(data) is first
    assert engine.frame(window(1)) is not first
    clock.advance(301)
    assert engine.frame(data) is not first
    assert engine.cache is not None and engine.cache.stats.hits == 1


def test_latest_gives_the_typed_last_bar() -> None:
    data = window(5_000, 500)
    engine = IndicatorEngine()
    latest = engine.latest(data)
    frame = engine.frame(data)
    assert (latest.symbol, latest.interval) == ("ETHUSDT", "1h")
    assert latest.open_time == data["open_time"][-1] and latest.close == data["close"][-1]
    assert latest.rsi == frame["rsi"][-1] and latest.ready
    assert latest.ict is not None and latest.ict.fvg_count == frame["ict_fvg_bull_count"][-1] + frame["ict_fvg_bear_count"][-1]


def test_bad_cache_settings() -> None:
    with pytest.raises(ConfigError):
        IndicatorCache(ttl=0)
    with pytest.raises(ConfigError):
        IndicatorCache(max_entries=0)
