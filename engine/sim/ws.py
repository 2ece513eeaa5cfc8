"""Websocket endpoints (spec §6-7) on the REST port: `/ws/<stream>[/<stream>...]`, `/stream?streams=`,
the routed `/market/...`, `/public/...`, `/private/...` forms, and user data by listen key
(`/private/ws?listenKey=K`, legacy `/ws/K`). Control messages: SUBSCRIBE, UNSUBSCRIBE,
LIST_SUBSCRIPTIONS, SET_PROPERTY, GET_PROPERTY.

Liveness: the server pings every `ws_ping_interval` s and drops a client silent for
`ws_pong_timeout` s; it answers client pings (unless a fault withholds them) and closes connections
at `ws_max_age`. More than `ws_message_rate` incoming messages in a second closes the connection."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import struct
import time
from typing import Any

from aiohttp import WSMsgType, web

from engine.sim.streams import Connection, canonical
from engine.sim.venue import Venue

log = logging.getLogger("engine.sim.ws")
_HEADER1 = struct.Struct("!BB").pack
_HEADER2 = struct.Struct("!BBH").pack
_HEADER3 = struct.Struct("!BBQ").pack
WRITE_BATCH = 512
WRITE_HIGH_WATER = 1 << 20
PATH = re.compile(r"^/(?:(?P<family>market|public|private)/)?(?P<kind>ws|stream)(?:/(?P<rest>.*))?$")
PATHS = ("/ws", "/stream")
FAMILIES = ("", "/market", "/public", "/private")


def routes(venue: Venue) -> list[web.RouteDef]:
    async def handle(request: web.Request) -> web.StreamResponse:
        m = PATH.match(request.path)
        if m is None:
            raise web.HTTPNotFound()
        ws = web.WebSocketResponse(autoping=False, compress=False, max_msg_size=1 << 16)
        if not ws.can_prepare(request).ok:
            raise web.HTTPBadRequest(text="websocket upgrade expected")
        await ws.prepare(request)
        peer = request.remote or ""
        conn = venue.hub.add(ws, request.path, peer, combined=m["kind"] == "stream")
        conn.transport = request.transport
        names = [n for n in (m["rest"] or "").split("/") if n]
        if m["kind"] == "stream":
            names += [n for n in request.query.get("streams", "").split("/") if n]
        if "listenKey" in request.query:
            names.append(request.query["listenKey"])
        if "events" in request.query:
            conn.events = {e for e in request.query["events"].split("/") if e}
        for name in names:
            attach(conn, name, silent=True)
        venue.apply_connection_faults(conn)
        writer = asyncio.get_running_loop().create_task(write_loop(conn))
        pinger = asyncio.get_running_loop().create_task(ping_loop(conn))
        try:
            await read_loop(conn)
        finally:
            venue.hub.remove(conn)
            pinger.cancel()
            writer.cancel()
            await asyncio.gather(pinger, writer, return_exceptions=True)
            if not ws.closed:
                await ws.close()
        return ws

    def attach(conn: Connection, name: str, *, silent: bool) -> str | None:
        """Subscribe to a stream or a user stream; the error text if `name` is neither."""
        if venue.listen_keys.account_of(name) is not None:
            venue.hub.attach_user(conn, name)
            return None
        stream = canonical(name, venue.market.states, venue.market.intervals)
        if stream is None:
            return None if silent else f"Invalid request: unknown stream name '{name}'"
        if stream not in conn.streams and len(conn.streams) >= venue.options.ws_max_streams:
            return f"Invalid request: more than {venue.options.ws_max_streams} streams on one connection"
        venue.hub.subscribe(conn, stream)
        return None

    async def read_loop(conn: Connection) -> None:
        ws = conn.ws
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                now = time.monotonic()
                conn.incoming.append(now)
                while conn.incoming and now - conn.incoming[0] > 1.0:
                    conn.incoming.popleft()
                if len(conn.incoming) > venue.options.ws_message_rate:
                    venue.hub.kick(conn, f"more than {venue.options.ws_message_rate} incoming messages per second")
                    return
                control(conn, msg.data)
            elif msg.type == WSMsgType.PING:
                fault = venue.faults.connection_flag("ws_withhold_pongs", conn.path, tuple(conn.streams))
                if fault is not None and fault.take():
                    venue.faults.record(fault, f"pong withheld on connection {conn.id}")
                else:
                    await ws.pong(msg.data)
            elif msg.type == WSMsgType.PONG:
                conn.last_pong = time.monotonic()
            elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return

    def control(conn: Connection, text: str) -> None:
        try:
            request: Any = json.loads(text)
        except ValueError as exc:
            venue.hub.send(conn, {"code": 3, "msg": f"Invalid JSON: {exc}"})
            return
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            venue.hub.send(conn, {"code": 2, "msg": "Invalid request: method is missing", "id": _id(request)})
            return
        method, ident, params = request["method"].upper(), request.get("id"), request.get("params", [])
        if not isinstance(params, list):
            venue.hub.send(conn, {"code": 2, "msg": "Invalid request: params must be an array", "id": ident})
            return
        if method == "SUBSCRIBE":
            errors = [e for e in (attach(conn, str(p), silent=False) for p in params) if e]
            venue.apply_connection_faults(conn)
            reply: dict[str, Any] = {"code": 2, "msg": errors[0], "id": ident} if errors else {"result": None, "id": ident}
        elif method == "UNSUBSCRIBE":
            for name in params:
                stream = canonical(str(name), venue.market.states, venue.market.intervals)
                if stream is not None:
                    venue.hub.unsubscribe(conn, stream)
            reply = {"result": None, "id": ident}
        elif method == "LIST_SUBSCRIPTIONS":
            reply = {"result": sorted(conn.streams) + sorted(conn.listen_keys), "id": ident}
        elif method == "SET_PROPERTY" and len(params) == 2 and params[0] == "combined" and isinstance(params[1], bool):
            conn.combined = params[1]
            reply = {"result": None, "id": ident}
        elif method == "GET_PROPERTY" and params == ["combined"]:
            reply = {"result": conn.combined, "id": ident}
        else:
            reply = {"code": 2, "msg": "Invalid request: unknown variable", "id": ident}
        venue.hub.send(conn, reply)

    async def ping_loop(conn: Connection) -> None:
        opts = venue.options
        started = conn.last_pong = time.monotonic()
        next_ping = started + opts.ws_ping_interval
        tick = max(0.05, min(1.0, opts.ws_ping_interval / 4, opts.ws_pong_timeout / 4))
        while not conn.closing:
            await asyncio.sleep(tick)
            now = time.monotonic()
            if now - started >= opts.ws_max_age:
                venue.hub.kick(conn, f"connection older than {opts.ws_max_age:g} s")
                return
            if now - conn.last_pong > opts.ws_pong_timeout:
                venue.hub.kick(conn, f"no pong for {opts.ws_pong_timeout:g} s", abort=True)
                return
            if now >= next_ping:
                next_ping = now + opts.ws_ping_interval
                try:
                    await conn.ws.ping()
                except (ConnectionError, RuntimeError):
                    return

    return [web.get(family + path + tail, handle) for family in FAMILIES for path in PATHS
            for tail in ("", "/{tail:.*}")]


async def write_loop(conn: Connection) -> None:
    """Send the connection's queued frames. Data frames are written straight to its transport in
    batches: whatever is queued goes out in one write (one syscall, not one per frame), and above
    `WRITE_HIGH_WATER` buffered bytes the loop waits for the socket. Control frames (ping, pong,
    close) still go through aiohttp; every write is a whole frame, so they never interleave."""
    ws = conn.ws
    try:
        while not conn.closing:
            await conn.wake.wait()
            conn.wake.clear()
            transport = conn.transport
            while conn.queue and not conn.closing:
                if transport is None or transport.is_closing():
                    await ws.send_frame(conn.queue.popleft(), WSMsgType.TEXT)
                    conn.sent += 1
                    continue
                count = min(len(conn.queue), WRITE_BATCH)
                transport.write(b"".join([text_frame(conn.queue.popleft()) for _ in range(count)]))
                conn.sent += count
                while transport.get_write_buffer_size() > WRITE_HIGH_WATER and not transport.is_closing():
                    await asyncio.sleep(0.002)
                await asyncio.sleep(0)
    except (ConnectionError, RuntimeError) as exc:
        log.debug("connection %s writer stopped: %s", conn.id, exc)


def text_frame(payload: bytes) -> bytes:
    """One unmasked, uncompressed, final websocket text frame (RFC 6455 section 5.2), as a server sends it."""
    size = len(payload)
    if size < 126:
        return _HEADER1(0x81, size) + payload
    if size < 65536:
        return _HEADER2(0x81, 126, size) + payload
    return _HEADER3(0x81, 127, size) + payload


def _id(request: Any) -> Any:
    return request.get("id") if isinstance(request, dict) else None
