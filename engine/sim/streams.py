"""Websocket fan-out: stream names, subscriptions and one bounded outgoing queue per connection.

A payload is encoded once per stream (raw and, lazily, combined `{"stream":..,"data":..}`) and
appended to each subscriber's queue; each connection has its own writer task (`ws.write_loop`), so
a slow reader never blocks the replay or other clients. A queue longer than `max_queue` frames means the client
fell behind: it is disconnected with a logged reason and can backfill over REST."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger("engine.sim.streams")
_encode = msgspec.json.Encoder().encode
_SYMBOL_STREAM = re.compile(r"^(?P<symbol>[a-z0-9]+)@(?P<channel>.+)$")
CHANNELS = {"aggtrade": "aggTrade", "trade": "trade", "bookticker": "bookTicker", "markprice": "markPrice",
            "markprice@1s": "markPrice@1s", "ticker": "ticker", "miniticker": "miniTicker"}
ALL_STREAMS = {"!markprice@arr": "!markPrice@arr", "!markprice@arr@1s": "!markPrice@arr@1s",
               "!bookticker": "!bookTicker"}


def canonical(name: str, symbols: Iterable[str], intervals: Iterable[str]) -> str | None:
    """The stream's canonical name (`btcusdt@markPrice@1s`), or None if the simulator has no such stream."""
    lowered = name.strip().lower()
    if lowered in ALL_STREAMS:
        return ALL_STREAMS[lowered]
    m = _SYMBOL_STREAM.match(lowered)
    if not m or m["symbol"].upper() not in set(symbols):
        return None
    channel = m["channel"]
    if channel.startswith("kline_"):
        interval = name.strip().split("kline_", 1)[1] if "kline_" in name else channel[6:]
        return f"{m['symbol']}@kline_{interval}" if interval in set(intervals) else None
    if channel in CHANNELS:
        return f"{m['symbol']}@{CHANNELS[channel]}"
    return None


class Connection:
    """One websocket client: its subscriptions, framing and outgoing queue."""

    _ids = 0

    def __init__(self, ws: web.WebSocketResponse, path: str, peer: str, *, combined: bool, max_queue: int,
                 on_overflow: Callable[[Connection, str, bool], None]) -> None:
        Connection._ids += 1
        self.id = Connection._ids
        self.ws = ws
        self.path = path
        self.peer = peer
        self.combined = combined
        self.streams: set[str] = set()
        self.listen_keys: set[str] = set()
        self.events: set[str] | None = None          # user-event allow-list (private ?events=)
        self.queue: deque[bytes] = deque()
        self.max_queue = max_queue
        self.wake = asyncio.Event()
        self.stalled = False                         # fault: frames are dropped, socket stays open
        self.withhold_pongs = False                  # fault: client pings go unanswered
        self.closing = False
        self.sent = 0
        self.stall_dropped = 0
        self.last_pong = 0.0
        self.incoming: deque[float] = deque()
        self.transport: asyncio.BaseTransport | None = None
        self._on_overflow = on_overflow

    def push(self, frame: bytes) -> None:
        if self.closing:
            return
        if self.stalled:
            self.stall_dropped += 1
            return
        self.queue.append(frame)
        if len(self.queue) > self.max_queue:
            self._on_overflow(self, f"fell behind: {len(self.queue)} frames queued (limit {self.max_queue})", True)
            return
        self.wake.set()


class Hub:
    def __init__(self, max_queue: int = 20_000,
                 before_frame: Callable[[str, Any], list[tuple[str, bytes]]] | None = None) -> None:
        """`before_frame(stream, payload)`: extra (malformed) frames to send first (the fault hook)."""
        self.max_queue = max_queue
        self.connections: set[Connection] = set()
        self.subs: dict[str, set[Connection]] = {}
        self.users: dict[str, set[Connection]] = {}     # listen key -> connections
        self.before_frame = before_frame
        self.kicked: deque[tuple[int, str]] = deque(maxlen=1000)

    def add(self, ws: web.WebSocketResponse, path: str, peer: str, combined: bool) -> Connection:
        conn = Connection(ws, path, peer, combined=combined, max_queue=self.max_queue, on_overflow=self.kick)
        self.connections.add(conn)
        return conn

    def remove(self, conn: Connection) -> None:
        conn.closing = True
        conn.wake.set()
        self.connections.discard(conn)
        for stream in list(conn.streams):
            self.unsubscribe(conn, stream)
        for key in list(conn.listen_keys):
            self.users.get(key, set()).discard(conn)

    def subscribe(self, conn: Connection, stream: str) -> None:
        conn.streams.add(stream)
        self.subs.setdefault(stream, set()).add(conn)

    def unsubscribe(self, conn: Connection, stream: str) -> None:
        conn.streams.discard(stream)
        subs = self.subs.get(stream)
        if subs is not None:
            subs.discard(conn)
            if not subs:
                del self.subs[stream]

    def attach_user(self, conn: Connection, listen_key: str) -> None:
        conn.listen_keys.add(listen_key)
        self.users.setdefault(listen_key, set()).add(conn)

    def wants(self, stream: str) -> bool:
        return stream in self.subs

    def publish(self, stream: str, payload: Any) -> None:
        conns = self.subs.get(stream)
        if not conns:
            return
        raw = _encode(payload)
        extra = self.before_frame(stream, payload) if self.before_frame is not None else None
        combined: bytes | None = None
        for conn in tuple(conns):
            if conn.combined:
                if combined is None:
                    combined = b'{"stream":"' + stream.encode() + b'","data":' + raw + b"}"
                for name, bad in extra or ():
                    conn.push(b'{"stream":"' + name.encode() + b'","data":' + bad + b"}")
                conn.push(combined)
            else:
                for _, bad in extra or ():
                    conn.push(bad)
                conn.push(raw)

    def publish_user(self, listen_key: str, event: str, payload: Any) -> None:
        conns = self.users.get(listen_key)
        if not conns:
            return
        raw = _encode(payload)
        for conn in tuple(conns):
            if conn.events is not None and event not in conn.events:
                continue
            conn.push(b'{"stream":"' + listen_key.encode() + b'","data":' + raw + b"}" if conn.combined else raw)

    def send(self, conn: Connection, payload: Any) -> None:
        """A reply to one client (control-message results), in order with its data frames."""
        conn.push(_encode(payload))

    def backlog(self) -> int:
        return max((len(c.queue) for c in self.connections), default=0)

    def kick(self, conn: Connection, reason: str, abort: bool = False) -> None:
        """Disconnect with a logged reason. `abort` drops the TCP connection at once: for a client
        that does not read (it would never read a close frame either)."""
        if conn.closing:
            return
        log.warning("closing websocket %s (%s): %s", conn.id, conn.path, reason)
        self.kicked.append((conn.id, reason))
        conn.queue.clear()
        self.remove(conn)
        if abort and conn.transport is not None:
            conn.transport.abort()
        else:
            asyncio.get_running_loop().create_task(conn.ws.close(code=1008, message=reason[:120].encode()))

    def drop(self, conn: Connection, mode: str) -> None:
        """Disconnect without a reason: `abort` cuts the TCP connection, otherwise a 1001 close."""
        self.remove(conn)
        if mode == "abort" and conn.transport is not None:
            conn.transport.abort()
        else:
            asyncio.get_running_loop().create_task(conn.ws.close(code=1001, message=b"going away"))
