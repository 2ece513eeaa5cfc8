from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from engine.core.types import Fill, Order, OrderStatus, OrderType, Side, TradeEntry, TradeExit


def test_money_is_decimal_and_round_trips_exactly() -> None:
    fill = Fill(account="main", symbol="BTCUSDT", trade_id="5003", client_order_id="c", exchange_order_id="1001",
                side=Side.BUY, quantity=Decimal("0.003"), price=Decimal("59439.30"), fee=Decimal("0.08915895"),
                fee_asset="USDT", event_time=1, received_time=2)
    again = msgspec.json.decode(msgspec.json.encode(fill), type=Fill)
    assert again == fill and again.notional == Decimal("178.31790")
    assert fill.record_id == "main:BTCUSDT:5003"


def test_order_record_id_changes_with_state() -> None:
    new = Order("cid", "main", "BTCUSDT", Side.BUY, OrderType.MARKET, Decimal("1"), status=OrderStatus.NEW)
    filled = msgspec.structs.replace(new, status=OrderStatus.FILLED, filled_quantity=Decimal("1"))
    assert new.record_id != filled.record_id
    with pytest.raises(AttributeError):
        new.status = OrderStatus.FILLED  # type: ignore[misc]


def test_trade_net_pnl() -> None:
    entry = TradeEntry("t1", "main", "BTCUSDT", Side.BUY, Decimal("1"), Decimal("100"))
    exit_ = TradeExit("t1", "main", "BTCUSDT", Decimal("1"), Decimal("110"), realized_pnl=Decimal("10"),
                      fees=Decimal("0.1"), funding=Decimal("-0.05"))
    assert entry.record_id != exit_.record_id
    assert exit_.net_pnl == Decimal("9.85")
