"""Multi-account trading on the simulator: real ccxt clients, one per account, on loopback."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from engine.accounts import (
    Account,
    AccountGroup,
    AccountType,
    SendStatus,
    dispatch,
    merge_positions,
    plan_close_all,
    plan_orders,
    split_quantity,
)
from engine.core.errors import AuthenticationFailed, InsufficientMargin
from engine.core.secret import Secret
from engine.core.types import Side
from engine.venues.pool import VenuePool
from engine.venues.retry import RetryPolicy

pytestmark = pytest.mark.integration  # starts the simulator (or the engine) on 127.0.0.1

WEIGHTS = [D(w) for w in ("1", "1.5", "2", "2.5", "3", "1", "2", "3", "4", "5")]


def account(i: int, weight: D, key: str | None = None, group: AccountGroup = AccountGroup.NEUTRAL) -> Account:
    return Account(f"acc{i}", AccountType.PRIMARY if i == 0 else AccountType.SECONDARY, weight, group,
                   Secret(key or f"key-{i}"), Secret(f"secret-{i}"))


@pytest.fixture
async def pool(sim):  # type: ignore[no-untyped-def]
    p = VenuePool(rest_url=sim.rest_url, ws_url=sim.ws_url, rate_limit=False, policy=RetryPolicy(attempts=2))
    yield p
    await p.close()


async def test_weighted_fanout_over_ten_accounts(sim, pool: VenuePool) -> None:  # type: ignore[no-untyped-def]
    accounts = [account(i, w, group=AccountGroup.AGGRESSIVE if i % 2 else AccountGroup.CONSERVATIVE)
                for i, w in enumerate(WEIGHTS)]
    for i in range(len(accounts)):
        await sim.control.add_account(f"key-{i}", f"secret-{i}", 100_000)
    venue = await pool.venue(accounts[0])
    btc = venue.instruments["BTCUSDT"]
    price = (await venue.fetch_mark_price("BTCUSDT")).mark_price
    total = D("0.750")
    split = split_quantity(total, accounts, btc, price, "weighted")
    assert sum(p.quantity for p in split.parts) == total
    orders = plan_orders(split, signal_id="sig-weighted-1", symbol="BTCUSDT", side=Side.BUY)
    outcome = await dispatch(orders, {a.id: a for a in accounts}, pool)
    assert outcome.all_acknowledged, outcome.results

    positions = await pool.positions(accounts)
    by_account = {p.account: p.quantity for p in positions if p.symbol == "BTCUSDT"}
    weight_sum = sum(WEIGHTS)
    for a in accounts:  # fills per account match the weights within one lot
        assert abs(by_account[a.id] - total * a.weight / weight_sum) <= btc.step_size
    merged = merge_positions(positions)["BTCUSDT"]
    assert merged.net_quantity == sum(by_account.values()) == total
    assert merged.unrealized_pnl == sum(p.unrealized_pnl for p in positions if p.symbol == "BTCUSDT")

    # close-all for one group: only that group's positions are closed, exactly once
    aggressive = [a for a in accounts if a.group is AccountGroup.AGGRESSIVE]
    closes = plan_close_all(positions, aggressive, batch_id="close-1")
    for _ in range(2):  # a repeated close-all cannot double an exit
        await dispatch(closes, {a.id: a for a in accounts}, pool)
    after = {p.account: p.quantity for p in await pool.positions(accounts) if p.symbol == "BTCUSDT"}
    assert set(after) == {a.id for a in accounts if a.group is AccountGroup.CONSERVATIVE}


async def test_a_failing_account_leaves_the_others_filled_and_retry_duplicates_nothing(sim, pool) -> None:  # type: ignore[no-untyped-def]
    accounts = [account(i, D(1)) for i in range(8)]
    accounts.append(account(8, D(1), key="not-a-registered-key"))  # bad key
    accounts.append(account(9, D(1)))                              # too little margin
    for i in range(8):
        await sim.control.add_account(f"key-{i}", f"secret-{i}", 100_000)
    await sim.control.add_account("key-9", "secret-9", 5)
    venue = await pool.venue(accounts[0])
    btc = venue.instruments["BTCUSDT"]
    price = (await venue.fetch_mark_price("BTCUSDT")).mark_price
    split = split_quantity(D("0.200"), accounts, btc, price, "equal")
    orders = plan_orders(split, signal_id="sig-fail-1", symbol="BTCUSDT", side=Side.BUY)
    by_id = {a.id: a for a in accounts}

    first = await dispatch(orders, by_id, pool)
    failed = {r.account: r for r in first.by_status(SendStatus.FAILED)}
    assert set(failed) == {"acc8", "acc9"}
    assert failed["acc8"].error_type == AuthenticationFailed.__name__
    assert failed["acc9"].error_type == InsufficientMargin.__name__
    assert len(first.by_status(SendStatus.ACKNOWLEDGED)) == 8

    assert first.retryable == ()  # permanent failures: nothing to resend as is
    # a blind resend of everything: the exchange refuses each duplicate, nothing fills twice
    again = await dispatch(orders, by_id, pool)
    assert {r.account for r in again.by_status(SendStatus.ACKNOWLEDGED)} == set()
    assert {r.error_type for r in again.results if r.account not in ("acc8", "acc9")} == {"DuplicateClientOrderId"}
    for i in range(8):
        trades = (await sim.control.account(f"key-{i}"))["trades"]
        assert len(trades) == 1, (i, trades)
    assert (await sim.control.account("key-9"))["trades"] == []
    positions = {p.account: p.quantity for p in await pool.positions(accounts[:8])}
    assert sum(positions.values()) == sum(o.quantity for o in orders if o.account not in ("acc8", "acc9"))
