"""Performance per account, group and in total from closed trades."""

from __future__ import annotations

import json
from decimal import Decimal as D

from engine.accounts import AccountGroup, AccountSpec, AccountType, performance_report, trade_stats
from engine.core.types import TradeExit

ACCOUNTS = [AccountSpec("a1", AccountType.PRIMARY, D("1.5"), AccountGroup.AGGRESSIVE),
            AccountSpec("a2", AccountType.SECONDARY, D(1), AccountGroup.AGGRESSIVE),
            AccountSpec("c1", AccountType.HEDGE, D(1), AccountGroup.CONSERVATIVE)]


def exit_(tid: str, account: str, pnl: str, fees: str = "1", funding: str = "0", t: int = 0) -> TradeExit:
    return TradeExit(tid, account, "BTCUSDT", D("0.01"), D("60000"), D(pnl), D(fees), D(funding), event_time=t)


TRADES = [exit_("t1", "a1", "100", t=1), exit_("t2", "a1", "-50", t=2), exit_("t3", "a2", "30", "2", "-3", t=3),
          exit_("t4", "c1", "1", "1", t=4), exit_("t5", "zz", "10", t=5), exit_("t6", "a1", "-70", t=6)]


def test_stats_of_one_account() -> None:
    a1 = trade_stats([t for t in TRADES if t.account == "a1"])
    assert (a1.trades, a1.wins, a1.losses, a1.win_rate) == (3, 1, 2, 1 / 3)
    assert (a1.realized_pnl, a1.fees, a1.net_pnl) == (D("-20"), D("3"), D("-23"))
    assert (a1.best, a1.worst) == (D("99"), D("-71"))
    assert a1.profit_factor == 99 / 122 and a1.max_drawdown == D("122")     # 99 -> -23


def test_report_per_account_group_and_total() -> None:
    report = performance_report(reversed(TRADES), ACCOUNTS)
    assert report.total_accounts == 3
    assert report.account_groups == {"aggressive": 2, "conservative": 1, "neutral": 0}
    assert report.accounts["a2"].net_pnl == D("25") and report.accounts["c1"].wins == 0     # 1 - 1 = 0: no win
    assert report.groups["aggressive"].trades == 4 and report.groups["aggressive"].net_pnl == D("2")
    assert report.groups["neutral"].trades == 0
    assert report.total.trades == 6 and report.total.net_pnl == D("11")
    assert report.unknown_accounts == ("zz",) and report.accounts["zz"].trades == 1
    data = json.loads(json.dumps(report.as_dict()))
    assert data["groups"]["aggressive"]["net_pnl"] == "2"


def test_no_trades() -> None:
    report = performance_report([], ACCOUNTS)
    assert report.total.trades == 0 and report.total.profit_factor is None and set(report.accounts) == {"a1", "a2", "c1"}
