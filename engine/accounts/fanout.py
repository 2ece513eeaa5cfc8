"""Sending one decision to many accounts: the venue port, the orders, and what each account answered.

The execution layer implements `AccountVenue` (ccxt per account, or the simulator) and calls
`dispatch()`, which sends every account's order concurrently and isolates failures: one account
failing (bad key, insufficient margin, timeout) never blocks or cancels another. Each account's
order carries a client order id derived from (account, signal id, leg), so resending after a
failure can never make a second order on an account that already has one: the exchange answers
"duplicate client id" instead (-4116). An UNKNOWN result (timed out after sending) must be asked
for by client id before anything is resent; `FanoutOutcome.retryable` only lists definite failures
that are worth another try.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

import msgspec

from engine.accounts.account import Account
from engine.accounts.distribution import Split
from engine.core.errors import ExchangeError, OrderStateUnknown, SltError, TemporaryExchangeError
from engine.core.ids import client_order_id
from engine.core.types import Order, OrderType, Position, Side, TimeInForce

log = logging.getLogger(__name__)


class AccountVenue(Protocol):
    """What fan-out needs from the exchange, per account. Errors are our `ExchangeError` hierarchy."""

    async def submit_order(self, account: Account, order: Order) -> Order:
        """Place `order` (its client id already set); return the exchange's view (status NEW/FILLED...)."""
        ...

    async def cancel_all_orders(self, account: Account, symbol: str) -> int:
        """Cancel every open order of `symbol` on the account; return how many were cancelled."""
        ...


class SendStatus(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    FAILED = "failed"        # definitely not placed
    UNKNOWN = "unknown"      # may or may not be placed: ask by client id before resending


class AccountOrderResult(msgspec.Struct, frozen=True):
    account: str
    client_order_id: str
    quantity: Decimal
    status: SendStatus
    order: Order | None = None     # the exchange's view when acknowledged
    error: str = ""
    error_type: str = ""
    retryable: bool = False        # a temporary failure; resend the same order (same client id)


class FanoutOutcome(msgspec.Struct, frozen=True):
    results: tuple[AccountOrderResult, ...]
    orders: tuple[Order, ...]

    @property
    def all_acknowledged(self) -> bool:
        return all(r.status is SendStatus.ACKNOWLEDGED for r in self.results)

    def by_status(self, status: SendStatus) -> tuple[AccountOrderResult, ...]:
        return tuple(r for r in self.results if r.status is status)

    @property
    def retryable(self) -> tuple[Order, ...]:
        """Orders that definitely failed for a temporary reason: safe to resend unchanged."""
        again = {r.client_order_id for r in self.results if r.status is SendStatus.FAILED and r.retryable}
        return tuple(o for o in self.orders if o.client_order_id in again)


def plan_orders(split: Split, *, signal_id: str, symbol: str, side: Side, order_type: OrderType = OrderType.MARKET,
                price: Decimal | None = None, reduce_only: bool = False, leg: str = "E",
                time_in_force: TimeInForce | None = None) -> tuple[Order, ...]:
    """One PENDING order per part, each with its account's deterministic client order id."""
    if order_type is OrderType.LIMIT and price is None:
        raise ValueError("a LIMIT order needs a price")
    return tuple(Order(client_order_id=client_order_id(signal_id, leg, part.account), account=part.account,
                       symbol=symbol, side=side, type=order_type, quantity=part.quantity, price=price,
                       reduce_only=reduce_only, time_in_force=time_in_force, signal_id=signal_id)
                 for part in split.parts)


def plan_close_all(positions: Iterable[Position], accounts: Iterable[Account], *, batch_id: str) -> tuple[Order, ...]:
    """Reduce-only market orders closing every open position of the given accounts (e.g. one group).
    The same `batch_id` yields the same client ids, so a repeated close-all cannot double an exit."""
    wanted = {a.id for a in accounts}
    orders = []
    for p in sorted(positions, key=lambda p: (p.account, p.symbol)):
        if p.account in wanted and p.quantity != 0:
            side = Side.SELL if p.quantity > 0 else Side.BUY
            cid = client_order_id(f"close:{batch_id}:{p.symbol}", "X", p.account)
            orders.append(Order(client_order_id=cid, account=p.account, symbol=p.symbol, side=side,
                                type=OrderType.MARKET, quantity=abs(p.quantity), reduce_only=True,
                                signal_id=f"close:{batch_id}"))
    return tuple(orders)


async def dispatch(orders: Sequence[Order], accounts: Mapping[str, Account], venue: AccountVenue) -> FanoutOutcome:
    """Send every order at once; every order gets exactly one result, failures isolated."""
    seen = [(o.account, o.client_order_id) for o in orders]
    if len(set(seen)) != len(seen):
        raise ValueError("the same client order id twice for one account in one fan-out: "
                         f"{sorted(k for k in seen if seen.count(k) > 1)}")
    results = await asyncio.gather(*(_send(o, accounts.get(o.account), venue) for o in orders))
    return FanoutOutcome(tuple(results), tuple(orders))


async def _send(order: Order, account: Account | None, venue: AccountVenue) -> AccountOrderResult:
    def failed(exc: BaseException, status: SendStatus = SendStatus.FAILED, retryable: bool = False) -> AccountOrderResult:
        return AccountOrderResult(order.account, order.client_order_id, order.quantity, status,
                                  error=str(exc), error_type=type(exc).__name__, retryable=retryable)

    if account is None:
        return failed(KeyError(f"account {order.account!r} is not configured"))
    try:
        placed = await venue.submit_order(account, order)
    except OrderStateUnknown as exc:
        return failed(exc, SendStatus.UNKNOWN)
    except ExchangeError as exc:
        return failed(exc, retryable=isinstance(exc, TemporaryExchangeError))
    except SltError as exc:
        return failed(exc)
    except Exception as exc:  # one account's bug must not sink the others; logged with its traceback
        log.exception("order %s on account %s failed unexpectedly", order.client_order_id, order.account)
        return failed(exc)
    return AccountOrderResult(order.account, order.client_order_id, order.quantity, SendStatus.ACKNOWLEDGED,
                              order=placed)
