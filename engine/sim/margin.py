"""Margin arithmetic: initial and maintenance margin, available balance, liquidation conditions and
prices. Pure functions of an account, mark prices and symbol specs.

Rules (one maintenance bracket per symbol, documented in the README):
* position initial margin = |amount| x mark / leverage; maintenance = |amount| x mark x rate
* open-order margin = remaining x price / leverage for resting non-reduce-only orders
* available = cross wallet + cross uPnL - cross position IM - open-order IM
* cross liquidation when cross wallet + cross uPnL <= cross maintenance margin;
  isolated liquidation when isolated wallet + position uPnL <= its maintenance margin."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from engine.sim.accounts import Account, Position
from engine.sim.instruments import SymbolSpec

ZERO = Decimal(0)


@dataclass(frozen=True)
class PositionRisk:
    symbol: str
    amount: Decimal
    entry_price: Decimal
    mark: Decimal
    unrealized: Decimal
    notional: Decimal
    initial_margin: Decimal
    maint_margin: Decimal
    isolated: bool
    isolated_wallet: Decimal
    leverage: int
    liquidation_price: Decimal


@dataclass(frozen=True)
class AccountRisk:
    wallet: Decimal
    cross_wallet: Decimal
    unrealized: Decimal
    cross_unrealized: Decimal
    position_initial_margin: Decimal
    open_order_initial_margin: Decimal
    maint_margin: Decimal
    cross_maint_margin: Decimal
    available: Decimal
    positions: tuple[PositionRisk, ...]

    @property
    def equity(self) -> Decimal:
        """Margin balance: wallet cash plus unrealised PnL."""
        return self.wallet + self.unrealized

    @property
    def initial_margin(self) -> Decimal:
        return self.position_initial_margin + self.open_order_initial_margin

    @property
    def max_withdraw(self) -> Decimal:
        return max(ZERO, min(self.available, self.cross_wallet))


def open_order_margin(account: Account) -> Decimal:
    total = ZERO
    for order in account.open_orders():
        if order.type == "LIMIT" and not order.reduce_only:
            total += order.remaining * order.price / account.leverage_of(order.symbol)
    return total


def position_risk(account: Account, pos: Position, mark: Decimal, spec: SymbolSpec,
                  cross_others: tuple[Decimal, Decimal] = (ZERO, ZERO), *, prices: bool = True) -> PositionRisk:
    """`cross_others` = (uPnL, maintenance margin) of the account's other cross positions, which a
    cross position's liquidation price depends on. `prices=False` skips the liquidation price (the
    per-tick liquidation check does not need it)."""
    leverage = account.leverage_of(pos.symbol)
    isolated = account.margin_type_of(pos.symbol) == "isolated" and pos.amount != 0
    notional = pos.amount * mark
    mm = abs(notional) * spec.maint_margin_rate
    if isolated:
        collateral = pos.isolated_wallet
    else:
        collateral = account.cross_wallet + cross_others[0] - cross_others[1]
    return PositionRisk(
        symbol=pos.symbol, amount=pos.amount, entry_price=pos.entry_price, mark=mark,
        unrealized=pos.unrealized(mark), notional=notional, initial_margin=abs(notional) / leverage,
        maint_margin=mm, isolated=isolated, isolated_wallet=pos.isolated_wallet if isolated else ZERO,
        leverage=leverage,
        liquidation_price=liquidation_price(pos.amount, pos.entry_price, collateral, spec.maint_margin_rate)
        if prices else ZERO)


def liquidation_price(amount: Decimal, entry: Decimal, collateral: Decimal, rate: Decimal) -> Decimal:
    """Mark price m where collateral + amount x (m - entry) = |amount| x m x rate; 0 if none > 0."""
    if not amount:
        return ZERO
    denominator = amount - abs(amount) * rate
    if not denominator:
        return ZERO
    price = (amount * entry - collateral) / denominator
    return price if price > 0 else ZERO


def assess(account: Account, marks: Mapping[str, Decimal], specs: Mapping[str, SymbolSpec], *,
           prices: bool = True) -> AccountRisk:
    open_positions = [p for p in account.positions.values() if p.amount]
    cross = [p for p in open_positions if account.margin_type_of(p.symbol) == "cross"]
    cross_upnl = {p.symbol: p.unrealized(marks[p.symbol]) for p in cross}
    cross_mm = {p.symbol: abs(p.amount) * marks[p.symbol] * specs[p.symbol].maint_margin_rate for p in cross}
    total_cross_upnl = sum(cross_upnl.values(), ZERO)
    total_cross_mm = sum(cross_mm.values(), ZERO)
    risks = []
    for pos in open_positions:
        others = (total_cross_upnl - cross_upnl.get(pos.symbol, ZERO), total_cross_mm - cross_mm.get(pos.symbol, ZERO))
        risks.append(position_risk(account, pos, marks[pos.symbol], specs[pos.symbol], others, prices=prices))
    cross_im = sum((r.initial_margin for r in risks if not r.isolated), ZERO)
    oim = open_order_margin(account)
    return AccountRisk(
        wallet=account.wallet, cross_wallet=account.cross_wallet,
        unrealized=sum((r.unrealized for r in risks), ZERO), cross_unrealized=total_cross_upnl,
        position_initial_margin=sum((r.initial_margin for r in risks), ZERO), open_order_initial_margin=oim,
        maint_margin=sum((r.maint_margin for r in risks), ZERO), cross_maint_margin=total_cross_mm,
        available=account.cross_wallet + total_cross_upnl - cross_im - oim, positions=tuple(risks))


def at_risk(account: Account, marks: Mapping[str, Decimal], specs: Mapping[str, SymbolSpec]) -> tuple[list[str], bool]:
    """The per-tick liquidation check in one pass: (isolated symbols to liquidate, cross liquidation?).
    The same conditions as `isolated_liquidatable` and `cross_liquidatable`."""
    isolated: list[str] = []
    cross_upnl = cross_mm = ZERO
    has_cross = False
    for pos in account.positions.values():
        if not pos.amount:
            continue
        mark = marks[pos.symbol]
        upnl = pos.amount * (mark - pos.entry_price)
        mm = abs(pos.amount) * mark * specs[pos.symbol].maint_margin_rate
        if account.margin_type_of(pos.symbol) == "isolated":
            if pos.isolated_wallet + upnl <= mm:
                isolated.append(pos.symbol)
        else:
            has_cross = True
            cross_upnl += upnl
            cross_mm += mm
    return isolated, has_cross and account.cross_wallet + cross_upnl <= cross_mm


def cross_liquidatable(risk: AccountRisk) -> bool:
    has_cross = any(not r.isolated for r in risk.positions)
    return has_cross and risk.cross_wallet + risk.cross_unrealized <= risk.cross_maint_margin


def isolated_liquidatable(risk: PositionRisk) -> bool:
    return risk.isolated and risk.isolated_wallet + risk.unrealized <= risk.maint_margin
