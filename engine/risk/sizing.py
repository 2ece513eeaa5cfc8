"""Order sizing under a regime's caps: a pure function from (request, account state, regime row,
exchange rules) to an approved, exchange-valid order size or a rejection with its reason.

What is counted, exactly (entries, i.e. orders that are not reduce-only):
* exposure = sum over the account's open positions of |quantity| x price (mark price, else the
  reference price given for the symbol, else entry price) + sum over working entry orders (status
  PENDING, UNKNOWN, NEW or PARTIALLY_FILLED, not reduce-only) of the unfilled quantity x price (limit
  price, else stop price, else the symbol's reference price) + this order's quantity x price.
  It is gross (a long and a short both count): conservative and independent of netting.
* position ratio: exposure after the order <= position_ratio x equity. The leverage column caps the
  leverage set for the order and, redundantly, exposure <= max_leverage x equity.
* concurrent orders: open positions + working entry orders + this order <= max_concurrent_orders
  (reduce-only protective stops and take-profits are not counted: they belong to their position).
* size: requested quantity x risk multiplier, cut to what the caps leave, cut to max qty, then
  floored to the lot step. A size that then misses min qty or min notional is rejected, never
  rounded up. Limit prices are moved onto the tick grid in the trader's favour (buy down, sell up).

Exits (reduce-only) are never capped by the regime: they are limited to the open position, floored
to the lot step, and exempt from min notional (as on Binance USD-M for reduce-only orders).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

import msgspec

from engine.core.instrument import Instrument
from engine.core.types import ZERO, Order, OrderStatus, OrderType, Position, Side
from engine.risk.parameters import RiskParameters
from engine.risk.regime import Regime

WORKING = frozenset({OrderStatus.PENDING, OrderStatus.UNKNOWN, OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})


class OrderRequest(msgspec.Struct, frozen=True):
    """What a signal (or an exit) asks for, before risk: base quantity at a reference price."""

    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal                 # limit/stop price, or the reference (mark) price of a market order
    leverage: int = 1
    order_type: OrderType = OrderType.MARKET
    reduce_only: bool = False


class AccountState(msgspec.Struct, frozen=True):
    """One account (or a merged book) at the moment of the decision."""

    equity: Decimal
    positions: tuple[Position, ...] = ()
    open_orders: tuple[Order, ...] = ()
    prices: dict[str, Decimal] = msgspec.field(default_factory=dict)   # reference price per symbol


class RejectReason(StrEnum):
    INVALID_REQUEST = "invalid_request"
    UNKNOWN_SYMBOL = "unknown_symbol"
    KILL_SWITCH = "kill_switch"
    CONCURRENT_ORDERS = "concurrent_orders"
    POSITION_RATIO = "position_ratio"
    BELOW_MINIMUM = "below_minimum"
    PRICE_FILTER = "price_filter"
    NO_POSITION = "no_position"


class SizingDecision(msgspec.Struct, frozen=True):
    """`approved` with an exchange-valid `quantity` (and `price` unless MARKET), or a `reason`."""

    approved: bool
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal | None
    leverage: int
    regime: Regime
    reduce_only: bool = False
    bound_by: str = ""             # what set the size: request, risk_multiplier, position_ratio, max_qty, position
    reason: RejectReason | None = None
    detail: str = ""
    exposure_after: Decimal = ZERO
    cap_notional: Decimal = ZERO


def size_order(request: OrderRequest, state: AccountState, params: RiskParameters,
               instrument: Instrument) -> SizingDecision:
    """Size one order under `params` (the regime row) and `instrument` (the exchange's filters)."""
    problem = _invalid(request, state, instrument)
    if problem:
        return rejection(request, params, RejectReason.INVALID_REQUEST, problem)
    market = request.order_type is not OrderType.LIMIT
    price = _order_price(request, instrument)
    if request.order_type is not OrderType.MARKET and not instrument.min_price <= price <= instrument.max_price:
        return rejection(request, params, RejectReason.PRICE_FILTER,
                       f"price {price} is outside {instrument.symbol}'s range "
                       f"{instrument.min_price}..{instrument.max_price}")
    if request.reduce_only:
        return _size_exit(request, state, params, instrument, price, market)
    try:
        gross, slots = exposure(state, request)
    except ValueError as exc:
        return rejection(request, params, RejectReason.INVALID_REQUEST, str(exc))
    if slots + 1 > params.max_concurrent_orders:
        return rejection(request, params, RejectReason.CONCURRENT_ORDERS,
                       f"{slots} open positions and working entry orders; {params.regime} allows "
                       f"{params.max_concurrent_orders} including this one")
    cap = min(params.position_ratio, Decimal(params.max_leverage)) * state.equity
    room = cap - gross
    if room <= 0:
        return rejection(request, params, RejectReason.POSITION_RATIO,
                       f"exposure {gross:.2f} already fills the cap {cap:.2f} "
                       f"({params.position_ratio} x equity {state.equity} in {params.regime})")
    quantity, bound = request.quantity * params.risk_multiplier, "risk_multiplier"
    if params.risk_multiplier == 1:
        bound = "request"
    if room / price < quantity:
        quantity, bound = room / price, "position_ratio"
    max_qty = instrument.market_max_qty if market else instrument.max_qty
    if max_qty < quantity:
        quantity, bound = max_qty, "max_qty"
    lot = instrument.floor_quantity(quantity, market=market)
    if lot == 0 or not instrument.meets_min_notional(lot, price):
        return rejection(request, params, RejectReason.BELOW_MINIMUM,
                       f"{instrument.symbol}: the caps allow {quantity.normalize():f} (set by {bound}), "
                       f"{lot.normalize():f} as a whole lot; min qty "
                       f"{(instrument.market_min_qty if market else instrument.min_qty).normalize():f} and "
                       f"min notional {instrument.min_notional} at price {price} cannot be met")
    return SizingDecision(True, request.symbol, request.side, lot, None if request.order_type is OrderType.MARKET
                          else price, min(request.leverage, params.max_leverage), params.regime,
                          bound_by=bound, exposure_after=gross + lot * price, cap_notional=cap)


def exposure(state: AccountState, request: OrderRequest | None = None) -> tuple[Decimal, int]:
    """Gross notional of open positions and working entry orders, and how many of them there are."""
    gross, slots = ZERO, 0
    for position in state.positions:
        if position.quantity != 0:
            gross += abs(position.quantity) * _position_price(position, state)
            slots += 1
    for order in state.open_orders:
        if order.reduce_only or order.status not in WORKING:
            continue
        remaining = max(order.quantity - order.filled_quantity, ZERO)
        gross += remaining * _order_ref_price(order, state, request)
        slots += 1
    return gross, slots


def net_position(state: AccountState, symbol: str) -> Decimal:
    return sum((p.quantity for p in state.positions if p.symbol == symbol), ZERO)


def _size_exit(request: OrderRequest, state: AccountState, params: RiskParameters, instrument: Instrument,
               price: Decimal, market: bool) -> SizingDecision:
    held = net_position(state, request.symbol)
    if held == 0 or (held > 0) == (request.side is Side.BUY):
        return rejection(request, params, RejectReason.NO_POSITION,
                       f"reduce-only {request.side} on {request.symbol} but the position is {held}")
    quantity, bound = request.quantity, "request"
    if abs(held) < quantity:
        quantity, bound = abs(held), "position"
    max_qty = instrument.market_max_qty if market else instrument.max_qty
    if max_qty < quantity:
        quantity, bound = max_qty, "max_qty"
    lot = instrument.floor_quantity(quantity, market=market)
    if lot == 0:
        return rejection(request, params, RejectReason.BELOW_MINIMUM,
                       f"{request.symbol}: exit of {quantity.normalize():f} is below one valid lot")
    return SizingDecision(True, request.symbol, request.side, lot, None if request.order_type is OrderType.MARKET
                          else price, min(request.leverage, params.max_leverage), params.regime,
                          reduce_only=True, bound_by=bound)


def _order_price(request: OrderRequest, instrument: Instrument) -> Decimal:
    if request.order_type is OrderType.LIMIT:
        return instrument.round_price(request.price, direction="down" if request.side is Side.BUY else "up")
    if request.order_type is OrderType.MARKET:
        return request.price
    return instrument.round_price(request.price)


def _position_price(position: Position, state: AccountState) -> Decimal:
    if position.mark_price > 0:
        return position.mark_price
    return state.prices.get(position.symbol) or position.entry_price


def _order_ref_price(order: Order, state: AccountState, request: OrderRequest | None) -> Decimal:
    for candidate in (order.price, order.stop_price, state.prices.get(order.symbol),
                      request.price if request is not None and request.symbol == order.symbol else None):
        if candidate is not None and candidate > 0:
            return candidate
    raise ValueError(f"open order {order.client_order_id} on {order.symbol} has no price and no reference "
                     f"price for {order.symbol} was given (AccountState.prices)")


def _invalid(request: OrderRequest, state: AccountState, instrument: Instrument) -> str:
    if request.symbol != instrument.symbol:
        return f"request is for {request.symbol} but the instrument rules are {instrument.symbol}'s"
    for name, value in (("quantity", request.quantity), ("price", request.price), ("equity", state.equity)):
        if not value.is_finite() or value <= 0:
            return f"{name} must be a finite number greater than 0, got {value}"
    if request.leverage < 1:
        return f"leverage must be at least 1, got {request.leverage}"
    for symbol, price in state.prices.items():
        if not price.is_finite() or price <= 0:
            return f"reference price for {symbol} must be a finite number greater than 0, got {price}"
    for position in state.positions:
        if not (position.quantity.is_finite() and position.mark_price.is_finite()
                and position.entry_price.is_finite()):
            return f"position on {position.symbol} has a non-finite quantity or price"
    for order in state.open_orders:
        if not (order.quantity.is_finite() and order.filled_quantity.is_finite()):
            return f"open order {order.client_order_id} has a non-finite quantity"
    return ""


def rejection(request: OrderRequest, params: RiskParameters, reason: RejectReason, detail: str) -> SizingDecision:
    """A refusal: quantity 0, the reason code, and a sentence saying why."""
    return SizingDecision(False, request.symbol, request.side, ZERO, None, 0, params.regime,
                          reduce_only=request.reduce_only, reason=reason, detail=f"{reason}: {detail}")
