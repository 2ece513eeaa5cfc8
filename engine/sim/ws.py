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
import time
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from engine.sim.streams import Connection, canonical

if TYPE_CHECKING:
    from engine.sim.server import Simulator

log = logging.getLogger("engine.sim.ws")
PATH = re.compile(r"^/(?:(?P<family>market|public|private)/)?(?P<kind>ws|stream)(?:/(?P<rest>.*))?$")
PATHS = ("/ws", "/stream")
FAMILIES = ("", "/market", "/public", "/private")


def routes(sim: Simulator) -> list[web.RouteDef]:
    async def handle(request: web.Request) -> web.StreamResponse:
        m = PATH.match(request.path)
        if m is None:
            raise web.HTTPNotFound()
        ws = web.WebSocketResponse(autoping=False, compress=False, max_msg_size=1 << 16)
        if not ws.can_prepare(request).ok:
            raise web.HTTPBadRequest(text="websocket upgrade expected")
        await ws.prepare(request)
        peer = request.remote or ""
        conn = sim.hub.add(ws, request.path, peer, combined=m["kind"] == "stream")
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
        sim.apply_connection_faults(conn)
        writer = asyncio.get_running_loop().create_task(conn.write_loop())
        pinger = asyncio.get_running_loop().create_task(ping_loop(conn))
        try:
            await read_loop(conn)
        finally:
            sim.hub.remove(conn)
            pinger.cancel()
            writer.cancel()
            await asyncio.gather(pinger, writer, return_exceptions=True)
            if not ws.closed:
                await ws.close()
        return ws

    def attach(conn: Connection, name: str, *, silent: bool) -> str | None:
        """Subscribe to a stream or a user stream; the error text if `name` is neither."""
        if sim.listen_keys.account_of(name) is not None:
            sim.hub.attach_user(conn, name)
            return None
        stream = canonical(name, sim.market.states, sim.market.intervals)
        if stream is None:
            return None if silent else f"Invalid request: unknown stream name '{name}'"
        if stream not in conn.streams and len(conn.streams) >= sim.options.ws_max_streams:
            return f"Invalid request: more than {sim.options.ws_max_streams} streams on one connection"
        sim.hub.subscribe(conn, stream)
        return None

    async def read_loop(conn: Connection) -> None:
        ws = conn.ws
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                now = time.monotonic()
                conn.incoming.append(now)
                while conn.incoming and now - conn.incoming[0] > 1.0:
                    conn.incoming.popleft()
                if len(conn.incoming) > sim.options.ws_message_rate:
                    sim.hub.kick(conn, f"more than {sim.options.ws_message_rate} incoming messages per second")
                    return
                control(conn, msg.data)
            elif msg.type == WSMsgType.PING:
                fault = sim.faults.connection_flag("ws_withhold_pongs", conn.path, tuple(conn.streams))
                if fault is not None and fault.take():
                    sim.faults.record(fault, f"pong withheld on connection {conn.id}")
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
            sim.hub.send(conn, {"code": 3, "msg": f"Invalid JSON: {exc}"})
            return
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            sim.hub.send(conn, {"code": 2, "msg": "Invalid request: method is missing", "id": _id(request)})
            return
        method, ident, params = request["method"].upper(), request.get("id"), request.get("params", [])
        if not isinstance(params, list):
            sim.hub.send(conn, {"code": 2, "msg": "Invalid request: params must be an array", "id": ident})
            return
        if method == "SUBSCRIBE":
            errors = [e for e in (attach(conn, str(p), silent=False) for p in params) if e]
            sim.apply_connection_faults(conn)
            reply: dict[str, Any] = {"code": 2, "msg": errors[0], "id": ident} if errors else {"result": None, "id": ident}
        elif method == "UNSUBSCRIBE":
            for name in params:
                stream = canonical(str(name), sim.market.states, sim.market.intervals)
                if stream is not None:
                    sim.hub.unsubscribe(conn, stream)
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
        sim.hub.send(conn, reply)

    async def ping_loop(conn: Connection) -> None:
        opts = sim.options
        started = conn.last_pong = time.monotonic()
        next_ping = started + opts.ws_ping_interval
        tick = max(0.05, min(1.0, opts.ws_ping_interval / 4, opts.ws_pong_timeout / 4))
        while not conn.closing:
            await asyncio.sleep(tick)
            now = time.monotonic()
            if now - started >= opts.ws_max_age:
                sim.hub.kick(conn, f"connection older than {opts.ws_max_age:g} s")
                return
            if now - conn.last_pong > opts.ws_pong_timeout:
                sim.hub.kick(conn, f"no pong for {opts.ws_pong_timeout:g} s", abort=True)
                return
            if now >= next_ping:
                next_ping = now + opts.ws_ping_interval
                try:
                    await conn.ws.ping()
                except (ConnectionError, RuntimeError):
                    return

    return [web.get(family + path + tail, handle) for family in FAMILIES for path in PATHS
            for tail in ("", "/{tail:.*}")]


def _id(request: Any) -> Any:
    return request.get("id") if isinstance(request, dict) else None
