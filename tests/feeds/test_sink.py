"""Candles to the store in batches: a failing store keeps them (in order) until it recovers; bad data
the store refuses is counted, not retried forever; `flush` waits for durability."""

from __future__ import annotations

import asyncio

from engine.core.clock import ManualClock
from engine.core.errors import DataError, StoreUnavailable
from engine.core.types import Candle
from engine.feeds.sink import CandleWriter
from engine.store import connect, init_store, reader
from engine.store.recorder import TradeRecorder

M = 60_000


def candle(i: int) -> Candle:
    return Candle("BTCUSDT", "1m", i * M, i * M + M - 1, 1.0 + i, 2.0 + i, 0.5 + i, 1.5 + i, 3.0, True, i * M + M - 1)


class FlakyStore:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.batches: list[list[Candle]] = []

    async def record(self, *candles: Candle) -> None:
        await asyncio.sleep(0)
        if self.failures:
            raise self.failures.pop(0)
        self.batches.append(list(candles))


async def test_batches_survive_store_outages_in_order() -> None:
    store = FlakyStore([StoreUnavailable("lake locked"), OSError("disk")])
    clock = ManualClock()
    writer = CandleWriter(store, clock=clock, batch=4, interval=0.01, retry=0.5)
    task = asyncio.create_task(writer.run())
    try:
        writer.add([candle(i) for i in range(10)])
        await asyncio.wait_for(writer.flush(), 5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [len(b) for b in store.batches] == [4, 4, 2]
    assert [c for b in store.batches for c in b] == [candle(i) for i in range(10)]
    assert writer.failures == 2 and writer.recorded == 10 and writer.unrecorded == 0 and clock.sleeps == [0.5, 0.5]


async def test_bad_data_is_rejected_once_not_retried() -> None:
    store = FlakyStore([DataError("Candle.high=nan is not allowed")])
    writer = CandleWriter(store, clock=ManualClock(), batch=2, interval=0.01)
    task = asyncio.create_task(writer.run())
    try:
        writer.add([candle(0), candle(1), candle(2)])
        await asyncio.wait_for(writer.flush(), 5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert writer.rejected == 2 and writer.recorded == 1 and store.batches == [[candle(2)]]
    assert "high=nan" in (writer.last_error or "")


async def test_the_trade_recorder_is_a_candle_sink(settings) -> None:  # type: ignore[no-untyped-def]
    init_store(settings)
    async with TradeRecorder(settings, flush_interval=0.05) as recorder:
        writer = CandleWriter(recorder, clock=ManualClock(), batch=3, interval=0.01)
        task = asyncio.create_task(writer.run())
        try:
            writer.add([candle(i) for i in range(7)])
            writer.add([candle(3)])                              # again: the store keeps one per record id
            await asyncio.wait_for(writer.flush(), 10)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await recorder.flush()
    with connect(settings, read_only=True) as lake:
        assert reader.candles(lake, "BTCUSDT", "1m") == [candle(i) for i in range(7)]
