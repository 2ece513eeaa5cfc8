from __future__ import annotations

from decimal import Decimal as D

import pytest

from engine.core.errors import MalformedResponse
from engine.core.types import MarginMode, OrderStatus, OrderType, Side
from engine.venues import parse

ORDER = {"orderId": 1001, "symbol": "BTCUSDT", "status": "FILLED", "clientOrderId": "conf-1", "price": "0",
         "avgPrice": "59439.30", "origQty": "0.003", "executedQty": "0.003", "cumQty": "0.003",
         "cumQuote": "178.31790", "timeInForce": "GTC", "type": "MARKET", "reduceOnly": False,
         "closePosition": False, "side": "BUY", "positionSide": "BOTH", "stopPrice": "0",
         "updateTime": 1795519095520}
TRADE = {"symbol": "BTCUSDT", "id": 5003, "orderId": 1001, "side": "BUY", "price": "59439.30", "qty": "0.003",
         "realizedPnl": "0.00000000", "quoteQty": "178.31790", "commission": "0.08915895",
         "commissionAsset": "USDT", "time": 1795519095520, "positionSide": "BOTH", "buyer": True, "maker": False}
POSITION = {"symbol": "BTCUSDT", "positionSide": "BOTH", "positionAmt": "-0.003", "entryPrice": "59439.30000000",
            "markPrice": "59439.30000000", "unRealizedProfit": "0.00000000", "liquidationPrice": "0",
            "isolatedMargin": "0", "notional": "-178.31790000", "updateTime": 1795519095520}
ACCOUNT = {"totalWalletBalance": "9999.88129240", "assets": [
    {"asset": "USDT", "walletBalance": "9999.88129240", "unrealizedProfit": "0.50000000",
     "availableBalance": "9976.13977240", "updateTime": 1795519095520}]}


def test_order_is_exact() -> None:
    o = parse.order(ORDER, "main", 7)
    assert (o.status, o.type, o.side) == (OrderStatus.FILLED, OrderType.MARKET, Side.BUY)
    assert o.average_price == D("59439.30") and o.filled_quantity == D("0.003") and o.price is None
    assert o.exchange_order_id == "1001" and o.event_time == 1795519095520 and o.received_time == 7


def test_fill_position_equity() -> None:
    f = parse.fill(TRADE, "main", 1, client_order_id="conf-1")
    assert f.fee == D("0.08915895") and f.notional == D("0.003") * D("59439.30") and f.record_id == "main:BTCUSDT:5003"
    p = parse.position(POSITION, "main", 1)
    assert p.quantity == D("-0.003") and p.side is Side.SELL and p.margin_mode is MarginMode.CROSS
    e = parse.equity(ACCOUNT, "main", 1)
    assert e.equity == D("10000.38129240")


@pytest.mark.parametrize(("payload", "message"), [
    ({**ORDER, "origQty": "abc"}, "field 'origQty'='abc' is not a number"),
    ({**ORDER, "status": "WEIRD"}, "field 'status'='WEIRD' is not one of"),
    ({k: v for k, v in ORDER.items() if k != "side"}, "field 'side' is missing"),
])
def test_malformed_payloads_name_the_field(payload: dict, message: str) -> None:
    with pytest.raises(MalformedResponse, match=message):
        parse.order(payload, "main", 0)


def test_equity_without_usdt_is_malformed() -> None:
    with pytest.raises(MalformedResponse, match="no USDT balance"):
        parse.equity({"assets": []}, "main", 0)
