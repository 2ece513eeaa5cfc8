"""The consumer queue's overflow policy: price events are dropped when it is full, closed candles
never are, and everything leaves in the order it was put."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from engine.core.market import MarkPrice
from engine.core.types import Candle
from engine.feeds.events import EventQueue
from tests.feeds.helpers import ListSink, feed_on, options, settle, wait_for

M = 60_000


def candle(i: int) -> Candle:
    return Candle("BTCUSDT", "1m", i * M, i * M + M - 1, 1.0, 1.0, 1.0, 1.0, 1.0)


def mark(i: int) -> MarkPrice:
    return MarkPrice("BTCUSDT", Decimal(1), Decimal(1), Decimal(0), 0, i)


def drain(queue: EventQueue) -> list[object]:
    out = []
    while True:
        try:
            out.append(queue.get_nowait())
        except asyncio.QueueEmpty:
            return out


def test_price_events_are_dropped_when_full_candles_wait_in_order() -> None:
    queue = EventQueue(maxsize=3)
    assert queue.put_price(mark(1)) and queue.put_price(mark(2))
    queue.put_candles([candle(0), candle(1), candle(2)])       # one fits, two wait
    assert len(queue) == 3 and queue.waiting == 2
    assert not queue.put_price(mark(3)) and queue.dropped == 1
    assert queue.get_nowait() == mark(1) and len(queue) == 3 and queue.waiting == 1   # refilled from the overflow
    assert not queue.put_price(mark(4))                                               # still full while candles wait
    assert drain(queue) == [mark(2), candle(0), candle(1), candle(2)]
    assert queue.put_price(mark(5)) and queue.dropped == 2


async def test_get_waits_and_async_iteration_delivers_in_order() -> None:
    queue = EventQueue(maxsize=10)
    received: list[object] = []

    async def consume() -> None:
        async for event in queue:
            received.append(event)
            if len(received) == 4:
                return

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.01)
    queue.put_candles([candle(0), candle(1)])
    queue.put_price(mark(1))
    queue.put_candles([candle(2)])
    await asyncio.wait_for(task, 1)
    assert received == [candle(0), candle(1), mark(1), candle(2)]


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="maxsize"):
        EventQueue(0)


@pytest.mark.integration
async def test_a_slow_consumer_loses_price_events_never_candles(sim_factory) -> None:  # type: ignore[no-untyped-def]
    sim = await sim_factory(speed=600.0)
    sink = ListSink()
    feed = await feed_on(sim, sink, opts=options(queue_size=20, agg_trade=True), resume_at=sim.sim.replay.start_ms)
    try:
        await sim.control.resume()
        await wait_for(lambda: feed.status().candles_waiting > 0, 10, "candles waiting behind a full queue")
        rows = await settle(feed, sim)
        assert feed.events is not None
        events = drain(feed.events)
        live = feed.live_price("BTCUSDT")
        mark_price = feed.mark_price("BTCUSDT")
    finally:
        await feed.stop()
    status = feed.status()
    assert status.events_dropped > 0 and status.candles_waiting == 0
    assert [e for e in events if isinstance(e, Candle)] == sink.candles       # every candle, in order
    assert sum(len(r) for r in rows.values()) == len(sink.candles)
    assert live is not None and live.source == "aggTrade" and live.price > 0
    assert mark_price is not None and mark_price.mark_price > 0 and mark_price.symbol == "BTCUSDT"
