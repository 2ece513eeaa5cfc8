"""The venue adapter against the simulator: real ccxt, real HTTP on loopback."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from engine.core.clock import ManualClock
from engine.core.errors import (
    DuplicateClientOrderId,
    InsufficientMargin,
    OrderNotFound,
    OrderRejected,
    OrderStateUnknown,
    UnknownSymbol,
)
from engine.core.secret import Secret
from engine.core.types import Order, OrderStatus, OrderType, Side, TimeInForce
from engine.venues.binance import BinanceVenue
from engine.venues.retry import RetryPolicy

pytestmark = pytest.mark.integration  # starts the simulator (or the engine) on 127.0.0.1


@pytest.fixture
async def venue(sim):  # type: ignore[no-untyped-def]
    v = BinanceVenue(account="main", rest_url=sim.rest_url, ws_url=sim.ws_url, api_key=Secret(sim.key),
                     api_secret=Secret(sim.secret), clock=ManualClock(), rate_limit=False,
                     policy=RetryPolicy(attempts=3))
    await v.start()
    yield v
    await v.close()


def market(cid: str, qty: str, side: Side = Side.BUY, **kw: object) -> Order:
    return Order(cid, "main", "BTCUSDT", side, OrderType.MARKET, D(qty), **kw)  # type: ignore[arg-type]


async def test_instruments_candles_and_mark(venue: BinanceVenue) -> None:
    btc = venue.instruments["BTCUSDT"]
    assert btc.step_size == D("0.001") and btc.min_notional > 0
    mark = await venue.fetch_mark_price("BTCUSDT")
    assert mark.mark_price > 0
    candles = await venue.fetch_candles("BTCUSDT", "1m", mark.event_time - 10 * 60_000, limit=5)
    assert len(candles) == 5 and all(c.close_time == c.open_time + 59_999 for c in candles)


async def test_market_order_fill_position_equity(venue: BinanceVenue) -> None:
    order = await venue.create_order(market("sltE-venue-1", "0.010"))
    assert order.status is OrderStatus.FILLED and order.filled_quantity == D("0.010") and order.average_price
    again = await venue.fetch_order("BTCUSDT", "sltE-venue-1")
    assert again.exchange_order_id == order.exchange_order_id
    [position] = [p for p in await venue.fetch_positions() if p.symbol == "BTCUSDT"]
    assert position.quantity == D("0.010") and position.entry_price == order.average_price
    fills = await venue.fetch_fills("BTCUSDT")
    assert sum(f.quantity for f in fills) == D("0.010") and all(f.fee > 0 for f in fills)
    equity = await venue.fetch_equity()
    assert equity.wallet_balance == D("10000") - sum(f.fee for f in fills)


async def test_rejections_are_typed(venue: BinanceVenue) -> None:
    await venue.create_order(market("sltE-venue-2", "0.002"))
    with pytest.raises(DuplicateClientOrderId):
        await venue.create_order(market("sltE-venue-2", "0.002"))
    with pytest.raises(InsufficientMargin):
        await venue.create_order(market("sltE-venue-3", "50"))
    with pytest.raises(OrderRejected, match="-2022"):
        await venue.create_order(Order("sltX-venue-4", "main", "ETHUSDT", Side.SELL, OrderType.MARKET, D("0.1"),
                                       reduce_only=True))  # flat in ETHUSDT
    with pytest.raises(OrderNotFound):
        await venue.fetch_order("BTCUSDT", "never-sent")
    with pytest.raises(UnknownSymbol):
        await venue.fetch_mark_price("DOGEUSDT")


async def test_limit_and_protective_orders_rest_on_the_exchange(venue: BinanceVenue) -> None:
    mark = (await venue.fetch_mark_price("BTCUSDT")).mark_price
    btc = venue.instruments["BTCUSDT"]
    await venue.create_order(market("sltE-venue-5", "0.005"))
    limit = Order("sltL-venue-6", "main", "BTCUSDT", Side.BUY, OrderType.LIMIT, D("0.005"),
                  price=btc.round_price(mark * D("0.97")), time_in_force=TimeInForce.GTC)
    stop = Order("sltS-venue-7", "main", "BTCUSDT", Side.SELL, OrderType.STOP_MARKET, D("0.005"),
                 stop_price=btc.round_price(mark * D("0.95")), reduce_only=True)
    take = Order("sltT-venue-8", "main", "BTCUSDT", Side.SELL, OrderType.TAKE_PROFIT_MARKET, D("0.005"),
                 stop_price=btc.round_price(mark * D("1.05")), reduce_only=True)
    for o in (limit, stop, take):
        placed = await venue.create_order(o)
        assert placed.status is OrderStatus.NEW and placed.client_order_id == o.client_order_id
    open_ids = {o.client_order_id for o in await venue.fetch_open_orders("BTCUSDT")}
    assert open_ids == {"sltL-venue-6", "sltS-venue-7", "sltT-venue-8"}
    assert (await venue.fetch_order("BTCUSDT", "sltS-venue-7", conditional=True)).type is OrderType.STOP_MARKET
    await venue.cancel_order("BTCUSDT", "sltS-venue-7", conditional=True)
    await venue.cancel_order("BTCUSDT", "sltL-venue-6")
    assert {o.client_order_id for o in await venue.fetch_open_orders()} == {"sltT-venue-8"}


async def test_server_errors_are_retried_and_lost_answers_are_unknown(sim, venue: BinanceVenue) -> None:  # type: ignore[no-untyped-def]
    await sim.control.fault(kind="http_error", path="/fapi/v1/premiumIndex", count=2, status=503)
    calls = venue.calls
    assert (await venue.fetch_mark_price("BTCUSDT")).mark_price > 0  # third attempt succeeds
    assert (venue.calls - calls, venue.failures, venue.rate_limited) == (3, 2, 0)  # what the health monitor reads
    await sim.control.fault(kind="timeout_after_accept", path="/fapi/v1/order", method="POST", count=1, mode="cut")
    with pytest.raises(OrderStateUnknown):
        await venue.create_order(market("sltE-venue-9", "0.002"))
    landed = await venue.fetch_order("BTCUSDT", "sltE-venue-9")
    assert landed.status is OrderStatus.FILLED  # the order exists: resending would have been a duplicate
