"""Closed candles to the store, in batches.

The sink is anything with `record(*candles) -> awaitable` that resolves once the candles are durable:
the trade recorder (`engine.store.recorder.TradeRecorder`) is one; it journals them with fsync and
moves them into the DuckLake store in the background, idempotently by `record_id`, so a candle
written twice is stored once. `CandleWriter` collects emitted candles and records up to `batch` of
them at a time, at least every `interval` seconds; a failed batch is kept, in order, and retried,
so nothing emitted is lost while the process lives. A batch the store refuses as bad data
(`DataError`, which retrying cannot fix) is logged and counted as rejected.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable
from typing import Any, Protocol

from engine.core.aio import within
from engine.core.clock import Clock
from engine.core.errors import DataError
from engine.core.types import Candle

log = logging.getLogger("engine.feeds.sink")


class CandleSink(Protocol):
    def record(self, *records: Candle) -> Awaitable[Any]: ...


class CandleWriter:
    def __init__(self, sink: CandleSink, *, clock: Clock, batch: int = 500, interval: float = 1.0,
                 retry: float = 1.0) -> None:
        self.sink = sink
        self.clock = clock
        self.batch = batch
        self.interval = interval
        self.retry = retry
        self.recorded = 0
        self.rejected = 0
        self.failures = 0
        self.last_error: str | None = None
        self._pending: deque[Candle] = deque()
        self._in_flight = 0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def unrecorded(self) -> int:
        return len(self._pending) + self._in_flight

    def add(self, candles: list[Candle]) -> None:
        self._pending.extend(candles)
        self._idle.clear()
        if len(self._pending) >= self.batch:
            self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await within(self._wake.wait(), self.interval)
            except TimeoutError:
                pass
            self._wake.clear()
            while self._pending:
                if not await self._write_batch():
                    await self.clock.sleep(self.retry)
            self._idle.set()

    async def flush(self) -> None:
        """Wait until everything added so far is durable (needs `run` to be running)."""
        if self._pending or self._in_flight:
            self._wake.set()
            await self._idle.wait()

    async def _write_batch(self) -> bool:
        take = min(self.batch, len(self._pending))
        batch = [self._pending.popleft() for _ in range(take)]
        self._in_flight = take
        try:
            await self.sink.record(*batch)
        except asyncio.CancelledError:
            self._pending.extendleft(reversed(batch))
            raise
        except DataError as exc:
            self.rejected += take
            self.last_error = str(exc)
            log.error("the store refused %d candles (%s .. %s): %s", take, batch[0].record_id, batch[-1].record_id, exc)
            return True
        except Exception as exc:  # noqa: BLE001 - store unavailable, journal trouble: keep and retry
            self._pending.extendleft(reversed(batch))
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("recording %d candles failed (%s); retrying in %.3g s", take, self.last_error, self.retry)
            return False
        finally:
            self._in_flight = 0
        self.recorded += take
        return True
