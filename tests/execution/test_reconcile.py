"""Reconciliation rules (pure): adopt, cancel orphans, leave foreign orders, record what the store lacks,
re-derive trades from fills."""

from __future__ import annotations

from decimal import Decimal as D

import msgspec

from engine.core.ids import trade_id
from engine.core.types import (
    ExitReason,
    FundingPayment,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TradeEntry,
    TradeExit,
)
from engine.execution.orders import Leg
from engine.execution.reconcile import ExchangeView, StoreView, rebuild, reconcile
from tests.execution.builders import ACCOUNT, MINUTE, T0, book, fill, order, signal


def store_view(*orders: Order, fills: frozenset[str] = frozenset(), entries: frozenset[str] = frozenset(),
               exits: frozenset[str] = frozenset()) -> StoreView:
    return StoreView(tuple(orders), fills, frozenset(), entries, exits)


def test_orders_are_adopted_orphans_cancelled_and_foreign_ones_left_alone() -> None:
    sig, old = signal(5), signal(0)
    entry = order(sig, Leg.ENTRY, Side.BUY, "0.010", status=OrderStatus.UNKNOWN, at=T0 + 5 * MINUTE)
    stop = order(sig, Leg.STOP, Side.SELL, "0.010", kind=OrderType.STOP_MARKET, stop="59900", at=T0 + 5 * MINUTE)
    exit_ = order(sig, Leg.EXIT, Side.SELL, "0.010", status=OrderStatus.UNKNOWN, at=T0 + 5 * MINUTE)
    stale_entry = msgspec.structs.replace(order(old, Leg.ENTRY, Side.BUY, "0.010", kind=OrderType.LIMIT),
                                          price=D("59000"), status=OrderStatus.NEW, exchange_order_id="7")
    eth_stop = msgspec.structs.replace(order(old, Leg.STOP, Side.SELL, "0.1", kind=OrderType.STOP_MARKET, stop="2000"),
                                       symbol="ETHUSDT", status=OrderStatus.NEW, exchange_order_id="algo:8")
    foreign = Order("web_manual_1", ACCOUNT, "BTCUSDT", Side.BUY, OrderType.LIMIT, D("0.001"), price=D("50000"),
                    status=OrderStatus.NEW, exchange_order_id="9")
    exchange = ExchangeView(
        open_orders=(msgspec.structs.replace(stop, status=OrderStatus.NEW, signal_id="", exchange_order_id="algo:1"),
                     stale_entry, eth_stop, foreign),
        positions=(Position(ACCOUNT, "BTCUSDT", D("0.010"), D("60000")),),
        fills=(fill(entry.client_order_id, 1, Side.BUY, "0.010", "60000"),
               fill(entry.client_order_id, 2, Side.BUY, "0.010", "60000")),
        funding=(FundingPayment(ACCOUNT, "BTCUSDT", "42", D("-0.01"), event_time=T0),),
        looked_up={entry.client_order_id: msgspec.structs.replace(entry, status=OrderStatus.FILLED, signal_id="",
                                                                  filled_quantity=D("0.010"), exchange_order_id="3"),
                   exit_.client_order_id: None})
    result = reconcile(store_view(entry, stop, exit_, fills=frozenset({f"{ACCOUNT}:BTCUSDT:1"})), exchange,
                       now_ms=T0 + 6 * MINUTE, interval_ms=MINUTE)
    assert result.orders[entry.client_order_id].status is OrderStatus.FILLED
    assert result.orders[entry.client_order_id].signal_id == sig.signal_id   # kept from the store
    assert result.orders[stop.client_order_id].status is OrderStatus.NEW and result.adopted[0].client_order_id == \
        stop.client_order_id
    assert result.orders[exit_.client_order_id].status is OrderStatus.PENDING and result.unsent == [exit_]
    cancelled = {o.client_order_id: why for o, why in result.cancel}
    assert cancelled == {stale_entry.client_order_id: "unfilled entry older than one candle",
                         eth_stop.client_order_id: "reduces a position that is not open"}
    assert result.foreign == [foreign]
    assert [r.trade_id for r in result.record if hasattr(r, "trade_id") and hasattr(r, "fee")] == ["2"]
    assert result.new_fills == 1 and result.new_funding == 1
    assert "1 open orders adopted, 2 orphans to cancel, 1 orders not ours" in result.summary()


def test_trades_are_re_derived_from_fills_and_missing_records_added() -> None:
    b = book()
    first, second = signal(0), signal(10, Side.SELL)
    e1 = order(first, Leg.ENTRY, Side.BUY, "0.010", status=OrderStatus.FILLED, filled="0.010")
    s1 = order(first, Leg.STOP, Side.SELL, "0.010", status=OrderStatus.FILLED, filled="0.010",
               kind=OrderType.STOP_MARKET, stop="59900")
    e2 = order(second, Leg.ENTRY, Side.SELL, "0.020", status=OrderStatus.FILLED, filled="0.020")
    for o in (e1, s1, e2):
        b.orders[o.client_order_id] = o
    b.signals[first.signal_id] = first
    fills = [fill(e1.client_order_id, 1, Side.BUY, "0.010", "60000", fee="0.3", at=T0),
             fill(s1.client_order_id, 2, Side.SELL, "0.010", "59900", fee="0.3", pnl="-1", at=T0 + 5 * MINUTE),
             fill(e2.client_order_id, 3, Side.SELL, "0.020", "59800", fee="0.6", at=T0 + 11 * MINUTE)]
    funding = [FundingPayment(ACCOUNT, "BTCUSDT", "77", D("-0.05"), event_time=T0 + 2 * MINUTE),
               FundingPayment(ACCOUNT, "BTCUSDT", "78", D("0.07"), event_time=T0 + 8 * MINUTE)]
    first_trade = trade_id(first.signal_id, ACCOUNT)
    records, notes = rebuild({"BTCUSDT": b}, fills, funding, store_view(entries=frozenset({first_trade})),
                             [Position(ACCOUNT, "BTCUSDT", D("-0.020"), D("59800"))], now_ms=T0 + 12 * MINUTE,
                             received_ms=1)
    [exit_] = [r for r in records if isinstance(r, TradeExit)]
    assert (exit_.trade_id, exit_.realized_pnl, exit_.fees, exit_.funding, exit_.reason) == (
        first_trade, D("-1"), D("0.6"), D("-0.05"), ExitReason.STOP_LOSS)
    [entry] = [r for r in records if isinstance(r, TradeEntry)]   # the first entry was stored already
    assert (entry.trade_id, entry.side, entry.quantity, entry.price) == (
        trade_id(second.signal_id, ACCOUNT), Side.SELL, D("0.020"), D("59800"))
    assert b.position == D("-0.020") and len(notes) == 2


def test_a_position_the_fills_do_not_explain_is_adopted_as_its_own_trade() -> None:
    b = book()
    records, notes = rebuild({"BTCUSDT": b}, [], [], store_view(), [Position(ACCOUNT, "BTCUSDT", D("0.5"), D("61000"))],
                             now_ms=T0, received_ms=1)
    [entry] = records
    assert isinstance(entry, TradeEntry) and entry.quantity == D("0.5") and entry.price == D("61000")
    assert b.position == D("0.5") and "adopting the exchange's position" in notes[0]


def test_fills_that_leave_a_position_the_exchange_does_not_hold_give_way_to_the_exchange() -> None:
    """The exchange lists open positions only: a symbol it leaves out is flat."""
    b = book()
    sig = signal()
    take = order(sig, Leg.TAKE, Side.BUY, "0.010", status=OrderStatus.FILLED, filled="0.010")
    b.orders[take.client_order_id] = take
    stray = [fill(take.client_order_id, 5, Side.BUY, "0.010", "60000")]  # its entry's fill is missing
    records, notes = rebuild({"BTCUSDT": b}, stray, [], store_view(), [], now_ms=T0, received_ms=1)
    assert b.position == 0 and b.ledger.trade is None and "the exchange holds 0" in notes[-1]
