"""Paging through a range of klines: the exchange serves at most `limit` per request, oldest first."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from engine.core.intervals import INTERVAL_MS
from engine.core.types import Candle

PAGE = 1000  # Binance's kline page limit
FetchPage = Callable[[str, str, int, int], Awaitable[list[Candle]]]  # (symbol, interval, start_ms, limit)


async def candle_pages(fetch: FetchPage, symbol: str, interval: str, start_ms: int, end_ms: int, *,
                       limit: int = PAGE) -> AsyncIterator[list[Candle]]:
    """Pages of the closed candles that open at or after `start_ms` and close before `end_ms`, in order.

    Stops at the first page that is short (the exchange has nothing later) or brings nothing new."""
    step = INTERVAL_MS[interval]
    while start_ms < end_ms:
        page = await fetch(symbol, interval, start_ms, limit)
        closed = [c for c in page if c.open_time >= start_ms and c.close_time < end_ms]
        if closed:
            yield closed
        if not closed or len(page) < limit:
            return
        start_ms = closed[-1].open_time + step
