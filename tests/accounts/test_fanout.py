"""Fan-out over the venue port: concurrent, failures isolated, retries never duplicate.

`Ledger` below is an in-memory implementation of the `AccountVenue` port that enforces the one
exchange rule fan-out relies on (a client order id is accepted once per account). The simulator
acceptance test (10 accounts, weighted, a failing account) belongs to the execution layer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal as D

import pytest

from engine.accounts import (
    Account,
    AccountGroup,
    AccountType,
    SendStatus,
    dispatch,
    plan_close_all,
    plan_orders,
    split_quantity,
)
from engine.core.errors import (
    AuthenticationFailed,
    DuplicateClientOrderId,
    InsufficientMargin,
    OrderStateUnknown,
    TemporaryExchangeError,
)
from engine.core.ids import client_order_id
from engine.core.types import Order, OrderStatus, Position, Side
from tests.risk.builders import BTC

ACCOUNTS = {f"a{i}": Account(f"a{i}", AccountType.SECONDARY, D(i + 1),
                             AccountGroup.AGGRESSIVE if i < 3 else AccountGroup.CONSERVATIVE) for i in range(6)}


class Ledger:
    """Accepts each client order id once per account; `faults` make chosen accounts fail."""

    def __init__(self, faults: dict[str, Callable[[], Exception]] | None = None, barrier: int = 0) -> None:
        self.faults = faults or {}
        self.placed: dict[tuple[str, str], Order] = {}
        self.started = 0
        self.barrier = barrier
        self.all_started = asyncio.Event()

    async def submit_order(self, account: Account, order: Order) -> Order:
        self.started += 1
        if self.started >= self.barrier:
            self.all_started.set()
        await self.all_started.wait()            # returns only once every order is in flight
        if account.id in self.faults:
            raise self.faults[account.id]()
        if (account.id, order.client_order_id) in self.placed:
            raise DuplicateClientOrderId(f"-4116 duplicate {order.client_order_id}")
        placed = Order(**{**{f: getattr(order, f) for f in order.__struct_fields__}, "status": OrderStatus.NEW,
                          "exchange_order_id": str(len(self.placed) + 1)})
        self.placed[(account.id, order.client_order_id)] = placed
        return placed

    async def cancel_all_orders(self, account: Account, symbol: str) -> int:
        return 0


def weighted_orders() -> tuple[Order, ...]:
    split = split_quantity(D("2.100"), list(ACCOUNTS.values()), BTC, D("60000"), "weighted")
    return plan_orders(split, signal_id="s1:BTCUSDT:1m:1700000000000", symbol="BTCUSDT", side=Side.BUY)


def test_orders_carry_deterministic_per_account_client_ids() -> None:
    orders = weighted_orders()
    assert [o.quantity for o in orders] == [D("0.1"), D("0.2"), D("0.3"), D("0.4"), D("0.5"), D("0.6")]
    assert orders == weighted_orders()
    assert all(o.client_order_id == client_order_id(o.signal_id, "E", o.account) for o in orders)
    assert len({o.client_order_id for o in orders}) == len(orders)


async def test_all_accounts_are_sent_concurrently_and_acknowledged() -> None:
    orders = weighted_orders()
    venue = Ledger(barrier=len(orders))
    outcome = await asyncio.wait_for(dispatch(orders, ACCOUNTS, venue), timeout=5)
    assert outcome.all_acknowledged and len(venue.placed) == 6
    assert [r.order.quantity for r in outcome.results if r.order] == [o.quantity for o in orders]


async def test_one_failing_account_leaves_the_others_filled_and_a_retry_duplicates_nothing() -> None:
    orders = weighted_orders()
    flaky = {"a1": lambda: AuthenticationFailed("bad key"), "a2": lambda: InsufficientMargin("-2019 margin"),
             "a3": lambda: TemporaryExchangeError("503"), "a4": lambda: OrderStateUnknown("timeout after send"),
             "a5": lambda: RuntimeError("bug in one adapter")}
    venue = Ledger(dict(flaky), barrier=len(orders))
    outcome = await asyncio.wait_for(dispatch(orders, ACCOUNTS, venue), timeout=5)
    status = {r.account: (r.status, r.retryable, r.error_type) for r in outcome.results}
    assert status == {"a0": (SendStatus.ACKNOWLEDGED, False, ""),
                      "a1": (SendStatus.FAILED, False, "AuthenticationFailed"),
                      "a2": (SendStatus.FAILED, False, "InsufficientMargin"),
                      "a3": (SendStatus.FAILED, True, "TemporaryExchangeError"),
                      "a4": (SendStatus.UNKNOWN, False, "OrderStateUnknown"),
                      "a5": (SendStatus.FAILED, False, "RuntimeError")}
    assert list(venue.placed) == [("a0", orders[0].client_order_id)]
    assert [o.account for o in outcome.retryable] == ["a3"]

    venue.faults.clear()                       # the exchange recovers; resend everything, blindly
    again = await dispatch(orders, ACCOUNTS, venue)
    assert len(venue.placed) == 6             # one order per account, no second one for a0
    (dup,) = [r for r in again.results if r.account == "a0"]
    assert dup.status is SendStatus.FAILED and dup.error_type == "DuplicateClientOrderId"


async def test_unconfigured_account_and_repeated_account_are_reported() -> None:
    order = weighted_orders()[0]
    stray = Order(**{**{f: getattr(order, f) for f in order.__struct_fields__}, "account": "ghost"})
    outcome = await dispatch([stray], ACCOUNTS, Ledger())
    assert outcome.results[0].status is SendStatus.FAILED and "'ghost' is not configured" in outcome.results[0].error
    with pytest.raises(ValueError, match="the same client order id twice for one account"):
        await dispatch([order, order], ACCOUNTS, Ledger())


def test_close_all_for_a_group_is_reduce_only_and_idempotent() -> None:
    positions = [Position("a0", "BTCUSDT", D("0.3"), D("60000")), Position("a0", "ETHUSDT", D("-2"), D("3000")),
                 Position("a2", "BTCUSDT", D("0"), D("0")), Position("a4", "BTCUSDT", D("1"), D("60000"))]
    aggressive = [a for a in ACCOUNTS.values() if a.group is AccountGroup.AGGRESSIVE]
    orders = plan_close_all(positions, aggressive, batch_id="ops-1")
    assert [(o.account, o.symbol, o.side, o.quantity, o.reduce_only) for o in orders] == [
        ("a0", "BTCUSDT", Side.SELL, D("0.3"), True), ("a0", "ETHUSDT", Side.BUY, D("2"), True)]
    assert plan_close_all(positions, aggressive, batch_id="ops-1") == orders
    assert plan_close_all(positions, aggressive, batch_id="ops-2")[0].client_order_id != orders[0].client_order_id


async def test_close_all_dispatches_several_orders_per_account() -> None:
    positions = [Position("a0", "BTCUSDT", D("0.3"), D("60000")), Position("a0", "ETHUSDT", D("-2"), D("3000"))]
    orders = plan_close_all(positions, ACCOUNTS.values(), batch_id="ops-1")
    outcome = await dispatch(orders, ACCOUNTS, Ledger())
    assert outcome.all_acknowledged and len(outcome.results) == 2
