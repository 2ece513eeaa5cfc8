"""Multi-account trading: account model and configuration, order splitting, merged positions,
performance per account and group, and the fan-out port (all pure; sending is the venue's job)."""

from engine.accounts.account import (
    Account,
    AccountGroup,
    AccountSpec,
    AccountType,
    build_accounts,
    in_group,
    parse_account_specs,
)
from engine.accounts.distribution import (
    AccountLoad,
    Part,
    Skipped,
    Split,
    SplitError,
    Strategy,
    apportion,
    split_quantity,
    strategy_weights,
)
from engine.accounts.fanout import (
    AccountOrderResult,
    AccountVenue,
    FanoutOutcome,
    SendStatus,
    dispatch,
    plan_close_all,
    plan_orders,
)
from engine.accounts.performance import PerformanceReport, PerformanceStats, performance_report, trade_stats
from engine.accounts.positions import MergedPosition, merge_positions

__all__ = [
    "Account", "AccountGroup", "AccountLoad", "AccountOrderResult", "AccountSpec", "AccountType", "AccountVenue",
    "FanoutOutcome", "MergedPosition", "Part", "PerformanceReport", "PerformanceStats", "SendStatus", "Skipped",
    "Split", "SplitError", "Strategy", "apportion", "build_accounts", "dispatch",
    "in_group", "merge_positions", "parse_account_specs", "performance_report", "plan_close_all", "plan_orders",
    "split_quantity", "strategy_weights", "trade_stats",
]
