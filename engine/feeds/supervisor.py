"""Keeps one planned connection alive for as long as the feed runs.

- Connect and subscribe; the connection counts as good once a market frame arrives, which resets
  the backoff. A failed attempt, or a connection that ends (dropped, silent past `ws_lag_seconds`,
  pong overdue), waits the next `Backoff` delay (1, 2, 4, 8, 16 s with jitter, then 60 s after 5
  consecutive failures) before the next attempt, so a flapping exchange never sees a reconnect storm.
- Every good connection (first or replacement) calls `on_connected`, which asks for a gap backfill.
- Rotation: at `rotate_after` (before Binance's 24 h cut) a second connection is opened; once it
  delivers, and the old one has delivered everything published before the new one's first frame,
  the old one is closed. Both feed the same router meanwhile and the sequencer drops the overlap,
  so nothing is missed and nothing needs a backfill. If the new one fails, the old keeps serving
  and rotation is retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from engine.core.backoff import Backoff
from engine.core.clock import Clock
from engine.feeds.connection import CONNECT_ERRORS, Connection
from engine.feeds.status import ConnectionStatus

log = logging.getLogger("engine.feeds.supervisor")
Sleep = Callable[[float], Awaitable[None]]


class Supervisor:
    def __init__(self, name: str, streams: int, factory: Callable[[], Connection], *, backoff: Backoff, clock: Clock,
                 lag: float, rotate_after: float, on_connected: Callable[[Connection], None],
                 sleep: Sleep | None = None) -> None:
        self.name = name
        self.streams = streams
        self.factory = factory
        self.backoff = backoff
        self.clock = clock
        self.lag = lag
        self.rotate_after = rotate_after
        self.on_connected = on_connected
        self.sleep = sleep or clock.sleep
        self.current: Connection | None = None
        self.connections = 0
        self.failed_attempts = 0
        self.rotations = 0
        self.watchdog_trips = 0
        self.pong_timeouts = 0
        self.last_error: str | None = None
        self._open: set[Connection] = set()         # open connections (two during a rotation)

    async def run(self) -> None:
        try:
            while True:
                connection = await self._connect()
                reason = await self._serve(connection)
                self._ended(connection, reason)
                delay = self.backoff.failure()
                log.warning("%s lost (%s); reconnecting in %.3g s", self.name, reason, delay)
                await self.sleep(delay)
        finally:
            self.current = None
            await asyncio.shield(asyncio.gather(*(c.close("feed stopped") for c in list(self._open))))

    # ---- connecting ------------------------------------------------------------------------------
    async def _connect(self) -> Connection:
        """A delivering connection, after as many backed-off attempts as it takes."""
        while True:
            connection = await self._attempt()
            if connection is not None:
                self.backoff.success()
                return connection
            delay = self.backoff.failure()
            log.warning("%s: connection attempt failed (%s); next attempt in %.3g s (%d consecutive failures%s)",
                        self.name, self.last_error, delay, self.backoff.failures,
                        ", long-delay mode" if self.backoff.long_delay_mode else "")
            await self.sleep(delay)

    async def _attempt(self, *, rotation: bool = False) -> Connection | None:
        connection = self.factory()
        try:
            await connection.open()
        except CONNECT_ERRORS as exc:
            self.failed_attempts += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            return None
        self._open.add(connection)
        connection.done.add_done_callback(lambda _: self._open.discard(connection))
        if not await connection.wait_delivering(self.lag):
            reason = connection.done.result() if connection.done.done() else f"no market data within {self.lag:g} s"
            await connection.close(reason)
            self._ended(connection, reason)
            self.failed_attempts += 1
            self.last_error = reason
            return None
        if not rotation:
            self.connections += 1
            log.info("%s connected (%d streams)%s", self.name, self.streams,
                     f", reconnect #{self.connections - 1}" if self.connections > 1 else "")
        self.current = connection
        self.on_connected(connection)
        return connection

    # ---- serving and rotating ----------------------------------------------------------------------
    async def _serve(self, connection: Connection) -> str:
        """Until the connection ends; rotations happen in here. Returns why it ended."""
        due = self.rotate_after
        while True:
            remaining = due - connection.age
            if remaining > 0:
                timer = asyncio.ensure_future(self.clock.sleep(remaining))
                try:
                    await asyncio.wait([connection.done, timer], return_when=asyncio.FIRST_COMPLETED)
                finally:
                    timer.cancel()
            if connection.done.done():
                self.current = None
                return connection.done.result()
            replacement = await self._attempt(rotation=True)
            if replacement is None:
                log.warning("%s: rotation attempt failed (%s); keeping the current connection", self.name,
                            self.last_error)
                self.current = connection
                due = connection.age + min(self.lag, 60.0)   # keep serving; try again soon
                continue
            await self._handover(connection, replacement)
            await connection.close("rotated")
            self.rotations += 1
            log.info("%s rotated after %.0f s", self.name, connection.age)
            connection, due = replacement, self.rotate_after

    async def _handover(self, old: Connection, new: Connection) -> None:
        """Wait until the old connection has delivered everything published before the new one's first
        frame (its latest event time reaches the new one's first), so closing it drops nothing."""
        assert old.socket is not None and new.socket is not None
        first = min(new.socket.event_times.values(), default=0)
        waited = 0.0
        while max(old.socket.event_times.values(), default=0) < first and not old.done.done() and waited < self.lag:
            await self.clock.sleep(0.005)
            waited += 0.005

    def _ended(self, connection: Connection, reason: str) -> None:
        self.last_error = reason
        if connection.watchdog_tripped:
            self.watchdog_trips += 1
        if connection.pong_overdue:
            self.pong_timeouts += 1

    def status(self) -> ConnectionStatus:
        c = self.current
        hb = c.heartbeat if c is not None else None
        last_message = None
        if c is not None and c.socket is not None and c.socket.frames:
            last_message = self.clock.now_ms() - round((self.clock.monotonic() - c.socket.last_frame) * 1000)
        return ConnectionStatus(
            name=self.name, streams=self.streams, connected=c is not None and not c.done.done(),
            connected_since=c.connected_since if c is not None else None, last_message_time=last_message,
            last_pong_time=hb.last_pong_time if hb else None, latency_ms=hb.latency_ms if hb else None,
            reconnects=max(0, self.connections - 1), consecutive_failures=self.backoff.failures,
            failed_attempts=self.failed_attempts, rotations=self.rotations, watchdog_trips=self.watchdog_trips,
            pong_timeouts=self.pong_timeouts, last_error=self.last_error)
