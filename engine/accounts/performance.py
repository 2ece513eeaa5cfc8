"""Performance per account, per group and in total, from closed trades (pure aggregation).

A trade counts as a win when its net PnL (realised - fees + funding) is above 0, a loss below 0.
Money stays Decimal; ratios (win rate, profit factor) are floats. Drawdown is the largest fall of
cumulative net PnL from its running peak, trades taken in exchange-time order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Protocol

import msgspec

from engine.accounts.account import AccountGroup
from engine.core.types import ZERO


class ClosedTrade(Protocol):
    """What the report needs of a trade (`engine.core.types.TradeExit` fits)."""

    @property
    def trade_id(self) -> str: ...
    @property
    def account(self) -> str: ...
    @property
    def realized_pnl(self) -> Decimal: ...
    @property
    def fees(self) -> Decimal: ...
    @property
    def funding(self) -> Decimal: ...
    @property
    def event_time(self) -> int: ...


class Grouped(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def group(self) -> AccountGroup: ...


class PerformanceStats(msgspec.Struct, frozen=True):
    trades: int = 0
    wins: int = 0
    losses: int = 0
    win_rate: float = 0.0
    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    funding: Decimal = ZERO
    net_pnl: Decimal = ZERO
    average_net_pnl: Decimal = ZERO
    best: Decimal = ZERO
    worst: Decimal = ZERO
    profit_factor: float | None = None   # sum of winning net PnL / |sum of losing net PnL|; None without losses
    max_drawdown: Decimal = ZERO


class PerformanceReport(msgspec.Struct, frozen=True):
    total_accounts: int
    account_groups: dict[str, int]            # accounts per group (the original report's field)
    accounts: dict[str, PerformanceStats]     # every configured account, and any account seen in trades
    groups: dict[str, PerformanceStats]
    total: PerformanceStats
    unknown_accounts: tuple[str, ...] = ()    # accounts in trades but not configured (in total, in no group)

    def as_dict(self) -> dict[str, object]:
        return msgspec.to_builtins(self)


def performance_report(trades: Iterable[ClosedTrade], accounts: Sequence[Grouped]) -> PerformanceReport:
    ordered = sorted(trades, key=lambda t: (t.event_time, t.trade_id))
    group_of = {a.id: a.group for a in accounts}
    by_account: dict[str, list[ClosedTrade]] = defaultdict(list)
    by_group: dict[str, list[ClosedTrade]] = defaultdict(list)
    for trade in ordered:
        by_account[trade.account].append(trade)
        if trade.account in group_of:
            by_group[str(group_of[trade.account])].append(trade)
    counts = {str(g): sum(1 for a in accounts if a.group is g) for g in AccountGroup}
    return PerformanceReport(
        total_accounts=len(accounts), account_groups=counts,
        accounts={a: trade_stats(by_account.get(a, ())) for a in sorted(set(group_of) | set(by_account))},
        groups={str(g): trade_stats(by_group.get(str(g), ())) for g in AccountGroup},
        total=trade_stats(ordered), unknown_accounts=tuple(sorted(set(by_account) - set(group_of))))


def trade_stats(trades: Iterable[ClosedTrade]) -> PerformanceStats:
    """Statistics of trades in the order given (sort by exchange time for a meaningful drawdown)."""
    nets: list[Decimal] = []
    realized = fees = funding = ZERO
    for trade in trades:
        realized += trade.realized_pnl
        fees += trade.fees
        funding += trade.funding
        nets.append(trade.realized_pnl - trade.fees + trade.funding)
    if not nets:
        return PerformanceStats()
    gains = sum((n for n in nets if n > 0), ZERO)
    losses = sum((n for n in nets if n < 0), ZERO)
    wins = sum(1 for n in nets if n > 0)
    peak = equity = drawdown = ZERO
    for net in nets:
        equity += net
        peak = max(peak, equity)
        drawdown = max(drawdown, peak - equity)
    total = sum(nets, ZERO)
    return PerformanceStats(
        trades=len(nets), wins=wins, losses=sum(1 for n in nets if n < 0), win_rate=wins / len(nets),
        realized_pnl=realized, fees=fees, funding=funding, net_pnl=total, average_net_pnl=total / len(nets),
        best=max(nets), worst=min(nets), profit_factor=float(gains / -losses) if losses else None,
        max_drawdown=drawdown)
