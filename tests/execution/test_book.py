"""The per-symbol book and its planner (pure): every rule of `engine.execution.book`."""

from __future__ import annotations

import logging
from decimal import Decimal as D

import msgspec
import pytest

from engine.core.types import ExitReason, OrderStatus, OrderType, Side
from engine.execution.book import Abandon, Book, Cancel, Place, Resolve
from engine.execution.orders import Leg, order_id, transition
from engine.execution.pnl import PnlCalculator, PriceSource
from engine.execution.portfolio import Holding, Portfolio
from tests.execution.builders import ACCOUNT, T0, always_fresh, book, fill, never_fresh, order, signal, sized


def placed(commands: list) -> list:  # type: ignore[type-arg]
    return [c.order for c in commands if isinstance(c, Place)]


def ack(b: Book, cid: str, status: OrderStatus, filled: str = "0", exchange_id: str = "1") -> None:
    o = b.orders[cid]
    b.on_order(msgspec.structs.replace(o, status=status, filled_quantity=D(filled), exchange_order_id=exchange_id))


def open_long(b: Book, qty: str = "0.010", price: str = "60000") -> str:
    sig = signal()
    assert b.on_signal(sig) == "enter"
    [entry] = placed(b.plan(T0, always_fresh, sized(qty)))
    assert entry.client_order_id == order_id(sig.signal_id, Leg.ENTRY, ACCOUNT) and entry.status is OrderStatus.PENDING
    ack(b, entry.client_order_id, OrderStatus.FILLED, qty, "101")
    b.on_fill(fill(entry.client_order_id, 1, Side.BUY, qty, price, exchange_id="101"))
    return sig.signal_id


def test_an_entry_settles_then_gets_a_stop_loss_and_a_take_profit() -> None:
    b = book()
    sig = signal()
    b.on_signal(sig)
    [entry] = placed(b.plan(T0, always_fresh, sized()))
    assert placed(b.plan(T0, always_fresh, sized())) == [entry]  # level-triggered: the same order, not a second one
    ack(b, entry.client_order_id, OrderStatus.FILLED, "0.010", "101")
    assert b.position == D("0.010")                 # the order report counts before its fill arrives
    assert placed(b.plan(T0, always_fresh, sized())) == []  # no entry price yet: wait for the fill
    b.on_fill(fill(entry.client_order_id, 1, Side.BUY, "0.010", "60000", exchange_id="101"))
    assert b.position == D("0.010") and b.entry_record(0) is not None
    stop, take = placed(b.plan(T0, always_fresh, sized()))
    assert (stop.type, stop.side, stop.quantity, stop.stop_price) == (OrderType.STOP_MARKET, Side.SELL, D("0.010"),
                                                                      D("59925.0"))
    assert (take.type, take.stop_price) == (OrderType.TAKE_PROFIT_MARKET, D("60150.0"))
    assert stop.reduce_only and take.reduce_only
    assert stop.client_order_id == order_id(sig.signal_id, Leg.STOP, ACCOUNT)


def test_a_position_announced_before_its_fill_is_held_at_the_reported_fill_price() -> None:
    """An order report can say FILLED before the fill itself arrives: until then the position is the
    report's, at its average price, so its value and the account's equity stay right (entry 0 would
    value a short of 0.289 ETH at -516 USDT and trip the kill switch on a phantom drawdown)."""
    b = book()
    b.on_signal(signal(0, Side.SELL))
    [entry] = placed(b.plan(T0, always_fresh, sized()))
    b.on_order(msgspec.structs.replace(entry, status=OrderStatus.FILLED, filled_quantity=D("0.010"),
                                       average_price=D("60010.5"), exchange_order_id="101"))
    held = b.holding()
    assert (held.quantity, held.entry_price) == (D("-0.010"), D("60010.5"))
    pnl = PnlCalculator(max_age_ms=60_000)
    pnl.update("BTCUSDT", PriceSource.MARK, D("60000"), T0)
    portfolio = Portfolio(ACCOUNT, pnl)
    portfolio.on_wallet(D("1000"))
    assert portfolio.equity([held], T0) == D("1000") + D("0.105")
    b.on_fill(fill(entry.client_order_id, 1, Side.SELL, "0.010", "60010.5", exchange_id="101"))
    assert (b.holding().quantity, b.holding().entry_price) == (D("-0.010"), D("60010.5"))


def test_one_position_per_symbol_and_an_opposite_signal_closes_and_reverses() -> None:
    b = book()
    key = open_long(b)
    for o in placed(b.plan(T0, always_fresh, sized())):
        ack(b, o.client_order_id, OrderStatus.NEW, exchange_id=f"algo:{o.client_order_id}")
    assert b.on_signal(signal(1)).startswith("ignored: already long")
    short = signal(2, Side.SELL)
    assert b.on_signal(short) == "close the long and reverse"
    [exit_] = placed(b.plan(T0 + 3 * 60_000, always_fresh, sized()))
    assert exit_.client_order_id == order_id(short.signal_id, Leg.EXIT, ACCOUNT)
    assert (exit_.side, exit_.quantity, exit_.reduce_only) == (Side.SELL, D("0.010"), True)
    ack(b, exit_.client_order_id, OrderStatus.FILLED, "0.010", "102")
    b.on_fill(fill(exit_.client_order_id, 2, Side.SELL, "0.010", "60100", exchange_id="102", pnl="1"))
    commands = b.plan(T0, always_fresh, sized())
    cancels = [c for c in commands if isinstance(c, Cancel)]
    assert {c.order.signal_id for c in cancels} == {key} and len(cancels) == 2 and not placed(commands)
    for c in cancels:
        b.on_order(transition(c.order, OrderStatus.CANCELED, T0, 0))
    [reverse] = placed(b.plan(T0, always_fresh, sized()))
    assert reverse.client_order_id == order_id(short.signal_id, Leg.ENTRY, ACCOUNT) and reverse.side is Side.SELL


def test_a_signal_gone_stale_before_the_book_could_act_is_dropped_and_said(caplog: pytest.LogCaptureFixture) -> None:
    b = book()
    sig = signal()
    assert b.on_signal(sig) == "enter"
    with caplog.at_level(logging.INFO, logger="engine.execution"):
        assert b.plan(T0, never_fresh, sized()) == []
    assert b.wanted is None and placed(b.plan(T0, always_fresh, sized())) == []
    assert f"signal {sig.signal_id} dropped" in caplog.text


def test_the_other_leg_is_cancelled_when_one_fills() -> None:
    b = book()
    open_long(b)
    stop, take = placed(b.plan(T0, always_fresh, sized()))
    ack(b, stop.client_order_id, OrderStatus.NEW, exchange_id="algo:1")
    ack(b, take.client_order_id, OrderStatus.NEW, exchange_id="algo:2")
    ack(b, take.client_order_id, OrderStatus.FILLED, "0.010", "103")  # triggered: its market order filled
    assert b.position == 0
    [cancel] = b.plan(T0, always_fresh, sized())
    assert isinstance(cancel, Cancel) and cancel.order.client_order_id == stop.client_order_id


def test_unanswered_orders_are_resolved_and_stale_entries_abandoned() -> None:
    b = book()
    sig = signal()
    b.on_signal(sig)
    [entry] = placed(b.plan(T0, always_fresh, sized()))
    b.on_order(transition(entry, OrderStatus.UNKNOWN, T0, 0))
    assert [type(c) for c in b.plan(T0, always_fresh, sized())] == [Resolve]
    b.on_order(transition(b.orders[entry.client_order_id], OrderStatus.PENDING, T0, 0))  # the exchange never saw it
    assert placed(b.plan(T0, always_fresh, sized())) == [b.orders[entry.client_order_id]]
    [abandon] = b.plan(T0, never_fresh, sized())
    assert isinstance(abandon, Abandon) and "older than one candle" in abandon.why


def test_a_used_up_protective_order_is_replaced_by_the_next_generation() -> None:
    b = book()
    key = open_long(b)
    stop, _ = placed(b.plan(T0, always_fresh, sized()))
    ack(b, stop.client_order_id, OrderStatus.NEW, exchange_id="algo:1")
    b.on_order(transition(b.orders[stop.client_order_id], OrderStatus.CANCELED, T0, 0))  # cancelled by hand
    again = [o for o in placed(b.plan(T0, always_fresh, sized())) if o.type is OrderType.STOP_MARKET]
    assert [o.client_order_id for o in again] == [order_id(key, Leg.STOP, ACCOUNT, 1)]


def test_exits_and_stops_without_a_position_are_not_sent() -> None:
    b = book()
    sig = signal()
    exit_ = order(sig, Leg.EXIT, Side.SELL, "0.010")
    b.orders[exit_.client_order_id] = exit_
    [abandon] = b.plan(T0, always_fresh, sized())
    assert isinstance(abandon, Abandon) and abandon.why == "no position for it to reduce"


def test_a_long_run_keeps_the_book_small() -> None:
    b = book()
    open_long(b)
    stop, take = placed(b.plan(T0, always_fresh, sized()))
    ack(b, stop.client_order_id, OrderStatus.NEW, exchange_id="algo:1")
    ack(b, take.client_order_id, OrderStatus.NEW, exchange_id="algo:2")
    assert b.prune(T0 + 10**9) == 0  # everything belongs to the open trade
    ack(b, stop.client_order_id, OrderStatus.FILLED, "0.010", "104")
    b.on_fill(fill(stop.client_order_id, 2, Side.SELL, "0.010", "59900", exchange_id="104", at=T0 + 5))
    b.on_order(transition(b.orders[take.client_order_id], OrderStatus.CANCELED, T0 + 5, 0))
    assert b.prune(T0 + 10**9) == 3 and b.orders == {}
    assert set(b.ledger.seen) == {"1", "2"}  # kept: a poll asks from the newest fill, however old
    b.on_order(msgspec.structs.replace(stop, status=OrderStatus.FILLED, filled_quantity=D("0.010")))  # late echo
    assert b.orders == {} and b.position == 0


def test_a_position_in_doubt_sends_nothing_until_verified() -> None:
    b = book()
    open_long(b)
    b.doubt = "the exchange refused reduce-only sltX-..."
    assert b.plan(T0, always_fresh, sized()) == []
    b.doubt = ""
    assert len(placed(b.plan(T0, always_fresh, sized()))) == 2


def test_the_operators_close_all_closes_at_market_once_and_cancels_the_protection() -> None:
    b = book()
    key = open_long(b)
    for o in placed(b.plan(T0, always_fresh, sized())):
        ack(b, o.client_order_id, OrderStatus.NEW, exchange_id=f"algo:{o.client_order_id}")
    b.on_signal(signal(2, Side.SELL))                       # a reversal wanted: the close-all forgets it
    assert b.close("cmd-1", T0) == "closing long 0.010 at market"
    assert b.close("cmd-1", T0) == "already closing"        # the same command again: no second order
    [close] = placed(b.plan(T0, always_fresh, sized()))
    assert close.client_order_id == order_id("cmd-1:BTCUSDT", Leg.CLOSE, ACCOUNT)   # one per symbol
    assert (close.side, close.type, close.quantity, close.reduce_only) == (Side.SELL, OrderType.MARKET, D("0.010"), True)
    ack(b, close.client_order_id, OrderStatus.FILLED, "0.010", "103")
    closed = b.on_fill(fill(close.client_order_id, 3, Side.SELL, "0.010", "59990", exchange_id="103", pnl="-0.1"))
    assert [e.reason for e in closed if hasattr(e, "reason")] == [ExitReason.MANUAL]
    commands = b.plan(T0, always_fresh, sized())
    assert {c.order.signal_id for c in commands if isinstance(c, Cancel)} == {key} and not placed(commands)
    assert b.close("cmd-2", T0) == "flat"


def test_a_close_all_on_a_flat_book_abandons_an_entry_not_yet_sent() -> None:
    b = book()
    assert b.on_signal(signal()) == "enter"
    [entry] = placed(b.plan(T0, always_fresh, sized()))            # recorded PENDING, its Place not run yet
    assert b.close("cmd-1", T0) == "flat, an entry in flight will not stay open"
    [abandon] = b.plan(T0, always_fresh, sized())
    assert isinstance(abandon, Abandon) and abandon.order == entry and "close-all came first" in abandon.why
    b.on_order(transition(entry, OrderStatus.CANCELED, T0, 0))
    assert b.plan(T0, always_fresh, sized()) == [] and b.closing is None


def test_a_close_all_on_a_flat_book_closes_an_entry_that_was_already_sent_once_it_fills() -> None:
    b = book()
    sig = signal()
    b.on_signal(sig)
    [entry] = placed(b.plan(T0, always_fresh, sized()))
    ack(b, entry.client_order_id, OrderStatus.NEW, exchange_id="101")   # sent before the command arrived
    assert b.close("cmd-1", T0) == "flat, an entry in flight will not stay open"
    ack(b, entry.client_order_id, OrderStatus.FILLED, "0.010", "101")
    b.on_fill(fill(entry.client_order_id, 1, Side.BUY, "0.010", "60000", exchange_id="101"))
    [close] = placed(b.plan(T0, always_fresh, sized()))
    assert close.client_order_id == order_id("cmd-1:BTCUSDT", Leg.CLOSE, ACCOUNT) and close.side is Side.SELL
    assert b.closing is None and placed(b.plan(T0, always_fresh, sized())) == [close]   # no protection meanwhile


def test_a_second_snapshot_at_the_same_exchange_time_gets_its_own_record_ids() -> None:
    """The final snapshot at a stop can fall on the last periodic one's exchange time; the store writes a
    record id once, so equal ids would keep the stale wallet."""
    pnl = PnlCalculator(max_age_ms=60_000)
    pnl.update("BTCUSDT", PriceSource.MARK, D("60000"), T0)
    portfolio = Portfolio(ACCOUNT, pnl)
    portfolio.on_wallet(D("1000"))
    held = [Holding("BTCUSDT", D("0.010"), D("59990"))]
    first = portfolio.snapshot(held, T0, T0)
    portfolio.on_wallet(D("1002.5"))                      # a fill settled after the periodic snapshot
    final = portfolio.snapshot(held, T0, T0 + 5)
    assert [r.event_time for r in final] == [T0 + 1, T0 + 1]
    assert {r.record_id for r in first}.isdisjoint(r.record_id for r in final)
    assert final[-1].wallet_balance == D("1002.5") and portfolio.snapshot(held, T0 + 60_000, T0)[0].event_time == T0 + 60_000
