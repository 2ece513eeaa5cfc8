"""Our own websocket heartbeat, instead of the `websockets` built-in keepalive, so that pings,
pongs and latency are state we can read, log and test.

Every `interval` seconds it sends a ping and waits up to `timeout` seconds for the pong; each pong
records its time and the round trip. An overdue pong ends the heartbeat with a reason, and the
connection is replaced. Logged with the 💓 marker: every beat at DEBUG, a summary every
`log_every` beats at INFO, a missed pong at WARNING.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from engine.core.aio import within
from engine.core.clock import Clock

log = logging.getLogger("engine.feeds.heartbeat")


class Pingable(Protocol):
    async def ping(self) -> asyncio.Future[float]: ...


class Heartbeat:
    def __init__(self, ws: Pingable, name: str, *, interval: float, timeout: float, clock: Clock,
                 log_every: int = 60) -> None:
        self.ws = ws
        self.name = name
        self.interval = interval
        self.timeout = timeout
        self.clock = clock
        self.log_every = log_every
        self.pings = 0
        self.pongs = 0
        self.last_pong_time: int | None = None      # ms on the clock
        self.latency_ms: float | None = None
        self._window: list[float] = []

    async def run(self) -> str:
        """Beat until a pong is overdue; returns why (the connection's closing reason)."""
        while True:
            await self.clock.sleep(self.interval)
            self.pings += 1
            started = self.clock.monotonic()
            try:        # the timeout covers sending too: a ping stuck behind a full send buffer is overdue
                latency = await within(self._round_trip(), self.timeout)
            except TimeoutError:
                waited = self.clock.monotonic() - started
                log.warning("💓 %s: no pong within %.3g s (ping_timeout %.3g s); replacing the connection",
                            self.name, waited, self.timeout)
                return f"no pong within {self.timeout:g} s"
            self.pongs += 1
            self.last_pong_time = self.clock.now_ms()
            self.latency_ms = latency * 1000
            self._window.append(self.latency_ms)
            log.debug("💓 %s pong in %.2f ms", self.name, self.latency_ms)
            if len(self._window) >= self.log_every:
                window, self._window = self._window, []
                log.info("💓 %s alive: %d pongs, latency %.2f / %.2f / %.2f ms (min / mean / max)", self.name,
                         self.pongs, min(window), sum(window) / len(window), max(window))

    async def _round_trip(self) -> float:
        pong = await self.ws.ping()
        return await pong
