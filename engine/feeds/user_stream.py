"""The account's user-data stream: order, fill and account events as they happen, with REST
polling whenever the stream cannot be trusted, so the engine's state converges either way.

    stream = UserStream(venue, ws_url, account="main", handle=manager.on_user_event, poll=manager.poll)
    task = asyncio.create_task(stream.run())      # until stream.stop()

- Listen key: asked for (`POST /fapi/v1/listenKey`) before each connection, kept alive every
  `keepalive_s` (30 min; Binance drops a key after 60 min without a PUT). `listenKeyExpired`, or a
  keepalive answered "no such key", gets a new key and a new connection.
- Reconnects with `engine.core.backoff.Backoff` (capped, jittered); websocket pings detect a dead
  socket (an open socket that only stays quiet is normal: nothing happened on the account).
- Polling: `poll(reason)` is awaited once after every (re)connect (what happened while we were
  away), every `poll_interval_s` while disconnected, and after `idle_poll_s` without a frame
  while connected. The poller asks for open orders, orders by client id and fills since the last
  one seen; events from stream and poll carry record ids, so seeing one twice changes nothing.
- Bad frames are counted and logged, never fatal; so are exceptions raised by `handle`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import websockets
from websockets.asyncio.client import connect

from engine.core.aio import within
from engine.core.backoff import Backoff
from engine.core.clock import Clock, SystemClock, wall_ms
from engine.core.errors import AuthenticationFailed, ExchangeError
from engine.feeds.user_parse import (
    StreamExpired,
    UserEvent,
    UserFrameError,
    parse_user_frame,
)

log = logging.getLogger("engine.feeds.user")


class ListenKeyPort(Protocol):
    async def create_listen_key(self) -> str: ...

    async def keepalive_listen_key(self) -> None: ...

    async def close_listen_key(self) -> None: ...


@dataclass(frozen=True)
class UserStreamOptions:
    keepalive_s: float = 1800.0
    poll_interval_s: float = 5.0
    idle_poll_s: float = 60.0
    ping_interval_s: float = 20.0
    open_timeout_s: float = 10.0


@dataclass
class UserStreamStats:
    frames: int = 0
    events: int = 0
    ignored: int = 0
    bad_frames: int = 0
    handler_errors: int = 0
    connects: int = 0
    keys_created: int = 0
    keepalives: int = 0
    polls: int = 0
    poll_failures: int = 0
    last_error: str | None = None
    bad_by_event: dict[str, int] = field(default_factory=dict)



class UserStream:
    def __init__(self, keys: ListenKeyPort, ws_url: str, *, account: str, handle: Callable[[UserEvent], None],
                 poll: Callable[[str], Awaitable[None]], options: UserStreamOptions | None = None,
                 clock: Clock | None = None, backoff: Backoff | None = None) -> None:
        self.keys = keys
        self.ws_url = ws_url.rstrip("/")
        self.account = account
        self.handle = handle
        self.poll = poll
        self.options = options or UserStreamOptions()
        self.clock = clock or SystemClock()
        self.backoff = backoff or Backoff(base=0.5, cap=30.0)
        self.stats = UserStreamStats()
        self.connected = asyncio.Event()
        self._stopping = asyncio.Event()
        self._poll_now = asyncio.Event()
        self._ws: websockets.ClientConnection | None = None
        self._renew_key = True
        self._last_frame = self._last_poll = self.clock.monotonic()

    # ---- life cycle ------------------------------------------------------------------------------
    async def run(self) -> None:
        """Connect, keep alive, poll; returns after `stop()`."""
        tasks = [asyncio.create_task(self._connections(), name="user-stream"),
                 asyncio.create_task(self._keepalive(), name="user-stream-keepalive"),
                 asyncio.create_task(self._polling(), name="user-stream-poll")]
        try:
            await self._stopping.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.connected.clear()

    async def stop(self, close_key: bool = True) -> None:
        self._stopping.set()
        ws = self._ws
        if ws is not None:
            await ws.close()
        if close_key:
            try:
                await within(self.keys.close_listen_key(), 5.0)
            except (ExchangeError, TimeoutError) as exc:
                log.info("listen key close failed (%s); it lapses on its own", exc)

    # ---- the socket ------------------------------------------------------------------------------
    async def _connections(self) -> None:
        while not self._stopping.is_set():
            failed = False
            try:
                # POST returns the active key extended, or a new one: a lapsed key would connect silently
                key = await self.keys.create_listen_key()
                self.stats.keys_created += 1
                self._renew_key = False
                async with connect(f"{self.ws_url}/ws/{key}", proxy=None, compression=None,
                                   open_timeout=self.options.open_timeout_s,
                                   ping_interval=self.options.ping_interval_s,
                                   ping_timeout=self.options.ping_interval_s, max_size=1 << 20) as ws:
                    self._ws = ws
                    self.stats.connects += 1
                    self.connected.set()
                    self.backoff.success()
                    self._last_frame = self.clock.monotonic()
                    self._poll_now.set()  # catch up on what happened while we were not listening
                    log.info("user stream of %s connected (connection %d)", self.account, self.stats.connects)
                    async for frame in ws:
                        if self._on_frame(frame):
                            break
            except asyncio.CancelledError:
                raise
            except (OSError, TimeoutError, websockets.WebSocketException, ExchangeError) as exc:
                failed = True
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                if isinstance(exc, AuthenticationFailed):
                    self._renew_key = True
                log.warning("user stream of %s: %s", self.account, self.stats.last_error)
            finally:
                self._ws = None
                self.connected.clear()
            if self._stopping.is_set():
                return
            delay = 0.1 if self._renew_key and not failed else self.backoff.failure()  # an expired key: at once
            log.info("user stream of %s reconnecting in %.2f s", self.account, delay)
            await self._sleep(delay)

    def _on_frame(self, frame: str | bytes) -> bool:
        """Handle one frame; True when the connection must be replaced (listen key expired)."""
        self.stats.frames += 1
        self._last_frame = self.clock.monotonic()
        try:
            event = parse_user_frame(frame, self.account, wall_ms())
        except UserFrameError as exc:
            self.stats.bad_frames += 1
            self.stats.bad_by_event[exc.event] = self.stats.bad_by_event.get(exc.event, 0) + 1
            log.warning("user stream of %s: %s (ignored; REST polling repairs state)", self.account, exc)
            self._poll_now.set()
            return False
        if event is None:
            self.stats.ignored += 1
            return False
        if isinstance(event, StreamExpired):
            log.warning("user stream of %s: listen key expired; creating a new one", self.account)
            self._renew_key = True
            self._poll_now.set()
            return True
        self.stats.events += 1
        try:
            self.handle(event)
        except Exception:
            self.stats.handler_errors += 1
            log.exception("user stream of %s: handling %s failed", self.account, type(event).__name__)
        return False

    # ---- keepalive and polling ------------------------------------------------------------------
    async def _keepalive(self) -> None:
        while not self._stopping.is_set():
            await self._sleep(self.options.keepalive_s)
            if self._stopping.is_set():
                return
            try:
                await self.keys.keepalive_listen_key()
                self.stats.keepalives += 1
            except AuthenticationFailed as exc:  # -1125: the key is gone
                log.warning("user stream of %s: keepalive refused (%s); renewing the key", self.account, exc)
                self._renew_key = True
                ws = self._ws
                if ws is not None:
                    await ws.close()
            except ExchangeError as exc:
                log.warning("user stream of %s: keepalive failed (%s); retrying at the next round", self.account, exc)

    async def _polling(self) -> None:
        while not self._stopping.is_set():
            reason = await self._next_poll()
            if reason is None:
                return
            self.stats.polls += 1
            self._last_poll = self.clock.monotonic()
            try:
                await self.poll(reason)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a failed poll is retried at the next one
                self.stats.poll_failures += 1
                self.stats.last_error = f"poll: {type(exc).__name__}: {exc}"
                log.warning("user stream of %s: REST poll (%s) failed: %s", self.account, reason, exc)

    async def _next_poll(self) -> str | None:
        """Wait until a poll is due; the reason, or None when stopping."""
        while not self._stopping.is_set():
            if self._poll_now.is_set():
                self._poll_now.clear()
                return "requested"
            now = self.clock.monotonic()
            if self.connected.is_set():
                due, reason = max(self._last_frame, self._last_poll) + self.options.idle_poll_s, "stream silent"
            else:
                due, reason = self._last_poll + self.options.poll_interval_s, "stream disconnected"
            if now >= due:
                return reason
            try:
                await within(self._poll_now.wait(), min(due - now, 0.5))
            except TimeoutError:
                pass
        return None

    async def _sleep(self, seconds: float) -> None:
        try:
            await within(self._stopping.wait(), max(0.0, seconds))
        except TimeoutError:
            pass
