"""Binance USDⓈ-M JSON → domain types, exactly (decimal strings become `Decimal`, never floats).

ccxt's unified dicts carry floats, so the adapter reads the raw exchange payload ccxt keeps in
`info`. Each parser keeps one sample payload in its docstring. Anything missing or malformed
raises `MalformedResponse` naming the payload and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.core.errors import MalformedResponse
from engine.core.instrument import Instrument
from engine.core.types import (
    ZERO,
    EquitySnapshot,
    Fill,
    FundingPayment,
    MarginMode,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
)

Json = Mapping[str, Any]
_ALGO_TYPES = {"STOP_MARKET": OrderType.STOP_MARKET, "TAKE_PROFIT_MARKET": OrderType.TAKE_PROFIT_MARKET}
_ALGO_STATUS = {"NEW": OrderStatus.NEW, "TRIGGERING": OrderStatus.NEW, "TRIGGERED": OrderStatus.FILLED,
                "FINISHED": OrderStatus.FILLED, "CANCELED": OrderStatus.CANCELED, "EXPIRED": OrderStatus.EXPIRED,
                "REJECTED": OrderStatus.REJECTED}


def dec(payload: Json, key: str, what: str, default: Decimal | None = None) -> Decimal:
    raw = payload.get(key)
    if raw is None or raw == "":
        if default is not None:
            return default
        raise MalformedResponse(f"{what}: field {key!r} is missing")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise MalformedResponse(f"{what}: field {key!r}={raw!r} is not a number") from None
    if not value.is_finite():
        raise MalformedResponse(f"{what}: field {key!r}={raw!r} is not finite")
    return value


def integer(payload: Json, key: str, what: str, default: int | None = None) -> int:
    raw = payload.get(key)
    if raw is None:
        if default is not None:
            return default
        raise MalformedResponse(f"{what}: field {key!r} is missing")
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise MalformedResponse(f"{what}: field {key!r}={raw!r} is not an integer") from None


def text(payload: Json, key: str, what: str) -> str:
    raw = payload.get(key)
    if not isinstance(raw, str) or not raw:
        raise MalformedResponse(f"{what}: field {key!r} is missing")
    return raw


def _enum(enum: type, raw: str, what: str, key: str) -> Any:
    try:
        return enum(raw)
    except ValueError:
        raise MalformedResponse(f"{what}: field {key!r}={raw!r} is not one of {[m.value for m in enum]}") from None


def order(payload: Json, account: str, received_time: int, signal_id: str = "") -> Order:
    """`{"orderId":1001,"symbol":"BTCUSDT","status":"FILLED","clientOrderId":"c1","price":"0",
    "avgPrice":"59439.30","origQty":"0.003","executedQty":"0.003","cumQuote":"178.31790",
    "timeInForce":"GTC","type":"MARKET","reduceOnly":false,"side":"BUY","stopPrice":"0",
    "updateTime":1795519095520}`"""
    what = f"order {payload.get('clientOrderId', '?')}"
    if "algoId" in payload:
        return algo_order(payload, account, received_time, signal_id)
    price = dec(payload, "price", what, ZERO)
    stop = dec(payload, "stopPrice", what, ZERO)
    average = dec(payload, "avgPrice", what, ZERO)
    tif = payload.get("timeInForce")
    return Order(
        client_order_id=text(payload, "clientOrderId", what),
        account=account,
        symbol=text(payload, "symbol", what),
        side=_enum(Side, text(payload, "side", what), what, "side"),
        type=_enum(OrderType, text(payload, "type", what), what, "type"),
        quantity=dec(payload, "origQty", what),
        price=price or None,
        stop_price=stop or None,
        reduce_only=bool(payload.get("reduceOnly", False)),
        time_in_force=TimeInForce(tif) if tif in TimeInForce.__members__ else None,
        signal_id=signal_id,
        status=_enum(OrderStatus, text(payload, "status", what), what, "status"),
        exchange_order_id=str(integer(payload, "orderId", what)),
        filled_quantity=dec(payload, "executedQty", what, ZERO),
        average_price=average or None,
        event_time=integer(payload, "updateTime", what, integer(payload, "time", what, 0)),
        received_time=received_time,
    )


def algo_order(payload: Json, account: str, received_time: int, signal_id: str = "") -> Order:
    """A conditional (algo) order: `{"algoId":2001,"clientAlgoId":"sltS-...","symbol":"BTCUSDT",
    "side":"SELL","orderType":"STOP_MARKET","quantity":"0.003","triggerPrice":"58000",
    "algoStatus":"NEW","reduceOnly":true,"updateTime":1795519095520}`"""
    what = f"algo order {payload.get('clientAlgoId', '?')}"
    kind = text(payload, "orderType", what)
    if kind not in _ALGO_TYPES:
        raise MalformedResponse(f"{what}: orderType {kind!r} is not a protective stop type")
    status = text(payload, "algoStatus", what)
    if status not in _ALGO_STATUS:
        raise MalformedResponse(f"{what}: algoStatus {status!r} is unknown")
    return Order(
        client_order_id=text(payload, "clientAlgoId", what),
        account=account,
        symbol=text(payload, "symbol", what),
        side=_enum(Side, text(payload, "side", what), what, "side"),
        type=_ALGO_TYPES[kind],
        quantity=dec(payload, "quantity", what, ZERO),
        stop_price=dec(payload, "triggerPrice", what),
        reduce_only=bool(payload.get("reduceOnly", True)),
        signal_id=signal_id,
        status=_ALGO_STATUS[status],
        exchange_order_id=f"algo:{integer(payload, 'algoId', what)}",
        event_time=integer(payload, "updateTime", what, integer(payload, "createTime", what, 0)),
        received_time=received_time,
    )


def fill(payload: Json, account: str, received_time: int, client_order_id: str = "") -> Fill:
    """A row of `GET /fapi/v1/userTrades`: `{"symbol":"BTCUSDT","id":5003,"orderId":1001,
    "side":"BUY","price":"59439.30","qty":"0.003","realizedPnl":"0","quoteQty":"178.31790",
    "commission":"0.08915895","commissionAsset":"USDT","time":1795519095520,"maker":false}`"""
    what = f"trade {payload.get('id', '?')}"
    return Fill(
        account=account,
        symbol=text(payload, "symbol", what),
        trade_id=str(integer(payload, "id", what)),
        client_order_id=client_order_id,
        exchange_order_id=str(integer(payload, "orderId", what)),
        side=_enum(Side, text(payload, "side", what), what, "side"),
        quantity=dec(payload, "qty", what),
        price=dec(payload, "price", what),
        fee=dec(payload, "commission", what, ZERO),
        fee_asset=str(payload.get("commissionAsset", "USDT")),
        realized_pnl=dec(payload, "realizedPnl", what, ZERO),
        maker=bool(payload.get("maker", False)),
        event_time=integer(payload, "time", what),
        received_time=received_time,
    )


def funding(payload: Json, account: str, received_time: int) -> FundingPayment:
    """A FUNDING_FEE row of `GET /fapi/v1/income`: `{"symbol":"BTCUSDT","incomeType":"FUNDING_FEE",
    "income":"-0.01783179","asset":"USDT","info":"FUNDING_FEE","time":1795536000000,"tranId":42,
    "tradeId":""}` (negative: paid)."""
    what = f"income {payload.get('tranId', '?')}"
    kind = text(payload, "incomeType", what)
    if kind != "FUNDING_FEE":
        raise MalformedResponse(f"{what}: incomeType {kind!r} is not FUNDING_FEE")
    return FundingPayment(
        account=account,
        symbol=text(payload, "symbol", what),
        income_id=str(integer(payload, "tranId", what)),
        amount=dec(payload, "income", what),
        asset=str(payload.get("asset") or "USDT"),
        event_time=integer(payload, "time", what),
        received_time=received_time,
    )


def position(payload: Json, account: str, received_time: int, leverage: int = 1) -> Position:
    """A row of `GET /fapi/v3/positionRisk`: `{"symbol":"BTCUSDT","positionAmt":"0.003",
    "entryPrice":"59439.3","markPrice":"59439.3","unRealizedProfit":"0.00000000",
    "isolatedMargin":"0","notional":"178.3179","updateTime":1795519095520}`"""
    what = f"position {payload.get('symbol', '?')}"
    isolated = dec(payload, "isolatedMargin", what, ZERO) != 0
    return Position(
        account=account,
        symbol=text(payload, "symbol", what),
        quantity=dec(payload, "positionAmt", what),
        entry_price=dec(payload, "entryPrice", what),
        mark_price=dec(payload, "markPrice", what, ZERO),
        unrealized_pnl=dec(payload, "unRealizedProfit", what, ZERO),
        leverage=integer(payload, "leverage", what, leverage),
        margin_mode=MarginMode.ISOLATED if isolated else MarginMode.CROSS,
        event_time=integer(payload, "updateTime", what, 0),
        received_time=received_time,
    )


def equity(payload: Json, account: str, received_time: int, asset: str = "USDT") -> EquitySnapshot:
    """`GET /fapi/v3/account`: `{"totalWalletBalance":"9999.88","totalUnrealizedProfit":"0",
    "availableBalance":"9976.13","assets":[{"asset":"USDT","walletBalance":"9999.88",
    "unrealizedProfit":"0","availableBalance":"9976.13","updateTime":1795519095520}]}`"""
    what = f"account {account}"
    assets = payload.get("assets")
    if not isinstance(assets, list):
        raise MalformedResponse(f"{what}: field 'assets' is missing")
    row = next((a for a in assets if isinstance(a, Mapping) and a.get("asset") == asset), None)
    if row is None:
        raise MalformedResponse(f"{what}: no {asset} balance")
    return EquitySnapshot(
        account=account,
        wallet_balance=dec(row, "walletBalance", what),
        unrealized_pnl=dec(row, "unrealizedProfit", what, ZERO),
        available_balance=dec(row, "availableBalance", what, ZERO),
        event_time=integer(row, "updateTime", what, 0),
        received_time=received_time,
    )


def instrument(payload: Json) -> Instrument:
    """One `symbols[]` entry of `GET /fapi/v1/exchangeInfo` (filters as in the spec §4.2)."""
    what = f"exchangeInfo {payload.get('symbol', '?')}"
    filters = {f.get("filterType"): f for f in payload.get("filters", []) if isinstance(f, Mapping)}
    for needed in ("PRICE_FILTER", "LOT_SIZE", "MIN_NOTIONAL"):
        if needed not in filters:
            raise MalformedResponse(f"{what}: filter {needed} is missing")
    price, lot = filters["PRICE_FILTER"], filters["LOT_SIZE"]
    market = filters.get("MARKET_LOT_SIZE", lot)
    percent = filters.get("PERCENT_PRICE", {})
    return Instrument(
        symbol=text(payload, "symbol", what),
        base_asset=text(payload, "baseAsset", what),
        quote_asset=text(payload, "quoteAsset", what),
        tick_size=dec(price, "tickSize", what).normalize(),
        min_price=dec(price, "minPrice", what),
        max_price=dec(price, "maxPrice", what),
        step_size=dec(lot, "stepSize", what).normalize(),
        min_qty=dec(lot, "minQty", what),
        max_qty=dec(lot, "maxQty", what),
        market_step_size=dec(market, "stepSize", what).normalize(),
        market_min_qty=dec(market, "minQty", what),
        market_max_qty=dec(market, "maxQty", what),
        min_notional=dec(filters["MIN_NOTIONAL"], "notional", what),
        percent_up=dec(percent, "multiplierUp", what, Decimal("1.05")),
        percent_down=dec(percent, "multiplierDown", what, Decimal("0.95")),
    )
