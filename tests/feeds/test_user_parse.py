"""User-data frames → domain events: the spec's sample payloads, exactly; bad frames name the problem."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from engine.core.types import MarginMode, OrderStatus, OrderType, Side
from engine.core.user_events import AccountUpdate, AlgoUpdate, OrderUpdate, StreamExpired
from engine.feeds.user_parse import UserFrameError, parse_user_frame

TRADE = {"e": "ORDER_TRADE_UPDATE", "E": 1795519169120, "T": 1795519169115, "o": {
    "s": "BTCUSDT", "c": "conf-us-4be1", "S": "BUY", "o": "MARKET", "f": "GTC", "q": "0.003", "p": "0",
    "ap": "59439.30", "sp": "0", "x": "TRADE", "X": "FILLED", "i": 1006, "l": "0.003", "z": "0.003", "L": "59439.30",
    "N": "USDT", "n": "0.08915895", "T": 1795519169115, "t": 5006, "b": "0", "a": "0", "m": False, "R": False,
    "wt": "CONTRACT_PRICE", "ot": "MARKET", "ps": "BOTH", "cp": False, "rp": "0", "pP": False, "si": 0, "ss": 0,
    "V": "EXPIRE_MAKER", "pm": "NONE", "gtd": 0}}
ACCOUNT = {"e": "ACCOUNT_UPDATE", "E": 1795519169121, "T": 1795519169115, "a": {"m": "ORDER",
           "B": [{"a": "USDT", "wb": "9999.79213345", "cw": "9999.79213345", "bc": "0"}],
           "P": [{"s": "BTCUSDT", "pa": "0.003", "ep": "59439.30000", "bep": "59469.02", "cr": "0",
                  "up": "0.00000000", "mt": "cross", "iw": "0.00000000", "ps": "BOTH"}]}}
ALGO = {"e": "ALGO_UPDATE", "T": 1795519169115, "E": 1795519169120, "o": {
    "caid": "sltS-abc", "aid": 3000001, "at": "CONDITIONAL", "o": "STOP_MARKET", "s": "BTCUSDT", "S": "SELL",
    "ps": "BOTH", "f": "GTC", "q": "0.003", "X": "TRIGGERED", "ai": "1000007", "ap": "0", "aq": "0", "act": "MARKET",
    "tp": "58000.0", "p": "0", "R": True, "tt": 1795519169115, "rm": ""}}


def frame(payload: dict, **changes: object) -> bytes:  # type: ignore[type-arg]
    data = json.loads(json.dumps(payload))
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = data
        for key in parents:
            target = target[key]
        target[last] = value
    return json.dumps(data).encode()


def test_a_fill_and_the_order_state_exactly() -> None:
    event = parse_user_frame(frame(TRADE), "main", 7)
    assert isinstance(event, OrderUpdate) and event.execution == "TRADE"
    order, fill = event.order, event.fill
    assert (order.client_order_id, order.status, order.filled_quantity, order.average_price, order.exchange_order_id) \
        == ("conf-us-4be1", OrderStatus.FILLED, D("0.003"), D("59439.30"), "1006")
    assert fill is not None and (fill.trade_id, fill.quantity, fill.price, fill.fee, fill.realized_pnl) == (
        "5006", D("0.003"), D("59439.30"), D("0.08915895"), D("0"))
    assert fill.side is Side.BUY and fill.event_time == 1795519169115 and fill.received_time == 7
    new = parse_user_frame(frame(TRADE, o__x="NEW", o__X="NEW", o__l="0", o__z="0"), "main", 7)
    assert isinstance(new, OrderUpdate) and new.fill is None and new.order.status is OrderStatus.NEW
    liquidation = parse_user_frame(frame(TRADE, o__o="LIQUIDATION", o__x="CALCULATED", o__c="autoclose-1"), "main", 7)
    assert isinstance(liquidation, OrderUpdate) and liquidation.fill is not None
    assert liquidation.order.type is OrderType.MARKET


def test_account_and_conditional_updates_and_expiry() -> None:
    account = parse_user_frame(frame(ACCOUNT), "main", 7)
    assert isinstance(account, AccountUpdate) and account.reason == "ORDER" and account.wallet_balance == D("9999.79213345")
    [position] = account.positions
    assert (position.quantity, position.entry_price, position.margin_mode) == (D("0.003"), D("59439.30000"),
                                                                               MarginMode.CROSS)
    funding = parse_user_frame(frame(ACCOUNT, a__m="FUNDING_FEE", a__P=[], a__B=[{"a": "USDT", "wb": "9999.7",
                                                                                  "cw": "9999.7", "bc": "-0.09"}]),
                               "main", 7)
    assert isinstance(funding, AccountUpdate) and funding.balance_change == D("-0.09") and funding.positions == ()
    algo = parse_user_frame(frame(ALGO), "main", 7)
    assert isinstance(algo, AlgoUpdate) and algo.algo_status == "TRIGGERED" and algo.actual_order_id == "1000007"
    assert algo.order.type is OrderType.STOP_MARKET and algo.order.stop_price == D("58000.0")
    assert algo.order.exchange_order_id == "algo:3000001" and algo.order.reduce_only
    expired = parse_user_frame(b'{"e":"listenKeyExpired","E":"1795522769120","listenKey":"8e8e"}', "main", 7)
    assert expired == StreamExpired("8e8e", 1795522769120)
    combined = parse_user_frame(json.dumps({"stream": "8e8e", "data": TRADE}).encode(), "main", 7)
    assert isinstance(combined, OrderUpdate)
    assert parse_user_frame(b'{"e":"ACCOUNT_CONFIG_UPDATE","E":1,"T":1,"ac":{"s":"BTCUSDT","l":5}}', "main", 7) is None


@pytest.mark.parametrize(("raw", "message"), [
    (b'{"e":"ORDER_TRADE_UP', "not JSON"),
    (b"[1,2]", "expected a JSON object"),
    (b'{"E":1}', "field 'e'"),
    (frame(TRADE, o__L="NaN"), "'L'=NaN is not a finite number"),
    (frame(TRADE, o__X="WEIRD"), "order status X='WEIRD' is unknown"),
    (frame(TRADE, o__S="UP"), "neither BUY nor SELL"),
    (frame(TRADE, o__q="abc"), "ORDER_TRADE_UPDATE"),
    (frame(ALGO, o__o="TRAILING_STOP_MARKET"), "not a protective stop type"),
    (frame(ACCOUNT, a__B=[{"a": "USDT", "wb": "Infinity"}]), "'wb'=Infinity"),
])
def test_bad_frames_name_the_problem(raw: bytes, message: str) -> None:
    with pytest.raises(UserFrameError, match=message):
        parse_user_frame(raw, "main", 7)
