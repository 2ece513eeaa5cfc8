"""The PnL report (pure): per account and symbol, from what the store holds.

| column | from |
|---|---|
| realised | sum of the fills' realised PnL (the exchange's own figure per execution) |
| fees | sum of the fills' commissions |
| funding | sum of funding payments (received > 0, paid < 0) |
| net | realised - fees + funding |
| unrealised | the latest position snapshot (valued at the mark price, else last trade, else websocket) |
| trades, wins, win rate | closed round trips, and those whose net PnL (realised - fees + funding) > 0 |
| position | the latest snapshot's quantity |

Every money figure is summed exactly in `Decimal`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from engine.core.types import ZERO, Fill, FundingPayment, Position, TradeExit

TOTAL = "*"


@dataclass
class PnlLine:
    account: str
    symbol: str                     # TOTAL for the account's total
    realized: Decimal = ZERO
    fees: Decimal = ZERO
    funding: Decimal = ZERO
    unrealized: Decimal = ZERO
    position: Decimal = ZERO
    trades: int = 0
    wins: int = 0

    @property
    def net(self) -> Decimal:
        return self.realized - self.fees + self.funding

    @property
    def win_rate(self) -> float | None:
        return self.wins / self.trades if self.trades else None

    def as_dict(self) -> dict[str, object]:
        return {"account": self.account, "symbol": self.symbol, "realized": str(self.realized), "fees": str(self.fees),
                "funding": str(self.funding), "net": str(self.net), "unrealized": str(self.unrealized),
                "position": str(self.position), "trades": self.trades, "wins": self.wins,
                "win_rate": self.win_rate}


@dataclass
class PnlReport:
    lines: list[PnlLine] = field(default_factory=list)

    def line(self, account: str, symbol: str) -> PnlLine | None:
        return next((x for x in self.lines if x.account == account and x.symbol == symbol), None)


def pnl_report(fills: Iterable[Fill], funding: Iterable[FundingPayment], positions: Iterable[Position],
               exits: Iterable[TradeExit]) -> PnlReport:
    lines: dict[tuple[str, str], PnlLine] = {}

    def at(account: str, symbol: str) -> PnlLine:
        key = (account, symbol)
        if key not in lines:
            lines[key] = PnlLine(account, symbol)
        return lines[key]

    for fill in fills:
        line = at(fill.account, fill.symbol)
        line.realized += fill.realized_pnl
        line.fees += fill.fee
    for payment in funding:
        at(payment.account, payment.symbol).funding += payment.amount
    for position in positions:
        line = at(position.account, position.symbol)
        line.unrealized = position.unrealized_pnl
        line.position = position.quantity
    for exit_ in exits:
        line = at(exit_.account, exit_.symbol)
        line.trades += 1
        line.wins += exit_.net_pnl > 0
    ordered = [lines[k] for k in sorted(lines)]
    report = PnlReport()
    for account in sorted({line.account for line in ordered}):
        mine = [line for line in ordered if line.account == account]
        total = PnlLine(account, TOTAL)
        for line in mine:
            total.realized += line.realized
            total.fees += line.fees
            total.funding += line.funding
            total.unrealized += line.unrealized
            total.trades += line.trades
            total.wins += line.wins
        report.lines += [*mine, total]
    return report

