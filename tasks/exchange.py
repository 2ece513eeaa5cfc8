"""Exchange tasks: public market data over REST, through the engine's own venue (ccxt)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from prefect import task
from prefect.cache_policies import NO_CACHE

from engine.config import Settings
from engine.core.errors import TemporaryExchangeError
from engine.core.types import Candle
from engine.jobs.backfill import Hole
from engine.wiring import market_data_venue
from tasks import retry_on


@task(name="current-bars", retries=2, retry_delay_seconds=5, retry_condition_fn=retry_on(TemporaryExchangeError),
      cache_policy=NO_CACHE)
def current_bars(settings: Settings, streams: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Per (symbol, interval), the open time of the exchange's forming bar: its market-data clock."""
    async def ask() -> dict[tuple[str, str], int]:
        venue = market_data_venue(settings)
        try:
            await venue.start()
            return {(s, i): await venue.current_bar_open(s, i) for s, i in streams}
        finally:
            await venue.close()
    return asyncio.run(ask())


@task(name="fetch-candles", retries=2, retry_delay_seconds=5, retry_condition_fn=retry_on(TemporaryExchangeError),
      cache_policy=NO_CACHE)
def fetch_holes(settings: Settings, holes: Sequence[Hole]) -> list[Candle]:
    """The closed candles of every hole, page by page (the venue retries and honours rate limits)."""
    async def fetch() -> list[Candle]:
        venue = market_data_venue(settings)
        try:
            await venue.start()
            found: list[Candle] = []
            for hole in holes:
                found += await venue.fetch_candle_range(hole.symbol, hole.interval, hole.first_open, hole.end_ms)
            return found
        finally:
            await venue.close()
    return asyncio.run(fetch())
