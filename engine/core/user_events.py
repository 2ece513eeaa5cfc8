"""What the exchange tells us about our account as it happens (user-data stream events, past tense),
as domain types. `engine.feeds.user_parse` builds them from Binance frames; execution consumes them."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from engine.core.types import Fill, Order, Position


class OrderUpdate(msgspec.Struct, frozen=True):
    """ORDER_TRADE_UPDATE: the order's new state, and the fill when the execution is a trade."""

    order: Order
    execution: str                  # NEW, TRADE, CANCELED, EXPIRED, CALCULATED (liquidation), AMENDMENT
    fill: Fill | None = None


class AlgoUpdate(msgspec.Struct, frozen=True):
    """ALGO_UPDATE: a conditional (stop / take-profit) order waiting on the exchange. Once triggered
    it lives on as the market order it sent, under the same client id (ORDER_TRADE_UPDATE)."""

    order: Order
    algo_status: str                # NEW, TRIGGERING, TRIGGERED, FINISHED, CANCELED, EXPIRED, REJECTED
    actual_order_id: str = ""       # the order it sent once triggered
    reason: str = ""                # why it failed, when it did


class AccountUpdate(msgspec.Struct, frozen=True):
    """ACCOUNT_UPDATE: wallet and positions after a fill, a funding settlement, a transfer ..."""

    account: str
    reason: str                     # ORDER, FUNDING_FEE, DEPOSIT, WITHDRAW, ADJUSTMENT, ...
    wallet_balance: Decimal | None  # USDT wallet, when the frame carries it
    balance_change: Decimal
    positions: tuple[Position, ...]
    event_time: int
    received_time: int


class StreamExpired(msgspec.Struct, frozen=True):
    """listenKeyExpired: no more events come on this key."""

    listen_key: str
    event_time: int


UserEvent = OrderUpdate | AlgoUpdate | AccountUpdate | StreamExpired
