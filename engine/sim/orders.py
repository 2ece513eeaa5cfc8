"""What the exchange core keeps per order: regular orders, conditional (algo) orders and trades.

Mutable while the order lives inside the core; every event carries a frozen copy (`snapshot()`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

ZERO = Decimal(0)

OPEN_STATUSES = ("NEW", "PARTIALLY_FILLED")
ORDER_TYPES = ("MARKET", "LIMIT")
ALGO_TYPES = ("STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT")
TIME_IN_FORCE = ("GTC", "IOC", "FOK", "GTX")
WORKING_TYPES = ("MARK_PRICE", "CONTRACT_PRICE")


@dataclass(eq=False)
class SimOrder:
    order_id: int
    account: str
    symbol: str
    client_id: str
    side: str                     # BUY / SELL
    type: str                     # MARKET / LIMIT (also LIQUIDATION for forced closes)
    quantity: Decimal
    price: Decimal = ZERO         # 0 for market orders
    time_in_force: str = "GTC"
    reduce_only: bool = False
    close_position: bool = False
    orig_type: str = ""           # STOP_MARKET etc. when a conditional order triggered it
    stop_price: Decimal = ZERO
    working_type: str = "CONTRACT_PRICE"
    status: str = "NEW"
    executed: Decimal = ZERO
    cum_quote: Decimal = ZERO
    time: int = 0
    update_time: int = 0

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.executed

    @property
    def avg_price(self) -> Decimal:
        return self.cum_quote / self.executed if self.executed else ZERO

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def sign(self) -> int:
        return 1 if self.side == "BUY" else -1

    def snapshot(self) -> SimOrder:
        return replace(self)


@dataclass(eq=False)
class AlgoOrder:
    """A conditional order waiting on the exchange (`POST /fapi/v1/algoOrder`, algoType CONDITIONAL)."""

    algo_id: int
    account: str
    symbol: str
    client_id: str
    side: str
    order_type: str               # STOP_MARKET / TAKE_PROFIT_MARKET / STOP / TAKE_PROFIT
    quantity: Decimal             # 0 with closePosition
    trigger_price: Decimal
    price: Decimal = ZERO         # limit price of STOP / TAKE_PROFIT
    time_in_force: str = "GTC"
    working_type: str = "CONTRACT_PRICE"
    reduce_only: bool = False
    close_position: bool = False
    price_protect: bool = False
    status: str = "NEW"           # NEW, TRIGGERED, FINISHED, CANCELED, EXPIRED
    create_time: int = 0
    update_time: int = 0
    trigger_time: int = 0
    actual_order_id: int | None = None
    actual_executed: Decimal = ZERO
    actual_avg: Decimal = ZERO
    fail_reason: str = ""

    @property
    def is_open(self) -> bool:
        return self.status == "NEW"

    def triggers(self, price: Decimal) -> bool:
        """Stops fire when the price moves against the position they protect, take-profits when it
        moves in favour: a SELL stop below, a SELL take-profit above (and the mirror for BUY)."""
        stop = self.order_type in ("STOP_MARKET", "STOP")
        if (self.side == "SELL") == stop:
            return price <= self.trigger_price
        return price >= self.trigger_price

    def snapshot(self) -> AlgoOrder:
        return replace(self)


@dataclass(frozen=True)
class Trade:
    trade_id: int
    order_id: int
    account: str
    symbol: str
    side: str
    price: Decimal
    quantity: Decimal
    commission: Decimal
    realized_pnl: Decimal
    maker: bool
    time: int

    @property
    def quote_qty(self) -> Decimal:
        return self.price * self.quantity
