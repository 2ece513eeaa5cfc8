"""Turning the raw string parameters of `POST /fapi/v1/order` and `POST /fapi/v1/algoOrder` into a
typed request, checking them in the order Binance does (spec §4.11 steps 1-7; reduce-only, margin
and post-only, which need account state, follow in `matching.py`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from engine.core.ids import CLIENT_ORDER_ID_RE
from engine.sim.errors import BinanceError
from engine.sim.instruments import SymbolSpec
from engine.sim.orders import ALGO_TYPES, ORDER_TYPES, TIME_IN_FORCE, WORKING_TYPES

ZERO = Decimal(0)


@dataclass(frozen=True)
class OrderRequest:
    symbol: str
    side: str
    type: str
    quantity: Decimal
    price: Decimal = ZERO
    time_in_force: str = "GTC"
    client_id: str | None = None
    reduce_only: bool = False
    close_position: bool = False
    trigger_price: Decimal = ZERO
    working_type: str = "CONTRACT_PRICE"
    price_protect: bool = False
    algo: bool = False


def _decimal(params: Mapping[str, str], name: str) -> Decimal:
    raw = params.get(name)
    if raw is None or raw == "":
        raise BinanceError(-1102, name=name)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise BinanceError(-1102, name=name) from None
    if not value.is_finite():
        raise BinanceError(-1102, name=name)
    return value


def _bool(params: Mapping[str, str], name: str) -> bool:
    raw = params.get(name, "false").lower()
    if raw not in ("true", "false"):
        raise BinanceError(-1130, name=name)
    return raw == "true"


def parse_order(params: Mapping[str, str], specs: Mapping[str, SymbolSpec], mark: Callable[[str], Decimal],
                is_duplicate: Callable[[str], bool], *, algo: bool = False) -> OrderRequest:
    """Validate in Binance's order; raise `BinanceError` with the first failing rule's code."""
    symbol = params.get("symbol")
    if not symbol:
        raise BinanceError(-1102, name="symbol")
    spec = specs.get(symbol)
    if spec is None:
        raise BinanceError(-1121)
    inst = spec.instrument

    side = params.get("side")
    if not side:
        raise BinanceError(-1102, name="side")
    if side not in ("BUY", "SELL"):
        raise BinanceError(-1117)
    kind = params.get("type")
    if not kind:
        raise BinanceError(-1102, name="type")
    if algo:
        if params.get("algoType", "CONDITIONAL") != "CONDITIONAL":
            raise BinanceError(-1130, name="algoType")
        if kind not in ALGO_TYPES:
            raise BinanceError(-1116)
    elif kind in ALGO_TYPES or kind == "TRAILING_STOP_MARKET":
        raise BinanceError(-4120)
    elif kind not in ORDER_TYPES:
        raise BinanceError(-1116)
    if params.get("positionSide", "BOTH") != "BOTH":
        raise BinanceError(-4061)

    close_position = _bool(params, "closePosition") if algo else False
    reduce_only = _bool(params, "reduceOnly")
    needs_limit_price = kind in ("LIMIT", "STOP", "TAKE_PROFIT")
    quantity = ZERO if close_position and "quantity" not in params else _decimal(params, "quantity")
    price = _decimal(params, "price") if needs_limit_price else ZERO
    tif = params.get("timeInForce")
    if kind == "LIMIT" and not tif:
        raise BinanceError(-1102, name="timeInForce")
    tif = tif or "GTC"
    if tif not in TIME_IN_FORCE:
        raise BinanceError(-1115)
    trigger = _decimal(params, "triggerPrice") if algo else ZERO
    working_type = params.get("workingType", "CONTRACT_PRICE")
    if working_type not in WORKING_TYPES:
        raise BinanceError(-1130, name="workingType")
    id_key = "clientAlgoId" if algo else "newClientOrderId"
    client_id = params.get(id_key)
    if client_id is not None and not CLIENT_ORDER_ID_RE.match(client_id):
        raise BinanceError(-4015)

    if client_id is not None and is_duplicate(client_id):
        raise BinanceError(-4116)

    market = kind in ("MARKET", "STOP_MARKET", "TAKE_PROFIT_MARKET")
    if not close_position:
        if quantity <= 0:
            raise BinanceError(-4003)
        step = inst.market_step_size if market else inst.step_size
        if quantity % step:
            raise BinanceError(-1111)
        if quantity < (inst.market_min_qty if market else inst.min_qty):
            raise BinanceError(-4004)
        if quantity > (inst.market_max_qty if market else inst.max_qty):
            raise BinanceError(-4005)

    for value in ((price,) if needs_limit_price else ()) + ((trigger,) if algo else ()):
        if value <= 0 or value < inst.min_price:
            raise BinanceError(-4013)
        if value % inst.tick_size:
            raise BinanceError(-4014)
        if value > inst.max_price:
            raise BinanceError(-4016, limit=_plain(inst.max_price))
    reference = mark(symbol)
    if kind == "LIMIT":
        high = inst.round_price(reference * inst.percent_up, direction="down")
        low = inst.round_price(reference * inst.percent_down, direction="up")
        if price > high:
            raise BinanceError(-4016, limit=_plain(high))
        if price < low:
            raise BinanceError(-4024, limit=_plain(low))

    if not reduce_only and not close_position:
        notional_price = price if needs_limit_price else (trigger if algo else reference)
        if quantity * notional_price < inst.min_notional:
            raise BinanceError(-4164, notional=_plain(inst.min_notional))

    return OrderRequest(symbol=symbol, side=side, type=kind, quantity=quantity, price=price, time_in_force=tif,
                        client_id=client_id, reduce_only=reduce_only or close_position,
                        close_position=close_position, trigger_price=trigger, working_type=working_type,
                        price_protect=_bool(params, "priceProtect") if algo else False, algo=algo)


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text
