"""The simulator's control panel under `/admin/` (loopback peers only): replay clock, closed candles,
account state for exact PnL checks, price injection, fault injection and counters, restart.
All money is returned as decimal strings."""

from __future__ import annotations

import ipaddress
import json
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from aiohttp import web

from engine.core.secret import Secret
from engine.sim.faults import Fault, FaultError
from engine.sim.options import parse_speed
from engine.sim.pricing import money
from engine.sim.rest import ok
from engine.sim.venue import Venue


class Server(Protocol):
    """What the admin API needs from the HTTP server around the venue."""

    def describe(self) -> dict[str, Any]:
        """The clock, the addresses, connections and restarts (`/admin/state`)."""

    async def add_fault(self, spec: dict[str, Any]) -> Fault:
        """Register a fault, the server's own restart included."""


def is_loopback(request: web.Request) -> bool:
    try:
        return ipaddress.ip_address((request.remote or "").split("%")[0]).is_loopback
    except ValueError:
        return False


def _s(value: Decimal) -> str:
    return format(value, "f")


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        data = json.loads(await request.text())
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"admin requests take a JSON object: {exc}") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="admin requests take a JSON object")
    return data


def routes(venue: Venue, server: Server) -> list[web.RouteDef]:
    async def state(request: web.Request) -> web.Response:
        return ok(server.describe())

    async def clock(request: web.Request) -> web.Response:
        action = request.match_info["action"]
        body = await _body(request)
        replay = venue.replay
        if action == "pause":
            replay.pause()
        elif action == "resume":
            replay.resume()
        elif action == "speed":
            try:
                replay.set_speed(parse_speed(body.get("speed", "")))
            except (ValueError, TypeError) as exc:
                raise web.HTTPBadRequest(text=str(exc)) from None
        elif action == "step":
            if "until" in body:
                steps = replay.step_until(int(body["until"]))
            elif "bars" in body:
                steps = replay.step_bars(int(body["bars"]))
            else:
                steps = replay.step(int(body.get("steps", 1)))
            return ok({**venue.clock_state(), "stepped": steps})
        else:
            raise web.HTTPNotFound(text=f"unknown clock action {action!r}: pause, resume, step, speed")
        return ok(venue.clock_state())

    async def candles(request: web.Request) -> web.Response:
        symbol = request.query.get("symbol", "")
        interval = request.query.get("interval", venue.market.interval)
        state = venue.market.states.get(symbol)
        if state is None or interval not in state.tape.history:
            raise web.HTTPBadRequest(text=f"unknown symbol {symbol!r} or interval {interval!r}; symbols "
                                          f"{sorted(venue.market.states)}, intervals {venue.market.intervals}")
        rows = venue.closed_candles(symbol, interval, history=request.query.get("history") == "1")
        return ok({"symbol": symbol, "interval": interval, "candles": rows})

    async def accounts(request: web.Request) -> web.Response:
        if request.method == "POST":
            body = await _body(request)
            try:
                usdt = Decimal(str(body.get("usdt", "10000")))
                venue.add_account(str(body["key"]), Secret(str(body["secret"])), usdt)
            except (KeyError, InvalidOperation, ValueError) as exc:
                raise web.HTTPBadRequest(text=f"POST /admin/accounts takes key, secret, usdt: {exc}") from None
            return ok(account_view(venue, str(body["key"]), detail=False))
        return ok([account_view(venue, key, detail=False) for key in venue.exchange.accounts])

    async def account(request: web.Request) -> web.Response:
        key = request.match_info["key"]
        if key not in venue.exchange.accounts:
            raise web.HTTPNotFound(text=f"no account {key!r}")
        return ok(account_view(venue, key, detail=True))

    async def price(request: web.Request) -> web.Response:
        body = await _body(request)
        symbol = body.get("symbol")
        if symbol not in venue.market.states:
            raise web.HTTPBadRequest(text=f"symbol must be one of {sorted(venue.market.states)}")
        path = body.get("prices") or [body.get("price")]
        try:
            mark = float(body["mark"]) if body.get("mark") is not None else None
            points = [float(p) if p is not None else None for p in path]
        except (TypeError, ValueError) as exc:
            raise web.HTTPBadRequest(text=f"prices must be numbers: {exc}") from None
        if any(p is not None and not p > 0 for p in points) or (mark is not None and not mark > 0):
            raise web.HTTPBadRequest(text="prices must be finite and > 0")
        events = 0
        for point in points:
            events += venue.inject_price(symbol, point, mark)
        return ok({"symbol": symbol, "events": events, **venue.clock_state()})

    async def faults(request: web.Request) -> web.Response:
        if request.method == "POST":
            try:
                fault = await server.add_fault(await _body(request))
            except FaultError as exc:
                raise web.HTTPBadRequest(text=str(exc)) from None
            return ok(fault.describe())
        if request.method == "DELETE":
            fault_id = request.match_info.get("id")
            return ok({"cleared": venue.clear_faults(int(fault_id) if fault_id else None)})
        return ok(venue.faults.snapshot())

    async def restart(request: web.Request) -> web.Response:
        body = await _body(request)
        try:
            fault = await server.add_fault({"kind": "restart", "down": body.get("down", 1.0),
                                         "mode": body.get("mode", "abort")})
        except FaultError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        return ok({"restarting": True, **fault.describe()})

    async def connections(request: web.Request) -> web.Response:
        return ok([{"id": c.id, "path": c.path, "streams": sorted(c.streams), "user": bool(c.listen_keys),
                    "queued": len(c.queue), "sent": c.sent, "stalled": c.stalled, "withhold_pongs": c.withhold_pongs}
                   for c in venue.hub.connections])

    return [
        web.get("/admin/state", state), web.post("/admin/clock/{action}", clock),
        web.get("/admin/candles", candles), web.get("/admin/accounts", accounts),
        web.post("/admin/accounts", accounts), web.get("/admin/accounts/{key}", account),
        web.post("/admin/price", price), web.get("/admin/faults", faults), web.post("/admin/faults", faults),
        web.delete("/admin/faults", faults), web.delete("/admin/faults/{id}", faults),
        web.post("/admin/restart", restart), web.get("/admin/connections", connections),
    ]


def account_view(venue: Venue, key: str, *, detail: bool) -> dict[str, Any]:
    ex = venue.exchange
    acct = ex.accounts[key]
    risk = ex.risk(key)
    led = acct.ledger
    view: dict[str, Any] = {
        "key": key, "wallet": _s(acct.wallet), "cross_wallet": _s(acct.cross_wallet),
        "unrealized": _s(money(risk.unrealized)), "equity": _s(money(risk.equity)),
        "available": _s(money(risk.available)),
        "ledger": {"deposits": _s(led.deposits), "realized": _s(led.realized), "fees": _s(led.fees),
                   "funding": _s(led.funding), "liquidation_fees": _s(led.liquidation_fees),
                   "insurance": _s(led.insurance), "liquidations": led.liquidations},
        "positions": [{"symbol": r.symbol, "amount": _s(r.amount), "entry_price": _s(r.entry_price),
                       "mark": _s(r.mark), "unrealized": _s(r.unrealized), "margin_type": "isolated" if r.isolated else "cross",
                       "isolated_wallet": _s(r.isolated_wallet), "leverage": r.leverage,
                       "liquidation_price": _s(money(r.liquidation_price)),
                       "realized": _s(acct.positions[r.symbol].realized)} for r in risk.positions],
    }
    if detail:
        view["trades"] = [{"id": t.trade_id, "order_id": t.order_id, "symbol": t.symbol, "side": t.side,
                           "price": _s(t.price), "qty": _s(t.quantity), "commission": _s(t.commission),
                           "realized_pnl": _s(t.realized_pnl), "maker": t.maker, "time": t.time} for t in acct.trades]
        view["orders"] = [{"order_id": o.order_id, "client_id": o.client_id, "symbol": o.symbol, "side": o.side,
                           "type": o.type, "orig_type": o.orig_type, "status": o.status, "reduce_only": o.reduce_only,
                           "quantity": _s(o.quantity), "executed": _s(o.executed), "time": o.time}
                          for o in acct.orders.values()]
        view["open_orders"] = [{"order_id": o.order_id, "client_id": o.client_id, "symbol": o.symbol, "side": o.side,
                                "type": o.type, "price": _s(o.price), "quantity": _s(o.quantity),
                                "executed": _s(o.executed)} for o in acct.open_orders()]
        view["open_algos"] = [{"algo_id": a.algo_id, "client_id": a.client_id, "symbol": a.symbol, "side": a.side,
                               "type": a.order_type, "trigger_price": _s(a.trigger_price),
                               "quantity": _s(a.quantity)} for a in acct.open_algos()]
        view["leverage"] = dict(acct.leverage)
        view["margin_type"] = dict(acct.margin_type)
    return view


