"""Gap backfill: the closed candles the websocket did not deliver, fetched over REST.

Asked for after every (re)connection, whenever the sequencer holds candles behind a hole, and every
`check_interval` seconds as a safety net. Each run asks the sequencer for its gaps up to the last bar
closed by the latest exchange time, fetches them page by page (`page` bars per request, ccxt's cap
for Binance) and hands them to the sequencer, which emits them, in order, before the live candles
held behind them. A REST bar counts only if its close time is before the latest exchange time.

Failures never stop the feed: the venue retries temporary errors itself; when it gives up (or the
error is permanent) the run is retried after a doubling delay, while live candles keep flowing
(held ones wait, bounded by the sequencer).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from engine.core.aio import within
from engine.core.backoff import Backoff
from engine.core.clock import Clock
from engine.core.intervals import INTERVAL_MS
from engine.core.types import Candle
from engine.feeds.sequencer import CandleSequencer, Gap
from engine.venues.klines import candle_pages

log = logging.getLogger("engine.feeds.backfill")


class CandleSource(Protocol):
    """Where closed candles come from over REST (`engine.venues.binance.BinanceVenue`)."""

    async def fetch_candles(self, symbol: str, interval: str, start_ms: int, limit: int = 1000) -> list[Candle]: ...


class Backfiller:
    def __init__(self, source: CandleSource, sequencer: CandleSequencer, emit: Callable[[list[Candle]], None],
                 exchange_time: Callable[[], int], *, clock: Clock, page: int = 1000, retry: float = 1.0,
                 retry_cap: float = 60.0, check_interval: float = 60.0,
                 prepare: Callable[[], Awaitable[None]] | None = None) -> None:
        self.source = source
        self.sequencer = sequencer
        self.emit = emit
        self.exchange_time = exchange_time
        self.clock = clock
        self.page = page
        self.check_interval = check_interval
        self.prepare = prepare               # e.g. the venue's start() (load markets), until it succeeds
        self.backoff = Backoff(base=retry, cap=retry_cap, long_after=10_000)
        self.bars = 0                        # candles that came from REST and were emitted
        self.runs = 0
        self.requests = 0
        self.failures = 0
        self.last_error: str | None = None
        self._wanted = asyncio.Event()

    def request(self) -> None:
        """Look for gaps soon (cheap; many requests make one run)."""
        self._wanted.set()

    async def run(self) -> None:
        """Serve requests until cancelled."""
        while True:
            try:
                await within(self._wanted.wait(), self.check_interval)
            except TimeoutError:
                pass
            self._wanted.clear()
            while not await self.run_once():
                delay = self.backoff.failure()
                log.warning("backfill failed (%s); retrying in %.3g s, live candles keep flowing", self.last_error,
                            delay)
                await self.clock.sleep(delay)
            self.backoff.success()

    async def run_once(self) -> bool:
        """Fill every gap known now; False if a request failed (the rest is left for the retry)."""
        self.runs += 1
        try:
            if self.prepare is not None:
                await self.prepare()
                self.prepare = None
            for gap in self.sequencer.gaps(self.exchange_time()):
                await self._fill(gap)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - exchange, network or parsing trouble: retried later
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            return False
        return True

    async def _fill(self, gap: Gap) -> None:
        step, fetched = INTERVAL_MS[gap.interval], 0
        pages = candle_pages(self._counted, gap.symbol, gap.interval, gap.first, self.exchange_time(), limit=self.page)
        async for page in pages:
            closed = [c if c.event_time else _stamped(c) for c in page]
            ours = {id(c) for c in closed}
            released = self.sequencer.fill(gap.symbol, gap.interval, closed)
            fetched += sum(1 for c in released if id(c) in ours)
            if released:
                self.emit(released)
            if closed[-1].open_time + step > gap.last:
                break
        self.bars += fetched
        if fetched:
            log.info("backfilled %d %s %s bars from %d", fetched, gap.symbol, gap.interval, gap.first)

    async def _counted(self, symbol: str, interval: str, start_ms: int, limit: int) -> list[Candle]:
        self.requests += 1
        return await self.source.fetch_candles(symbol, interval, start_ms, limit)


def _stamped(candle: Candle) -> Candle:
    """A REST bar carries no event time; a closed bar's event is its close (as a live close is)."""
    return Candle(candle.symbol, candle.interval, candle.open_time, candle.close_time, candle.open, candle.high,
                  candle.low, candle.close, candle.volume, True, candle.close_time, candle.received_time)
