"""Signed REST endpoints (spec §4.7-4.16): account, balance, positions, leverage, margin type,
orders (and the test order, checked but never placed), conditional (algo) orders, trades, and listen keys (API key only)."""

from __future__ import annotations

from aiohttp import web

from engine.sim import payloads
from engine.sim.errors import BinanceError
from engine.sim.numbers import fixed
from engine.sim.rest import authenticate, int_param, ok
from engine.sim.venue import Venue

WEEK_MS = 7 * 86_400_000


def routes(venue: Venue) -> list[web.RouteDef]:
    ex = venue.exchange

    def symbol_of(params: dict[str, str], required: bool = True) -> str | None:
        symbol = params.get("symbol")
        if not symbol:
            if required:
                raise BinanceError(-1102, name="symbol")
            return None
        if symbol not in ex.specs:
            raise BinanceError(-1121)
        return symbol

    def order_ids(params: dict[str, str]) -> tuple[int | None, str | None]:
        order_id = int_param(params, "orderId")
        client_id = params.get("origClientOrderId") or None
        if order_id is None and client_id is None:
            raise BinanceError(-1102, name="orderId")
        return order_id, client_id

    # ---- account -----------------------------------------------------------------------------
    async def account(request: web.Request) -> web.Response:
        key, _ = await authenticate(venue, request)
        return ok(payloads.account_json(ex.accounts[key], ex.risk(key)))

    async def balance(request: web.Request) -> web.Response:
        key, _ = await authenticate(venue, request)
        risk = ex.risk(key)
        return ok([{"accountAlias": "SimTrader", "asset": "USDT", "balance": fixed(risk.wallet, 8),
                    "crossWalletBalance": fixed(risk.cross_wallet, 8), "crossUnPnl": fixed(risk.cross_unrealized, 8),
                    "availableBalance": fixed(risk.available, 8), "maxWithdrawAmount": fixed(risk.max_withdraw, 8),
                    "marginAvailable": True, "updateTime": max(1, ex.accounts[key].update_time)}])

    async def position_risk(request: web.Request) -> web.Response:
        key, params = await authenticate(venue, request)
        symbol = symbol_of(params, required=False)
        return ok(payloads.position_risk_json(ex.accounts[key], ex.risk(key), ex.specs, symbol))

    async def leverage(request: web.Request) -> web.Response:
        key, params = await authenticate(venue, request)
        symbol = symbol_of(params)
        assert symbol is not None
        value = int_param(params, "leverage")
        if value is None:
            raise BinanceError(-1102, name="leverage")
        venue.dispatch(ex.set_leverage(key, symbol, value, venue.replay.now_ms))
        return ok({"leverage": value, "maxNotionalValue": "80000000", "symbol": symbol})

    async def leverage_bracket(request: web.Request) -> web.Response:
        _, params = await authenticate(venue, request)
        symbol = symbol_of(params, required=False)
        return ok([{"symbol": s.symbol, "notionalCoef": 1.0, "brackets": [{
            "bracket": 1, "initialLeverage": s.max_leverage, "notionalCap": 50_000_000, "notionalFloor": 0,
            "maintMarginRatio": float(s.maint_margin_rate), "cum": 0.0}]}
            for s in ex.specs.values() if symbol is None or s.symbol == symbol])

    async def margin_type(request: web.Request) -> web.Response:
        key, params = await authenticate(venue, request)
        symbol = symbol_of(params)
        assert symbol is not None
        kind = params.get("marginType")
        if not kind:
            raise BinanceError(-1102, name="marginType")
        venue.dispatch(ex.set_margin_type(key, symbol, kind, venue.replay.now_ms))
        return ok({"code": 200, "msg": "success"})

    async def position_mode(request: web.Request) -> web.Response:
        await authenticate(venue, request)
        return ok({"dualSidePosition": False})

    # ---- orders ------------------------------------------------------------------------------
    async def new_order(request: web.Request) -> web.Response:
        key, params = await authenticate(venue, request)
        venue.limiter.count_order(key)
        order, events = ex.place_order(key, params, venue.replay.now_ms)
        venue.dispatch(events)
        spec = ex.specs[order.symbol]
        if params.get("newOrderRespType", "ACK").upper() == "RESULT":
            return ok(payloads.order_json(order, spec))
        first = events[0].order  # type: ignore[union-attr]  # the NEW event's snapshot
        return ok(payloads.order_json(first, spec))

    async def test_order(request: web.Request) -> web.Response:
        """`POST /fapi/v1/order/test`: signed and checked exactly like `POST /fapi/v1/order` (the same
        errors in the same order), answered `{}`; no order, no balance change, no user-data event, and
        nothing counted against the order-rate limits (no order was placed)."""
        key, params = await authenticate(venue, request)
        ex.check_order(key, params)
        return ok({})

    async def get_order(request: web.Request) -> web.Response:
        key, params = await authenticate(venue, request)
        symbol = symbol_of(params)
        assert symbol is not None
        order = ex.find_order(key, symbol, *order_ids(params))
        if order is None:
            raise BinanceError(-2013)
        return ok(payloads.order_json(order, ex.specs[symbol]))

    async def cancel_order(request: web.Request) -> web.Response:
        key, params = await authenticate(venue, request)
        symbol = symbol_of(params)
        assert symbol is not None
        order, events = ex.cancel_order(key, symbol, *order_ids(params), venue.replay.now_ms)
        venue.dispatch(events)
        return ok(payloads.order_json(order, ex.specs[symbol]))

    async def cancel_all(request: web.Request) -> web.Response:
        key, params = await authenticate(venue, request)
        symbol = symbol_of(params)
        assert symbol is not None
        venue.dispatch(ex.cancel_all(key, symbol, venue.replay.now_ms))
        return ok({"code": 200, "msg": "The operation of cancel all open order is done."})

    async def open_order(request: web.Request) -> web.Response:
        key, params = await authenticate(venue, request)
        symbol = symbol_of(params)
        assert symbol is not None
        order = ex.find_order(key, symbol, *order_ids(params))
        if order is None or not order.is_open:
            raise BinanceError(-2013)
        return ok(payloads.order_json(order, ex.specs[symbol]))

    async def income(request: web.Request) -> web.Response:
        key, params = await authenticate(venue, request)
        symbol = symbol_of(params, required=False)
        kind = params.get("incomeType")
        limit = min(1000, int_param(params, "limit", 100) or 100)
        start, end = int_param(params, "startTime"), int_param(params, "endTime")
        rows = [i for i in ex.accounts[key].income if (symbol is None or i.symbol == symbol)
                and (kind is None or i.kind == kind) and (start is None or i.time >= start)
                and (end is None or i.time <= end)]
        rows = rows[:limit] if start is not None else rows[-limit:]
        return ok([{"symbol": i.symbol, "incomeType": i.kind, "income": fixed(i.amount, 8), "asset": "USDT",
                    "info": i.kind, "time": i.time, "tranId": i.tran_id, "tradeId": str(i.trade_id or "")}
                   for i in rows])

    async def open_orders(request: web.Request) -> web.Response:
        key, params = await authenticate(venue, request)
        symbol = symbol_of(params, required=False)
        return ok([payloads.order_json(o, ex.specs[o.symbol]) for o in ex.accounts[key].open_orders(symbol)])

    async def all_orders(request: web.Request) -> web.Response:
        key, params = await authenticate(venue, request)
        symbol = symbol_of(params)
        limit = min(1000, int_param(params, "limit", 500) or 500)
        orders = [o for o in ex.accounts[key].orders.values() if o.symbol == symbol]
        return ok([payloads.order_json(o, ex.specs[o.symbol]) for o in orders[-limit:]])

    async def user_trades(request: web.Request) -> web.Response:
        key, params = await authenticate(venue, request)
        symbol = symbol_of(params)
        limit = int_param(params, "limit", 500) or 500
        if not 1 <= limit <= 1000:
            raise BinanceError(-1130, name="limit")
        start, end, from_id = int_param(params, "startTime"), int_param(params, "endTime"), int_param(params, "fromId")
        if start is not None and end is not None and end - start > WEEK_MS:
            raise BinanceError(-1127, "More than 7 days between startTime and endTime.")
        trades = [t for t in ex.accounts[key].trades if t.symbol == symbol
                  and (start is None or t.time >= start) and (end is None or t.time <= end)
                  and (from_id is None or t.trade_id >= from_id)]
        trades = trades[:limit] if start is not None or from_id is not None else trades[-limit:]
        return ok([payloads.trade_json(t, ex.specs[t.symbol]) for t in trades])

    # ---- conditional (algo) orders -----------------------------------------------------------
    def algo_ids(params: dict[str, str]) -> tuple[int | None, str | None]:
        algo_id = int_param(params, "algoId")
        client_id = params.get("clientAlgoId") or None
        if algo_id is None and client_id is None:
            raise BinanceError(-1102, name="algoId")
        return algo_id, client_id

    async def new_algo(request: web.Request) -> web.Response:
        key, params = await authenticate(venue, request)
        venue.limiter.count_order(key)
        algo, events = ex.place_algo(key, params, venue.replay.now_ms)
        venue.dispatch(events)
        return ok(payloads.algo_json(algo, ex.specs[algo.symbol]))

    async def get_algo(request: web.Request) -> web.Response:
        key, params = await authenticate(venue, request)
        algo = ex.find_algo(key, *algo_ids(params))
        if algo is None:
            raise BinanceError(-2013)
        return ok(payloads.algo_json(algo, ex.specs[algo.symbol]))

    async def cancel_algo(request: web.Request) -> web.Response:
        key, params = await authenticate(venue, request)
        symbol = symbol_of(params, required=False)
        algo, events = ex.cancel_algo(key, symbol, *algo_ids(params), venue.replay.now_ms)
        venue.dispatch(events)
        return ok({"algoId": algo.algo_id, "clientAlgoId": algo.client_id, "code": "200", "msg": "success"})

    async def open_algos(request: web.Request) -> web.Response:
        key, params = await authenticate(venue, request)
        symbol = symbol_of(params, required=False)
        return ok([payloads.algo_json(a, ex.specs[a.symbol]) for a in ex.accounts[key].open_algos(symbol)])

    async def all_algos(request: web.Request) -> web.Response:
        key, params = await authenticate(venue, request)
        symbol = symbol_of(params)
        return ok([payloads.algo_json(a, ex.specs[a.symbol]) for a in ex.accounts[key].algos.values()
                   if a.symbol == symbol])

    async def cancel_all_algos(request: web.Request) -> web.Response:
        key, params = await authenticate(venue, request)
        symbol = symbol_of(params)
        for algo in ex.accounts[key].open_algos(symbol):
            venue.dispatch(ex.cancel_algo(key, symbol, algo.algo_id, None, venue.replay.now_ms)[1])
        return ok({"code": 200, "msg": "The operation of cancel all open order is done."})

    # ---- listen keys (USER_STREAM: API key only) ----------------------------------------------
    async def listen_key_new(request: web.Request) -> web.Response:
        key, _ = await authenticate(venue, request, signed=False)
        return ok({"listenKey": venue.listen_keys.create(key)})

    async def listen_key_keepalive(request: web.Request) -> web.Response:
        key, params = await authenticate(venue, request, signed=False)
        return ok({"listenKey": venue.listen_keys.keepalive(key, params.get("listenKey"))})

    async def listen_key_delete(request: web.Request) -> web.Response:
        key, _ = await authenticate(venue, request, signed=False)
        listen_key = venue.listen_keys.delete(key)
        if listen_key is not None:
            venue.close_user_streams(listen_key)
        return ok({})

    return [
        web.get("/fapi/v3/account", account), web.get("/fapi/v2/account", account),
        web.get("/fapi/v3/balance", balance), web.get("/fapi/v2/balance", balance),
        web.get("/fapi/v3/positionRisk", position_risk), web.get("/fapi/v2/positionRisk", position_risk),
        web.post("/fapi/v1/leverage", leverage), web.get("/fapi/v1/leverageBracket", leverage_bracket),
        web.post("/fapi/v1/marginType", margin_type), web.get("/fapi/v1/positionSide/dual", position_mode),
        web.post("/fapi/v1/order", new_order), web.post("/fapi/v1/order/test", test_order),
        web.get("/fapi/v1/order", get_order),
        web.delete("/fapi/v1/order", cancel_order), web.delete("/fapi/v1/allOpenOrders", cancel_all),
        web.get("/fapi/v1/openOrders", open_orders), web.get("/fapi/v1/allOrders", all_orders),
        web.get("/fapi/v1/openOrder", open_order), web.get("/fapi/v1/income", income),
        web.get("/fapi/v1/userTrades", user_trades),
        web.post("/fapi/v1/algoOrder", new_algo), web.get("/fapi/v1/algoOrder", get_algo),
        web.delete("/fapi/v1/algoOrder", cancel_algo), web.get("/fapi/v1/openAlgoOrders", open_algos),
        web.get("/fapi/v1/allAlgoOrders", all_algos), web.delete("/fapi/v1/algoOpenOrders", cancel_all_algos),
        web.post("/fapi/v1/listenKey", listen_key_new), web.put("/fapi/v1/listenKey", listen_key_keepalive),
        web.delete("/fapi/v1/listenKey", listen_key_delete),
    ]
