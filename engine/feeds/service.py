"""The feed as the engine process runs it: configured symbols and interval, candles into the store,
resuming after the last stored candle so that downtime is backfilled.

    async with TradeRecorder(settings) as recorder:
        feed = await open_feed(settings, recorder)      # started
        try:
            async for event in feed.events: ...
        finally:
            await feed.stop()
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from engine.config import Settings
from engine.feeds.market import MarketFeed
from engine.feeds.sink import CandleSink
from engine.store import connect, init_store
from engine.store.lake import ALIAS
from engine.store.reader import query

log = logging.getLogger("engine.feeds")


def stored_resume_points(settings: Settings, symbols: tuple[str, ...], intervals: tuple[str, ...]
                         ) -> dict[tuple[str, str], int | None]:
    """Open time of the last stored candle of each stream (None: none stored yet)."""
    init_store(settings)
    points: dict[tuple[str, str], int | None] = {(s, i): None for s in symbols for i in intervals}
    with connect(settings, read_only=True) as lake:
        rows = query(lake, f"SELECT symbol, interval, max(open_time) AS last FROM {ALIAS}.candles GROUP BY ALL")
    for row in rows:
        key = (row["symbol"], row["interval"])
        if key in points:
            points[key] = int(row["last"])
    return points


async def open_feed(settings: Settings, sink: CandleSink, *, resume: bool = True, **overrides: Any) -> MarketFeed:
    """A started feed for the configured symbols and interval (`overrides`: `FeedOptions` fields).
    With `resume`, streams continue after the last candle in the store (the gap is backfilled)."""
    intervals = tuple(overrides.pop("intervals", (settings.interval,)))
    points = None
    if resume:
        points = await asyncio.to_thread(stored_resume_points, settings, settings.symbols, intervals)
        for (symbol, interval), last in points.items():
            if last is not None:
                log.info("%s %s: resuming after the stored candle opened at %d", symbol, interval, last)
    feed = MarketFeed.from_settings(settings, sink=sink, resume=points, intervals=intervals, **overrides)
    await feed.start()
    return feed
