"""Whether new quotes of a symbol within known price ranges can make the exchange core do anything.

`Exchange.update_quote` triggers the conditional orders waiting on the symbol, fills the orders
resting on it and liquidates the accounts holding it. Each of those tests is a threshold on one
price (a trigger against the last or mark price, a limit against the last price, an account's
margin against the marks of what it holds), so if it fails at both ends of a range it fails at
every price inside it. A backtest uses this to skip the path points of a bar at which nothing can
happen (engine/backtest/stepper.py).

The margin test is a sum over positions of terms monotone in each mark; it is evaluated at each
term's worst mark and must clear the maintenance margin by `SLACK`, far above Decimal rounding, so
"calm" is never claimed for a price the exact test would liquidate at."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from engine.sim.accounts import Account
from engine.sim.instruments import SymbolSpec
from engine.sim.matching import Exchange

SLACK = Decimal("0.000001")


def orders_calm(ex: Exchange, symbol: str, last: tuple[Decimal, Decimal], mark: tuple[Decimal, Decimal]) -> bool:
    """No open conditional order of `symbol` triggers and no open resting order is touched at any last
    price in `last` = (low, high) and mark price in `mark`."""
    for algo in ex.waiting(symbol):
        if not algo.is_open:
            continue
        low, high = mark if algo.working_type == "MARK_PRICE" else last
        if algo.triggers(low) or algo.triggers(high):
            return False
    for order in ex.resting(symbol):
        if order.is_open and (last[0] <= order.price if order.side == "BUY" else last[1] >= order.price):
            return False
    return True


def account_calm(account: Account, marks: Mapping[str, tuple[Decimal, Decimal]],
                 specs: Mapping[str, SymbolSpec]) -> bool:
    """`margin.at_risk` finds nothing to liquidate for any marks of the held symbols within `marks`
    (symbol -> (low, high)); False if a held symbol has no range."""
    cross = account.cross_wallet
    has_cross = False
    for pos in account.positions.values():
        if not pos.amount:
            continue
        bounds = marks.get(pos.symbol)
        if bounds is None:
            return False
        mark = bounds[0] if pos.amount > 0 else bounds[1]     # the mark the position loses most at
        upnl = pos.amount * (mark - pos.entry_price)
        mm = abs(pos.amount) * mark * specs[pos.symbol].maint_margin_rate
        if account.margin_type_of(pos.symbol) == "isolated":
            if pos.isolated_wallet + upnl - mm <= SLACK:
                return False
        else:
            has_cross = True
            cross += upnl - mm
    return not has_cross or cross > SLACK
