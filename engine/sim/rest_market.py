"""Public REST endpoints (spec §4.1-4.6): ping, time, exchangeInfo, klines, 24 h ticker, prices,
premium index, funding history, depth. No authentication; a key sent here is ignored."""

from __future__ import annotations

from aiohttp import web

from engine.sim import views
from engine.sim.errors import BinanceError
from engine.sim.rest import int_param, ok
from engine.sim.venue import Venue

DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)


def routes(venue: Venue) -> list[web.RouteDef]:
    async def ping(request: web.Request) -> web.Response:
        return ok({})

    async def server_time(request: web.Request) -> web.Response:
        return ok({"serverTime": venue.auth_now(request.method, request.path)})

    async def exchange_info(request: web.Request) -> web.Response:
        return ok(venue.exchange_info(venue.auth_now(request.method, request.path)))

    async def klines(request: web.Request) -> web.Response:
        q = request.query
        limit = int_param(q, "limit", 500)
        assert limit is not None
        if not 1 <= limit <= 1500:
            raise BinanceError(-1130, name="limit")
        return ok(views.klines(venue.market, q.get("symbol"), q.get("interval"), int_param(q, "startTime"),
                               int_param(q, "endTime"), limit))

    def each_symbol(request: web.Request, view) -> web.Response:  # type: ignore[no-untyped-def]
        symbol = request.query.get("symbol")
        now = venue.replay.now_ms
        if symbol:
            return ok(view(views.state_of(venue.market, symbol), now))
        return ok([view(state, now) for state in venue.market.states.values()])

    async def ticker_24h(request: web.Request) -> web.Response:
        return each_symbol(request, lambda st, now: views.ticker_24h(venue.market, st, now))

    async def ticker_price(request: web.Request) -> web.Response:
        return each_symbol(request, lambda st, now: {"symbol": st.symbol, "price": f"{st.price:.{st.price_dp}f}",
                                                     "time": now})

    async def book_ticker(request: web.Request) -> web.Response:
        return each_symbol(request, views.book_ticker)

    async def premium_index(request: web.Request) -> web.Response:
        return each_symbol(request, views.premium_index)

    async def funding_rate(request: web.Request) -> web.Response:
        q = request.query
        state = views.state_of(venue.market, q.get("symbol"))
        limit = min(1000, int_param(q, "limit", 100) or 100)
        start, end = int_param(q, "startTime"), int_param(q, "endTime", venue.replay.now_ms)
        tape = state.tape
        rows = [{"symbol": state.symbol, "fundingTime": int(t), "fundingRate": f"{r:.8f}", "markPrice": ""}
                for t, r in zip(tape.funding_time, tape.funding_rate)
                if (start is None or t >= start) and t <= min(end or 0, venue.replay.now_ms)]
        return ok(rows[:limit] if start is not None else rows[-limit:])

    async def depth(request: web.Request) -> web.Response:
        q = request.query
        limit = int_param(q, "limit", 500) or 500
        if limit not in DEPTH_LIMITS:
            raise BinanceError(-1130, name="limit")
        return ok(views.depth(views.state_of(venue.market, q.get("symbol")), limit, venue.replay.now_ms))

    return [
        web.get("/fapi/v1/ping", ping), web.get("/fapi/v1/time", server_time),
        web.get("/fapi/v1/exchangeInfo", exchange_info), web.get("/fapi/v1/klines", klines),
        web.get("/fapi/v1/ticker/24hr", ticker_24h), web.get("/fapi/v1/ticker/price", ticker_price),
        web.get("/fapi/v2/ticker/price", ticker_price), web.get("/fapi/v1/ticker/bookTicker", book_ticker),
        web.get("/fapi/v1/premiumIndex", premium_index), web.get("/fapi/v1/fundingRate", funding_rate),
        web.get("/fapi/v1/depth", depth),
    ]
