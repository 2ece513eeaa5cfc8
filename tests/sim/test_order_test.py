"""`POST /fapi/v1/order/test` as Binance serves it: signed and checked like a real order (same checks,
same errors), answered `{}`, and never an order: no order in the account, no balance moved, no
user-data event, no order-rate count. Through an unmodified ccxt binanceusdm (its implicit
`fapiPrivatePostOrderTest`) and through our venue adapter, against the real simulator on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal as D
from typing import Any

import ccxt
import pytest
import websockets

from engine.core.clock import ManualClock
from engine.core.errors import DuplicateClientOrderId, InsufficientMargin, OrderRejected
from engine.core.secret import Secret
from engine.core.types import Order, OrderType, Side, TimeInForce
from engine.venues.binance import BinanceVenue
from engine.venues.retry import RetryPolicy
from tests.sim.harness import SimHandle

pytestmark = pytest.mark.integration  # starts the simulator on 127.0.0.1

BTC = "BTC/USDT:USDT"


def request(ex: Any, kind: str, side: str, amount: float | str, price: float | None = None,
            **params: Any) -> dict[str, Any]:
    """The request ccxt would send for `create_order` (same builder), for the test endpoint."""
    return ex.create_order_request(BTC, kind, side, amount, price, {"isAlgoOrder": False, **params})


async def account(sim: SimHandle) -> dict[str, Any]:
    return await sim.control.account(sim.key)


def unchanged(view: dict[str, Any]) -> tuple[Any, ...]:
    return (view["wallet"], view["available"], len(view["orders"]), len(view["trades"]), view["positions"])


async def test_a_valid_test_order_answers_empty_and_places_nothing(sim: SimHandle) -> None:
    ex = sim.ccxt()
    await ex.load_markets()
    before = await account(sim)
    listen_key = (await ex.fapiPrivatePostListenKey())["listenKey"]
    async with websockets.connect(f"{sim.ws_url}/private/ws?listenKey={listen_key}") as private:
        assert await ex.fapiPrivatePostOrderTest(request(ex, "market", "buy", 0.01, clientOrderId="t-1")) == {}
        mark = float((await ex.fetch_mark_price(BTC))["markPrice"])
        limit = request(ex, "limit", "sell", 0.01, round(mark * 1.01, 1), timeInForce="GTC", clientOrderId="t-2")
        assert await ex.fapiPrivatePostOrderTest(limit) == {}
        assert unchanged(await account(sim)) == unchanged(before)
        assert (await ex.fetch_open_orders(BTC)) == []
        # the test ids were never used: a real order may take one, and its events are the first the stream sees
        order = await ex.create_order(BTC, "market", "buy", 0.002, None, {"clientOrderId": "t-1"})
        first = json.loads(await asyncio.wait_for(private.recv(), 5.0))
    assert first["e"] == "ORDER_TRADE_UPDATE" and first["o"]["c"] == "t-1" and first["o"]["X"] == "NEW"
    assert order["status"] == "closed" and len((await account(sim))["orders"]) == len(before["orders"]) + 1


async def test_a_test_order_fails_with_the_real_orders_errors(sim: SimHandle) -> None:
    ex = sim.ccxt()
    await ex.load_markets()
    await ex.create_order(BTC, "market", "buy", 0.002, None, {"clientOrderId": "used-1"})
    before = await account(sim)
    cases: list[tuple[dict[str, Any], str]] = [   # the request, Binance's code
        ({**request(ex, "market", "buy", 0.002), "quantity": "0.0025"}, "-1111"),  # step
        (request(ex, "market", "buy", 50), "-2019"),            # margin
        (request(ex, "market", "buy", 0.002, clientOrderId="used-1"), "-4116"),  # duplicate
        (request(ex, "market", "buy", 0.002, reduceOnly=True, clientOrderId="r-1"), "-2022"),  # adds to the long
        ({**request(ex, "market", "buy", 0.002), "symbol": "DOGEUSDT"}, "-1121"),
        ({**request(ex, "market", "buy", 0.002), "type": "NOPE"}, "-1116"),
    ]
    for sent, code in cases:
        with pytest.raises(ccxt.ExchangeError, match=code):
            await ex.fapiPrivatePostOrderTest(sent)
    after = await account(sim)
    assert unchanged(after) == unchanged(before)


async def test_a_test_order_is_signed_like_a_real_one(sim: SimHandle) -> None:
    forger = sim.ccxt(secret="not-the-secret")
    await forger.load_markets()
    with pytest.raises(ccxt.AuthenticationError, match="-1022"):
        await forger.fapiPrivatePostOrderTest(request(forger, "market", "buy", 0.01))
    stranger = sim.ccxt(key="nobody", secret="x")
    await stranger.load_markets()
    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        await stranger.fapiPrivatePostOrderTest(request(stranger, "market", "buy", 0.01))


async def test_the_venue_adapter_sends_test_orders_and_translates_their_errors(sim: SimHandle) -> None:
    venue = BinanceVenue(account="main", rest_url=sim.rest_url, ws_url=sim.ws_url, api_key=Secret(sim.key),
                         api_secret=Secret(sim.secret), clock=ManualClock(), rate_limit=False,
                         policy=RetryPolicy(attempts=1))
    await venue.start()
    try:
        before = await account(sim)
        await venue.test_order(Order("bench-1", "main", "BTCUSDT", Side.BUY, OrderType.MARKET, D("0.010")))
        mark = (await venue.fetch_mark_price("BTCUSDT")).mark_price
        await venue.test_order(Order("bench-2", "main", "BTCUSDT", Side.BUY, OrderType.LIMIT, D("0.010"),
                                     price=(mark * D("0.99")).quantize(D("0.1")), time_in_force=TimeInForce.GTC))
        with pytest.raises(InsufficientMargin):
            await venue.test_order(Order("bench-3", "main", "BTCUSDT", Side.BUY, OrderType.MARKET, D("50")))
        with pytest.raises(OrderRejected, match="-2022"):
            await venue.test_order(Order("bench-4", "main", "BTCUSDT", Side.SELL, OrderType.MARKET, D("0.010"),
                                         reduce_only=True))
        await venue.create_order(Order("bench-5", "main", "BTCUSDT", Side.BUY, OrderType.MARKET, D("0.002")))
        with pytest.raises(DuplicateClientOrderId):
            await venue.test_order(Order("bench-5", "main", "BTCUSDT", Side.BUY, OrderType.MARKET, D("0.002")))
        with pytest.raises(ValueError, match="MARKET or LIMIT"):
            await venue.test_order(Order("bench-6", "main", "BTCUSDT", Side.SELL, OrderType.STOP_MARKET, D("0.002"),
                                         stop_price=mark * D("0.9")))
        after = await account(sim)
        assert len(after["orders"]) == len(before["orders"]) + 1   # bench-5 only
    finally:
        await venue.close()
