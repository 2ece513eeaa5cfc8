"""Order identity, the order state machine and the trade ledger (pure)."""

from __future__ import annotations

from decimal import Decimal as D

import msgspec

from engine.core.ids import client_order_id, is_ours, trade_id
from engine.core.types import ExitReason, OrderStatus, OrderType, Side
from engine.execution.ledger import ClosedTrade, Opened, TradeLedger
from engine.execution.orders import Leg, exit_reason, leg_of, merge, order_id, transition
from tests.execution.builders import ACCOUNT, T0, fill, order, signal


def test_client_ids_derive_from_signal_leg_and_account() -> None:
    sig = signal()
    for leg in Leg:
        cid = order_id(sig.signal_id, leg, ACCOUNT)
        assert cid == client_order_id(sig.signal_id, leg.value, ACCOUNT) and is_ours(cid) and leg_of(cid) is leg
    assert order_id(sig.signal_id, Leg.STOP, ACCOUNT, 1) != order_id(sig.signal_id, Leg.STOP, ACCOUNT)
    assert order_id(sig.signal_id, Leg.ENTRY, "alt") != order_id(sig.signal_id, Leg.ENTRY, ACCOUNT)
    assert leg_of("x-cvBPrNm9abc") is None and leg_of("autoclose-1-btcusdt") is None
    assert exit_reason(order_id(sig.signal_id, Leg.TAKE, ACCOUNT)) is ExitReason.TAKE_PROFIT
    assert exit_reason("autoclose-1-btcusdt") is ExitReason.LIQUIDATION and exit_reason("web_123") is ExitReason.MANUAL


def test_states_only_move_forward() -> None:
    sig = signal()
    pending = order(sig, Leg.ENTRY, Side.BUY, "0.010")
    unknown = transition(pending, OrderStatus.UNKNOWN, T0 + 5, 1)
    assert merge(pending, unknown) == unknown
    new = msgspec.structs.replace(pending, status=OrderStatus.NEW, signal_id="", exchange_order_id="9", event_time=T0 + 1)
    merged = merge(unknown, new)
    assert merged is not None and merged.status is OrderStatus.NEW and merged.signal_id == sig.signal_id
    assert merged.event_time == T0 + 5  # never older than what we knew: the latest state sorts last
    assert merge(merged, new) is None                                       # a repeat
    filled = msgspec.structs.replace(new, status=OrderStatus.FILLED, filled_quantity=D("0.010"))
    done = merge(merged, filled)
    assert done is not None and done.status is OrderStatus.FILLED
    assert merge(done, new) is None and merge(done, transition(done, OrderStatus.CANCELED, T0, 0)) is None
    partial = msgspec.structs.replace(new, status=OrderStatus.PARTIALLY_FILLED, filled_quantity=D("0.004"))
    assert merge(merge(merged, partial), new) is None                       # older report after a partial fill
    # our own transitions: not found -> PENDING again, but a NEW order never goes back to PENDING
    assert merge(unknown, transition(unknown, OrderStatus.PENDING, T0 + 6, 2)).status is OrderStatus.PENDING  # type: ignore[union-attr]
    assert merge(merged, transition(merged, OrderStatus.PENDING, T0 + 6, 2)) is None


def test_a_triggered_stop_keeps_its_identity() -> None:
    sig = signal()
    stop = order(sig, Leg.STOP, Side.SELL, "0.010", status=OrderStatus.NEW, kind=OrderType.STOP_MARKET,
                 stop="59000", exchange_id="algo:3000001")
    child = msgspec.structs.replace(stop, type=OrderType.MARKET, stop_price=None, signal_id="", reduce_only=False,
                                    status=OrderStatus.FILLED, filled_quantity=D("0.010"), exchange_order_id="1000007")
    merged = merge(stop, child)
    assert merged is not None and merged.type is OrderType.STOP_MARKET and merged.stop_price == D("59000")
    assert merged.exchange_order_id == "1000007" and merged.reduce_only and merged.signal_id == sig.signal_id


def test_ledger_folds_fills_into_exact_round_trips() -> None:
    sig = signal()
    entry_cid, stop_cid = order_id(sig.signal_id, Leg.ENTRY, ACCOUNT), order_id(sig.signal_id, Leg.STOP, ACCOUNT)
    ledger = TradeLedger(ACCOUNT, "BTCUSDT", lambda cid: sig.signal_id if cid == entry_cid else None)
    opened = ledger.apply(fill(entry_cid, 1, Side.BUY, "0.006", "60000", fee="0.18"))
    assert isinstance(opened[0], Opened) and opened[0].trade.trade_id == trade_id(sig.signal_id, ACCOUNT)
    assert ledger.apply(fill(entry_cid, 2, Side.BUY, "0.004", "60010", fee="0.12")) == []
    assert ledger.apply(fill(entry_cid, 2, Side.BUY, "0.004", "60010", fee="0.12")) == []  # a repeat changes nothing
    trade = ledger.trade
    assert trade is not None and trade.entry_qty == D("0.010") and trade.entry_price == D("60004")
    assert ledger.apply(fill(stop_cid, 3, Side.SELL, "0.004", "59900", fee="0.11", pnl="-0.416")) == []
    [closed] = ledger.apply(fill(stop_cid, 4, Side.SELL, "0.006", "59900", fee="0.17", pnl="-0.624", at=T0 + 9))
    assert isinstance(closed, ClosedTrade) and closed.reason is ExitReason.STOP_LOSS and closed.closed_at == T0 + 9
    assert closed.trade.realized == D("-1.040") and closed.trade.fees == D("0.58") and closed.exit_price == D("59900")
    assert closed.trade.size == D("0.010") and ledger.position == 0 and ledger.trade is None


def test_a_fill_through_zero_closes_one_trade_and_opens_the_next() -> None:
    ledger = TradeLedger(ACCOUNT, "BTCUSDT", lambda cid: None)
    ledger.apply(fill("web_1", 1, Side.BUY, "0.010", "60000", exchange_id="11"))
    events = ledger.apply(fill("web_2", 2, Side.SELL, "0.015", "60100", fee="0.45", pnl="1.0", exchange_id="12"))
    assert [type(e) for e in events] == [ClosedTrade, Opened]
    closed, opened = events
    assert closed.trade.realized == D("1.0") and closed.trade.fees == D("0.03") + D("0.45")  # type: ignore[union-attr]
    assert closed.reason is ExitReason.MANUAL  # type: ignore[union-attr]
    assert opened.trade.side is Side.SELL and opened.trade.entry_qty == D("0.005") and opened.trade.fees == 0  # type: ignore[union-attr]
    assert opened.trade.trade_id == trade_id("order:12", ACCOUNT) and ledger.position == D("-0.005")  # type: ignore[union-attr]
