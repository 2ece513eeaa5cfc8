"""The market data feed: Binance combined streams for many symbols and intervals that survive every
fault without losing or duplicating a closed candle.

    feed = engine.wiring.market_feed(settings, sink=recorder, resume=last_stored)
    async with feed:                          # start() ... stop()
        async for event in feed.events:       # Candle (closed, in order, once), MarkPrice, ...
            ...
        feed.live_price("BTCUSDT")            # latest trade price from the in-progress kline
        feed.status()                         # FeedStatus snapshot for the health monitor

Parts: `streams` plans the connections, a `Supervisor` per connection keeps it alive (backoff,
watchdog, heartbeat, rotation), the `FrameRouter` turns frames into events, the `CandleSequencer`
orders closed candles and finds holes, the `Backfiller` fills them over REST, the `CandleWriter`
batches candles to the store and the `EventQueue` hands events to the consumer.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from engine.core.aio import within
from engine.core.backoff import Backoff
from engine.core.clock import Clock, SystemClock
from engine.core.market import MarkPrice
from engine.core.types import Candle
from engine.feeds.backfill import Backfiller, CandleSource
from engine.feeds.connection import Connection
from engine.feeds.events import EventQueue
from engine.feeds.options import FeedOptions
from engine.feeds.router import FrameRouter
from engine.feeds.sequencer import CandleSequencer
from engine.feeds.sink import CandleSink, CandleWriter
from engine.feeds.status import FeedStatus
from engine.feeds.streams import ConnectionPlan, plan_connections
from engine.feeds.supervisor import Sleep, Supervisor

log = logging.getLogger("engine.feeds")


@dataclass(frozen=True)
class LivePrice:
    """The latest traded price of a symbol (PnL fallback when no mark price is at hand)."""

    symbol: str
    price: Decimal
    event_time: int
    source: str          # "kline" or "aggTrade"


class MarketFeed:
    def __init__(self, options: FeedOptions, *, ws_url: str, source: CandleSource, sink: CandleSink | None = None,
                 clock: Clock | None = None, resume: Mapping[tuple[str, str], int | None] | None = None,
                 rng: random.Random | None = None, sleep: Sleep | None = None,
                 prepare: Callable[[], Awaitable[None]] | None = None,
                 on_stop: Callable[[], Awaitable[None]] | None = None) -> None:
        """`source` serves REST backfill (a started `BinanceVenue`, or pass its `start` as `prepare`);
        `sink` receives closed candles (the trade recorder); `resume` maps (symbol, interval) to the
        open time of the last candle already stored, so the downtime is backfilled on start; `rng`
        and `sleep` make the reconnect schedule reproducible in tests."""
        if not ws_url.startswith(("ws://", "wss://")):
            raise ValueError(f"ws_url must be a ws:// or wss:// URL, got {ws_url!r}")
        self.options = options
        self.ws_url = ws_url
        self.clock = clock or SystemClock()
        self.plans: list[ConnectionPlan] = plan_connections(options)
        self.sequencer = CandleSequencer()
        for (symbol, interval), last in (resume or {}).items():
            self.sequencer.resume_from(symbol, interval, last)
        self.events: EventQueue | None = EventQueue(options.queue_size) if options.queue_size else None
        self.writer = CandleWriter(sink, clock=self.clock, batch=options.sink_batch, interval=options.sink_interval,
                                   retry=options.sink_retry) if sink is not None else None
        streams = [s for plan in self.plans for s in plan.streams]
        self.router = FrameRouter(streams, self.sequencer, self._emit, self._hole, self.events,
                                  backwards_tolerance_ms=options.backwards_tolerance_ms)
        self.backfill = Backfiller(source, self.sequencer, self._emit, lambda: self.router.latest, clock=self.clock,
                                   page=options.backfill_page, retry=options.backfill_retry,
                                   retry_cap=options.backfill_retry_cap,
                                   check_interval=options.backfill_check_interval, prepare=prepare)
        rng = rng or random.Random()
        self.supervisors = [self._supervisor(plan, rng, sleep) for plan in self.plans]
        self.emitted = 0
        self._on_stop = on_stop
        self._tasks: list[asyncio.Task[None]] = []
        self._writer_task: asyncio.Task[None] | None = None

    def _supervisor(self, plan: ConnectionPlan, rng: random.Random, sleep: Sleep | None) -> Supervisor:
        o = self.options
        backoff = Backoff(base=o.backoff_base, cap=o.backoff_cap, jitter=o.backoff_jitter,
                          long_after=o.backoff_long_after, long_delay=o.backoff_long_delay, rng=rng)
        return Supervisor(plan.name, len(plan.streams),
                          lambda: Connection(plan, self.ws_url, o, self.clock, self.router.handle), backoff=backoff,
                          clock=self.clock, lag=o.ws_lag_seconds, rotate_after=o.rotate_after,
                          on_connected=self._connected, sleep=sleep)

    # ---- life cycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start connecting, backfilling and recording; returns at once (see `wait_connected`)."""
        if self._tasks:
            return
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(s.run(), name=f"feed-{s.name}") for s in self.supervisors]
        self._tasks.append(loop.create_task(self.backfill.run(), name="feed-backfill"))
        if self.writer is not None:
            self._writer_task = loop.create_task(self.writer.run(), name="feed-writer")
        self.backfill.request()
        log.info("market feed: %d streams on %d connection(s) to %s (%s)", len(self.router.messages),
                 len(self.plans), self.ws_url, ", ".join(f"{p.name}: {len(p.streams)}" for p in self.plans))

    async def stop(self, flush_timeout: float = 30.0) -> None:
        """Close the connections, then make every emitted candle durable in the sink (waiting up to
        `flush_timeout` s; what is still unrecorded then is logged, and the store's `resume` point
        makes the next start backfill it)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        if tasks:  # bounded: a connection stuck in its close handshake must not hold up the shutdown
            _, stuck = await asyncio.wait(tasks, timeout=self.options.close_timeout + 5)
            if stuck:
                log.error("market feed: %s still running %g s after cancel; left behind",
                          ", ".join(sorted(t.get_name() for t in stuck)), self.options.close_timeout + 5)
        writer_task, self._writer_task = self._writer_task, None
        if writer_task is not None and self.writer is not None:
            try:
                await within(self.writer.flush(), flush_timeout)
            except TimeoutError:
                log.error("market feed: %d candles not recorded within %g s", self.writer.unrecorded, flush_timeout)
            writer_task.cancel()
            await asyncio.gather(writer_task, return_exceptions=True)
        if self._on_stop is not None:
            await self._on_stop()
        log.info("market feed stopped: %d candles emitted, %d backfilled", self.emitted, self.backfill.bars)

    async def __aenter__(self) -> MarketFeed:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def wait_connected(self, timeout: float) -> bool:
        """True once every planned connection is delivering (False after `timeout` s)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not all(s.current is not None and s.current.delivering.is_set() for s in self.supervisors):
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    # ---- what consumers read ---------------------------------------------------------------------
    def live_price(self, symbol: str) -> LivePrice | None:
        kline = self.router.klines.get(symbol)
        trade = self.router.trades.get(symbol)
        if trade is not None and (kline is None or trade.event_time >= kline.event_time):
            return LivePrice(symbol, trade.price, trade.event_time, "aggTrade")
        if kline is None:
            return None
        return LivePrice(symbol, Decimal(repr(kline.close)), kline.event_time, "kline")

    def mark_price(self, symbol: str) -> MarkPrice | None:
        return self.router.marks.get(symbol)

    def last_candle(self, symbol: str, interval: str) -> int | None:
        """Open time of the last closed candle emitted (or resumed from) for the stream."""
        return self.sequencer.state(symbol, interval).last

    def status(self) -> FeedStatus:
        connections = tuple(s.status() for s in self.supervisors)
        states = [self.sequencer.state(sym, iv) for sym in self.options.symbols for iv in self.options.intervals]
        writer, events = self.writer, self.events
        return FeedStatus(
            taken_at=self.clock.now_ms(), connected=all(c.connected for c in connections), connections=connections,
            messages=dict(self.router.messages), errors=dict(self.router.errors),
            last_errors=dict(self.router.last_errors), latest_exchange_time=self.router.latest,
            candles_emitted=self.emitted, duplicates_dropped=sum(s.duplicates for s in states),
            backfilled_bars=self.backfill.bars, missing_at_exchange=sum(s.missing_at_exchange for s in states),
            held=sum(len(s.held) for s in states), backfill_runs=self.backfill.runs,
            backfill_failures=self.backfill.failures, backfill_last_error=self.backfill.last_error,
            events_dropped=events.dropped if events is not None else 0,
            candles_waiting=events.waiting if events is not None else 0,
            candles_recorded=writer.recorded if writer is not None else 0,
            candles_unrecorded=writer.unrecorded if writer is not None else 0,
            store_failures=writer.failures if writer is not None else 0,
            extra={"duplicate_prices": self.router.repeated, "backfill_requests": self.backfill.requests,
                   "store_rejected": writer.rejected if writer is not None else 0})

    # ---- wiring ----------------------------------------------------------------------------------
    def _emit(self, candles: list[Candle]) -> None:
        self.emitted += len(candles)
        if self.writer is not None:
            self.writer.add(candles)
        if self.events is not None:
            self.events.put_candles(candles)

    def _hole(self) -> None:
        self.backfill.request()

    def _connected(self, connection: Connection) -> None:
        self.backfill.request()
