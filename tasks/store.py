"""Store tasks: each opens the lake for one read or one write and closes it again."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from prefect import task
from prefect.cache_policies import NO_CACHE

from engine.config import Settings
from engine.core.clock import wall_ms
from engine.core.errors import StoreUnavailable
from engine.core.types import Candle
from engine.jobs import backfill, freshness, regimes
from engine.risk.regime import RegimeReading
from engine.store import maintenance, open_store
from engine.store.maintenance import MaintenanceRun
from engine.store.writer import WriteResult, write_records
from tasks import retry_on

IO = {"retries": 2, "retry_delay_seconds": 5, "retry_condition_fn": retry_on(StoreUnavailable), "cache_policy": NO_CACHE}


@task(name="check-candles", cache_policy=NO_CACHE)
def check_candles(settings: Settings, symbols: Sequence[str], interval: str, max_age_s: float) -> str | None:
    """Why the store cannot serve a run (unreachable, or no `interval` candle of a symbol recorded
    within `max_age_s`), or None. Returned, not raised: the flow fails with this one sentence."""
    try:
        with freshness.open_reader(settings) as lake:
            recorded = freshness.newest_candles(lake, interval, tuple(symbols))
        freshness.check_candles(recorded, tuple(symbols), interval, wall_ms(), max_age_s)
    except freshness.StaleInputs as exc:
        return str(exc)
    return None


@task(name="read-regime-inputs", **IO)
def read_regime_inputs(settings: Settings, symbols: Sequence[str], interval: str, lookback_ms: int
                       ) -> tuple[dict[str, list[Candle]], dict[str, RegimeReading]]:
    """The candles a regime run evaluates and each symbol's latest stored reading."""
    with freshness.open_reader(settings) as lake:
        return regimes.candle_window(lake, symbols, interval, lookback_ms), regimes.latest_readings(lake)


@task(name="read-regime-history", **IO)
def read_regime_history(settings: Settings, symbols: Sequence[str], since_ms: int) -> dict[str, list[RegimeReading]]:
    with freshness.open_reader(settings) as lake:
        return regimes.recent_readings(lake, symbols, since_ms)


@task(name="write-records", **IO)
def write(settings: Settings, records: Sequence[object]) -> WriteResult:
    """All records in one store transaction (ids already stored are skipped)."""
    with open_store(settings) as lake:
        return write_records(lake, records)  # type: ignore[arg-type]


@task(name="check-store", cache_policy=NO_CACHE)
def check_store(settings: Settings) -> str | None:
    """Why the store cannot be opened (one sentence), or None."""
    try:
        freshness.open_reader(settings).close()
    except freshness.StaleInputs as exc:
        return str(exc)
    return None


@task(name="maintain-store", **IO)
def maintain(settings: Settings, retention_days: float, grace_minutes: float) -> MaintenanceRun:
    """DuckLake maintenance, step by step under the writers' lock (engine/store/maintenance.py)."""
    with open_store(settings) as lake:
        return maintenance.maintain(lake, timedelta(days=retention_days), timedelta(minutes=grace_minutes))


@task(name="find-candle-holes", **IO)
def candle_holes(settings: Settings, current: dict[tuple[str, str], int], lookback_hours: float) -> list[backfill.Hole]:
    """The bars of each (symbol, interval) stream missing from the store over the lookback window
    that ends before the stream's forming bar (`current`: its open time)."""
    found: list[backfill.Hole] = []
    with freshness.open_reader(settings) as lake:
        for (symbol, interval), forming in current.items():
            first, last = backfill.window(interval, forming, lookback_hours)
            found += backfill.holes(symbol, interval, backfill.stored_open_times(lake, symbol, interval, first, last),
                                    first, last)
    return found
