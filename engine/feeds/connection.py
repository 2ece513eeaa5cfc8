"""One websocket session of the feed: connect, subscribe, hand every frame to the router, beat the
heart, watch for silence. `done` resolves with the reason the session ended; the supervisor then
replaces it.

`FeedSocket` is a `websockets` client connection whose data frames go straight from the protocol
parser to the router, inside `data_received`, instead of through the per-message queue that
`recv()` reads: no future and no task switch per message (~25 % of the receive cost at 200,000
messages/s). The router never raises and never blocks, so the event loop stays responsive; TCP
flow control is unchanged (we simply keep up).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.frames import Frame, Opcode

from engine.core.aio import within
from engine.core.clock import Clock
from engine.core.errors import ExchangeError
from engine.feeds.heartbeat import Heartbeat
from engine.feeds.options import FeedOptions
from engine.feeds.parse import parse_control
from engine.feeds.streams import ConnectionPlan

log = logging.getLogger("engine.feeds.connection")
FrameHandler = Callable[["FeedSocket", Any], None]
_DATA = (Opcode.TEXT, Opcode.BINARY)
CONNECT_ERRORS = (OSError, TimeoutError, WebSocketException, ExchangeError)


class SubscriptionRejected(ExchangeError):
    """The exchange answered SUBSCRIBE with an error (unknown stream, too many streams, ...)."""


class FeedSocket(ClientConnection):
    """Data frames go to `handler(socket, payload)` as soon as they are parsed (see module doc)."""

    def __init__(self, protocol: Any, *, handler: FrameHandler, clock: Clock, **kwargs: Any) -> None:
        super().__init__(protocol, **kwargs)
        self.handler = handler
        self._now_ms = clock.now_ms
        self._monotonic = clock.monotonic
        self.received_ms = 0                  # when the current chunk arrived (stamps its frames)
        self.frames = 0
        self.last_frame = clock.monotonic()
        self.event_times: dict[str, int] = {}  # stream -> latest event time on this connection
        self.delivering = False                # a market frame has arrived
        self.on_delivering: Callable[[], None] | None = None
        self.replies: dict[int, asyncio.Future[Any]] = {}
        self._parts: list[bytes] | None = None

    def data_received(self, data: bytes) -> None:
        self.received_ms = self._now_ms()
        before = self.frames
        super().data_received(data)
        if self.frames != before:
            self.last_frame = self._monotonic()

    def process_event(self, event: Any) -> None:
        if type(event) is Frame:
            opcode = event.opcode
            if opcode in _DATA:
                if event.fin:
                    self.frames += 1
                    self.handler(self, event.data)
                else:
                    self._parts = [event.data]
                return
            if opcode is Opcode.CONT and self._parts is not None:
                self._parts.append(event.data)
                if event.fin:
                    data, self._parts = b"".join(self._parts), None
                    self.frames += 1
                    self.handler(self, data)
                return
        super().process_event(event)

    def mark_delivering(self) -> None:
        self.delivering = True
        if self.on_delivering is not None:
            self.on_delivering()

    def control(self, frame: Any) -> bool:
        """Resolve a pending SUBSCRIBE if `frame` is its reply; False if it is no control reply."""
        reply = parse_control(frame)
        if reply is None:
            return False
        waiter = self.replies.pop(reply.id, None) if reply.id is not None else None
        if waiter is not None and not waiter.done():
            waiter.set_result(reply)
        elif reply.code is not None:
            log.warning("exchange error on the market stream: %s %s", reply.code, reply.msg)
        return True


class Connection:
    def __init__(self, plan: ConnectionPlan, ws_root: str, options: FeedOptions, clock: Clock,
                 handler: FrameHandler) -> None:
        self.plan = plan
        self.name = plan.name
        self.options = options
        self.clock = clock
        self.handler = handler
        self.url = plan.url(ws_root, routed=options.routed, streams_in_url=options.subscribe == "url")
        self.socket: FeedSocket | None = None
        self.heartbeat: Heartbeat | None = None
        self.opened_at = 0.0                    # monotonic
        self.connected_since: int | None = None
        self.done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.delivering = asyncio.Event()
        self.watchdog_tripped = False
        self.pong_overdue = False
        self._tasks: list[asyncio.Task[str]] = []
        self._closer: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"Connection({self.name}, {len(self.plan.streams)} streams)"

    # ---- life cycle ------------------------------------------------------------------------------
    async def open(self) -> None:
        """Connect and subscribe; raises one of CONNECT_ERRORS on failure (the socket is closed)."""
        o = self.options

        def make_socket(protocol: Any, **kwargs: Any) -> FeedSocket:
            return FeedSocket(protocol, handler=self.handler, clock=self.clock, **kwargs)

        try:
            self.socket = await within(connect(
                self.url, compression=None, open_timeout=o.open_timeout, ping_interval=None, ping_timeout=None,
                close_timeout=o.close_timeout, max_size=o.max_size, max_queue=o.max_queue,
                write_limit=o.write_limit, create_connection=make_socket,  # type: ignore[arg-type]  # a factory
                user_agent_header="SelfLearningTrader"), o.open_timeout + 1)
        except TimeoutError:
            raise TimeoutError(f"no websocket handshake within {o.open_timeout:g} s") from None
        self.socket.on_delivering = self.delivering.set
        try:
            if o.subscribe == "message":
                await self._subscribe()
        except BaseException:
            await self._close_socket()
            raise
        self.opened_at = self.clock.monotonic()
        self.connected_since = self.clock.now_ms()
        self.heartbeat = Heartbeat(self.socket, self.name, interval=o.ping_interval, timeout=o.ping_timeout,
                                   clock=self.clock, log_every=o.heartbeat_log_every)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._beat(), name=f"feed-{self.name}-heartbeat"),
                       loop.create_task(self._watch(), name=f"feed-{self.name}-watchdog"),
                       loop.create_task(self._closed(), name=f"feed-{self.name}-closed")]
        for task in self._tasks:
            task.add_done_callback(self._task_ended)

    async def wait_delivering(self, timeout: float) -> bool:
        """True once a market frame has arrived; False if none within `timeout` s or it ended."""
        waiter = asyncio.ensure_future(self.delivering.wait())
        try:
            await asyncio.wait([waiter, self.done], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        return self.delivering.is_set() and not self.done.done()

    async def close(self, reason: str) -> None:
        self._finish(reason)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._close_socket()

    @property
    def age(self) -> float:
        return self.clock.monotonic() - self.opened_at

    # ---- internals -------------------------------------------------------------------------------
    async def _subscribe(self) -> None:
        socket = self.socket
        assert socket is not None
        loop = asyncio.get_running_loop()
        for n, message in enumerate(self.plan.subscribe_messages(self.options.subscribe_batch)):
            if n:
                await self.clock.sleep(self.options.subscribe_pause)
            waiter = socket.replies[n + 1] = loop.create_future()
            await socket.send(message)
            try:
                reply = await within(waiter, self.options.open_timeout)
            except TimeoutError:
                raise TimeoutError(f"no answer to SUBSCRIBE within {self.options.open_timeout:g} s") from None
            if reply.code is not None:
                raise SubscriptionRejected(f"{self.name}: SUBSCRIBE refused: {reply.code} {reply.msg}")

    async def _beat(self) -> str:
        assert self.heartbeat is not None
        try:
            reason = await self.heartbeat.run()
        except ConnectionClosed:
            return "closed"
        self.pong_overdue = True
        return reason

    async def _watch(self) -> str:
        socket = self.socket
        assert socket is not None
        lag = self.options.ws_lag_seconds
        tick = max(0.01, min(1.0, lag / 4))
        while True:
            await self.clock.sleep(tick)
            silent = self.clock.monotonic() - socket.last_frame
            if silent > lag:
                self.watchdog_tripped = True
                log.warning("%s: no market data for %.3g s (ws_lag_seconds %.3g); replacing the connection",
                            self.name, silent, lag)
                return f"no market data for {silent:.3g} s"

    async def _closed(self) -> str:
        socket = self.socket
        assert socket is not None
        await socket.wait_closed()
        code = socket.close_code
        if code is None or code == 1006:          # no close frame: the TCP connection went away
            return "connection lost"
        reason = f" {socket.close_reason}" if socket.close_reason else ""
        return f"closed by the exchange ({code}{reason})"

    def _task_ended(self, task: asyncio.Task[str]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        self._finish(task.result() if error is None else f"{type(error).__name__}: {error}")
        if self._closer is None:
            self._closer = asyncio.get_running_loop().create_task(self.close(self.done.result()))

    def _finish(self, reason: str) -> None:
        if not self.done.done():
            self.done.set_result(reason)

    async def _close_socket(self) -> None:
        socket = self.socket
        if socket is None:
            return
        socket.on_delivering = None
        with contextlib.suppress(Exception):
            await socket.close()
