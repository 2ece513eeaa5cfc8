"""The small in-process stand-ins the runtime's start and stop expect from the outside world: the
market feed (the driver hands events to the trader itself), the user-data stream (connected at once;
the driver delivers events), and a recorder that keeps every record in memory, in order, for the
report, the store writer and the parity test."""

from __future__ import annotations

import asyncio
from typing import Any

from engine.execution.ports import Recordable


class InProcessFeed:
    """Started and stopped by the runtime; the driver delivers candles and marks directly."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[Any] = asyncio.Queue()
        self.started = False

    async def start(self) -> None:
        self.started = True

    async def stop(self, flush_timeout: float = 30.0) -> None:
        self.started = False


class InProcessStream:
    """A user-data stream that is connected from the start and runs until stopped."""

    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self.connected.set()
        self._stopped = asyncio.Event()

    async def run(self) -> None:
        await self._stopped.wait()

    async def stop(self) -> None:
        self._stopped.set()


class MemoryRecorder:
    """The records the engine journals, in order (nothing is durable: a backtest is re-run, not
    resumed). `keep`: only these types are held (the rest are counted), so a long run does not hold
    every candle, order update and snapshot; None keeps everything (the tests compare them)."""

    def __init__(self, keep: tuple[type, ...] | None = None) -> None:
        self.records: list[Recordable] = []
        self.keep = keep
        self.counts: dict[str, int] = {}

    def record(self, *records: Recordable) -> None:
        if self.keep is None:
            self.records.extend(records)
            return
        for record in records:
            if isinstance(record, self.keep):
                self.records.append(record)
            else:
                name = type(record).__name__
                self.counts[name] = self.counts.get(name, 0) + 1

    def record_now(self, *records: Recordable) -> int:
        self.record(*records)
        return len(records)

    async def flush(self) -> None:
        return None

    def of(self, kind: type) -> list[Any]:
        return [r for r in self.records if isinstance(r, kind)]
