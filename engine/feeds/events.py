"""The consumer's side of the feed: one ordered, bounded queue of market events.

Overflow policy. The queue holds at most `maxsize` events.
- Price events (MarkPrice, AggTrade, BookTicker) are dropped when it is full, and counted
  (`dropped`): a newer one follows within a second, and the latest value is always readable from
  the feed (`mark_price()`, `live_price()`), so a slow consumer loses staleness, not information.
- Closed candles are never dropped. When the queue is full they wait, in order, in an overflow list
  and move into the queue as the consumer makes room (`waiting` counts them). They arrive at one
  per bar per stream, plus backfill bursts, so even a consumer stalled for a day holds a few MB;
  the socket keeps being read meanwhile, so heartbeats, the watchdog and the store are unaffected.
Events leave in the order they were put: while candles wait, the queue stays full (each `get` refills
it from the overflow), so a price event can never overtake them; it is dropped instead.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterable

from engine.core.market import AggTrade, BookTicker, MarkPrice
from engine.core.types import Candle

MarketEvent = Candle | MarkPrice | AggTrade | BookTicker


class EventQueue:
    def __init__(self, maxsize: int = 10_000) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        self.maxsize = maxsize
        self._items: deque[MarketEvent] = deque()
        self._overflow: deque[Candle] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self.dropped = 0          # price events dropped because the queue was full
        self.put_count = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def waiting(self) -> int:
        """Closed candles waiting for room in the queue."""
        return len(self._overflow)

    def put_price(self, event: MarkPrice | AggTrade | BookTicker) -> bool:
        """Queue a price event; False (and counted) if the queue is full."""
        if len(self._items) >= self.maxsize:
            self.dropped += 1
            return False
        self._items.append(event)
        self.put_count += 1
        self._wake()
        return True

    def put_candles(self, candles: Iterable[Candle]) -> None:
        """Queue closed candles in order; never drops (see the module docstring)."""
        items, overflow = self._items, self._overflow
        for candle in candles:
            if overflow or len(items) >= self.maxsize:
                overflow.append(candle)
            else:
                items.append(candle)
            self.put_count += 1
        self._wake()

    def get_nowait(self) -> MarketEvent:
        if not self._items:
            raise asyncio.QueueEmpty
        item = self._items.popleft()
        if self._overflow:
            self._items.append(self._overflow.popleft())
        return item

    async def get(self) -> MarketEvent:
        while not self._items:
            if self._waiter is None or self._waiter.done():
                self._waiter = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._waiter)
        return self.get_nowait()

    def __aiter__(self) -> AsyncIterator[MarketEvent]:
        return self

    async def __anext__(self) -> MarketEvent:
        return await self.get()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
