"""Public REST endpoints (spec §4.1-4.6): ping, time, exchangeInfo, klines, 24 h ticker, prices,
premium index, funding history, depth. No authentication; a key sent here is ignored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from aiohttp import web

from engine.sim import views
from engine.sim.errors import BinanceError

if TYPE_CHECKING:
    from engine.sim.server import Simulator

DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)


def int_param(params: Mapping[str, str], name: str, default: int | None = None) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BinanceError(-1102, name=name) from None


def routes(sim: Simulator) -> list[web.RouteDef]:
    def ok(data: object) -> web.Response:
        return web.json_response(data, dumps=sim.dumps)

    async def ping(request: web.Request) -> web.Response:
        return ok({})

    async def server_time(request: web.Request) -> web.Response:
        return ok({"serverTime": sim.auth_now(request)})

    async def exchange_info(request: web.Request) -> web.Response:
        return ok(sim.exchange_info(sim.auth_now(request)))

    async def klines(request: web.Request) -> web.Response:
        q = request.query
        limit = int_param(q, "limit", 500)
        assert limit is not None
        if not 1 <= limit <= 1500:
            raise BinanceError(-1130, name="limit")
        return ok(views.klines(sim.market, q.get("symbol"), q.get("interval"), int_param(q, "startTime"),
                               int_param(q, "endTime"), limit))

    def each_symbol(request: web.Request, view) -> web.Response:  # type: ignore[no-untyped-def]
        symbol = request.query.get("symbol")
        now = sim.replay.now_ms
        if symbol:
            return ok(view(views.state_of(sim.market, symbol), now))
        return ok([view(state, now) for state in sim.market.states.values()])

    async def ticker_24h(request: web.Request) -> web.Response:
        return each_symbol(request, lambda st, now: views.ticker_24h(sim.market, st, now))

    async def ticker_price(request: web.Request) -> web.Response:
        return each_symbol(request, lambda st, now: {"symbol": st.symbol, "price": f"{st.price:.{st.price_dp}f}",
                                                     "time": now})

    async def book_ticker(request: web.Request) -> web.Response:
        return each_symbol(request, views.book_ticker)

    async def premium_index(request: web.Request) -> web.Response:
        return each_symbol(request, views.premium_index)

    async def funding_rate(request: web.Request) -> web.Response:
        q = request.query
        state = views.state_of(sim.market, q.get("symbol"))
        limit = min(1000, int_param(q, "limit", 100) or 100)
        start, end = int_param(q, "startTime"), int_param(q, "endTime", sim.replay.now_ms)
        tape = state.tape
        rows = [{"symbol": state.symbol, "fundingTime": int(t), "fundingRate": f"{r:.8f}", "markPrice": ""}
                for t, r in zip(tape.funding_time, tape.funding_rate)
                if (start is None or t >= start) and t <= min(end or 0, sim.replay.now_ms)]
        return ok(rows[:limit] if start is not None else rows[-limit:])

    async def depth(request: web.Request) -> web.Response:
        q = request.query
        limit = int_param(q, "limit", 500) or 500
        if limit not in DEPTH_LIMITS:
            raise BinanceError(-1130, name="limit")
        return ok(views.depth(views.state_of(sim.market, q.get("symbol")), limit, sim.replay.now_ms))

    return [
        web.get("/fapi/v1/ping", ping), web.get("/fapi/v1/time", server_time),
        web.get("/fapi/v1/exchangeInfo", exchange_info), web.get("/fapi/v1/klines", klines),
        web.get("/fapi/v1/ticker/24hr", ticker_24h), web.get("/fapi/v1/ticker/price", ticker_price),
        web.get("/fapi/v2/ticker/price", ticker_price), web.get("/fapi/v1/ticker/bookTicker", book_ticker),
        web.get("/fapi/v1/premiumIndex", premium_index), web.get("/fapi/v1/fundingRate", funding_rate),
        web.get("/fapi/v1/depth", depth),
    ]
