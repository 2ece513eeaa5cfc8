"""Liquidation: after every tick, accounts holding the symbol are checked against their
maintenance margin (`margin.py`); what fell through it is closed at the mark price.

This module decides and accounts; it does not trade. `next_close` returns a `ClosePlan` (the orders
to cancel, the positions to close at what price and quantity), the exchange core (`matching.py`)
executes it, and `settle_close` books the clearance fee from the PnL the closes realised:

* Isolated: the position's whole isolated margin is lost; what the close at the mark did not lose
  goes as clearance fee, a loss beyond it is paid by the insurance fund.
* Cross: all cross positions close; the maintenance margin is charged as clearance fee (capped at
  the cross wallet), and a negative cross wallet is lifted to zero by the insurance fund.
Liquidation fills carry no commission, use client ids `autoclose-...` and execution type CALCULATED."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from engine.sim.accounts import Account
from engine.sim.events import Event
from engine.sim.instruments import SymbolSpec
from engine.sim.margin import at_risk
from engine.sim.pricing import money
from engine.sim.settlement import account_event, cover_negative_cross_wallet
from engine.sim.validation import OrderRequest

ZERO = Decimal(0)


@dataclass(frozen=True)
class Close:
    """One position closed by a LIQUIDATION order filled at `price` (the mark)."""
    order: OrderRequest
    price: Decimal


@dataclass(frozen=True)
class ClosePlan:
    """One liquidation of one account, in execution order: cancel `cancels` (order ids), fill `closes`,
    then `settle_close`. `maint` and `margin_lost` are the closed positions' maintenance margin at the
    mark and their isolated margin, taken before the closes."""
    account: str
    isolated: bool
    cancels: tuple[int, ...]
    closes: tuple[Close, ...]
    maint: Decimal
    margin_lost: Decimal

    @property
    def symbol(self) -> str:
        """The symbol the clearance is booked on (the first closed)."""
        return self.closes[0].order.symbol


def next_close(account: Account, marks: Mapping[str, Decimal], specs: Mapping[str, SymbolSpec],
               now: int) -> ClosePlan | None:
    """The account's next liquidation, or None when nothing is through its maintenance margin:
    each isolated position that is (in position order), then all cross positions if the cross
    margin is, judged after the isolated closes. Executing a plan closes its positions, so calling
    this again after each plan ends with None."""
    isolated, cross = at_risk(account, marks, specs)
    if isolated:
        return _plan(account, [isolated[0]], marks, specs, now, isolated=True)
    if cross:
        symbols = [p.symbol for p in account.positions.values()
                   if p.amount and account.margin_type_of(p.symbol) == "cross"]
        return _plan(account, symbols, marks, specs, now, isolated=False)
    return None


def _plan(account: Account, symbols: list[str], marks: Mapping[str, Decimal], specs: Mapping[str, SymbolSpec],
          now: int, *, isolated: bool) -> ClosePlan:
    cancels = tuple(o.order_id for o in account.open_orders() if not isolated or o.symbol in symbols)
    closes: list[Close] = []
    maint = margin_lost = ZERO
    for symbol in symbols:
        pos = account.positions[symbol]
        mark = marks[symbol]
        maint += abs(pos.amount) * mark * specs[symbol].maint_margin_rate
        margin_lost += pos.isolated_wallet
        order = OrderRequest(symbol=symbol, side="SELL" if pos.amount > 0 else "BUY", type="LIQUIDATION",
                             quantity=abs(pos.amount), client_id=f"autoclose-{now}-{symbol.lower()}",
                             reduce_only=True)
        closes.append(Close(order, mark))
    return ClosePlan(account.key, isolated, cancels, tuple(closes), maint, margin_lost)


def settle_close(account: Account, plan: ClosePlan, realized: Decimal, now: int) -> list[Event]:
    """Book the clearance fee (and any insurance) once the plan's closes realised `realized`."""
    if plan.isolated:
        shortfall = plan.margin_lost + realized       # what is left of the isolated margin
        fee = max(ZERO, shortfall)
        account.wallet += max(ZERO, -shortfall)       # a loss beyond the margin: insurance fund
        account.ledger.insurance += max(ZERO, -shortfall)
        account.record_income("INSURANCE_CLEAR", max(ZERO, -shortfall), now, plan.symbol)
    else:
        fee = max(ZERO, min(money(plan.maint), account.cross_wallet))
    account.wallet -= fee
    account.ledger.liquidation_fees += fee
    account.ledger.liquidations += 1
    account.record_income("INSURANCE_CLEAR", -fee, now, plan.symbol)
    cover_negative_cross_wallet(account, now)
    if fee:
        return [account_event(account, now, "ORDER", (), -fee)]
    return []
