"""Injected time. Trading logic reads a `Clock`, never the wall clock directly, so the same code runs
live, against the simulator at any replay speed, and in tests without real sleeps."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol


def wall_ms() -> int:
    """Our own wall-clock time in ms (receive and record times: a fact about us, not trading time)."""
    return time.time_ns() // 1_000_000


def iso_utc(value: int | datetime) -> str:
    """Epoch ms or a datetime as ISO-8601 UTC: 2025-05-06T01:30:00Z (milliseconds only when not zero).
    A naive datetime is taken as UTC (DuckDB's TIMESTAMP, e.g. `epoch_ms(event_time)`). The one way
    every message, table and report of the system prints a moment."""
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    else:
        moment = datetime.fromtimestamp(value / 1000, tz=UTC)
    text = moment.isoformat(timespec="milliseconds" if moment.microsecond // 1000 else "seconds")
    return text.replace("+00:00", "Z")


class Clock(Protocol):
    def now_ms(self) -> int:
        """Current time in milliseconds since the Unix epoch (UTC)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for timeouts and intervals)."""
        ...

    async def sleep(self, seconds: float) -> None:
        ...


class SystemClock:
    """The real clock, optionally shifted by a measured offset to the exchange's clock."""

    def __init__(self, offset_ms: int = 0) -> None:
        self.offset_ms = offset_ms

    def now_ms(self) -> int:
        return wall_ms() + self.offset_ms

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that moves only when told (tests, replay). `sleep` advances it instead of waiting."""

    def __init__(self, start_ms: int = 0) -> None:
        self._now_ms = start_ms
        self.sleeps: list[float] = []

    def now_ms(self) -> int:
        return self._now_ms

    def monotonic(self) -> float:
        return self._now_ms / 1000.0

    def advance(self, seconds: float) -> None:
        self._now_ms += round(seconds * 1000)

    def set_ms(self, now_ms: int) -> None:
        self._now_ms = now_ms

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)


class ExchangeClock:
    """Trading time = the latest event time seen from the exchange (candles, marks, order events).

    `now_ms()` never goes backwards and never runs ahead of what the exchange has said, so the
    engine is on the simulator's replay time or on Binance's time alike, at any replay speed.
    `monotonic()` and `sleep()` are real time: they pace connections and retries, not trading."""

    def __init__(self, start_ms: int = 0) -> None:
        self._now_ms = start_ms

    def observe(self, event_time_ms: int) -> None:
        self._now_ms = max(self._now_ms, event_time_ms)

    def now_ms(self) -> int:
        return self._now_ms

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
