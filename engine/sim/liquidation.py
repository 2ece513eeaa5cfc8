"""Liquidation: after every tick, accounts holding the symbol are checked against their
maintenance margin (`margin.py`) and closed at the mark price when they fall through it.

* Isolated: the position's whole isolated margin is lost; what the close at the mark did not lose
  goes as clearance fee, a loss beyond it is paid by the insurance fund.
* Cross: all cross positions close; the maintenance margin is charged as clearance fee (capped at
  the cross wallet), and a negative cross wallet is lifted to zero by the insurance fund.
Liquidation fills carry no commission, use client ids `autoclose-...` and execution type CALCULATED."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from engine.sim.accounts import Account
from engine.sim.events import Event
from engine.sim.margin import at_risk
from engine.sim.pricing import money
from engine.sim.settlement import account_event, cover_negative_cross_wallet
from engine.sim.validation import OrderRequest

if TYPE_CHECKING:
    from engine.sim.matching import Exchange

ZERO = Decimal(0)


def liquidate(exchange: Exchange, symbol: str, now: int) -> list[Event]:
    events: list[Event] = []
    for key in exchange.exposed(symbol):
        account = exchange.accounts[key]
        marks = exchange.marks()
        isolated, cross = at_risk(account, marks, exchange.specs)
        for name in isolated:
            events += close_positions(exchange, account, [name], now, isolated=True)
        if isolated:
            cross = at_risk(account, marks, exchange.specs)[1]
        if cross:
            symbols = [p.symbol for p in account.positions.values()
                       if p.amount and account.margin_type_of(p.symbol) == "cross"]
            events += close_positions(exchange, account, symbols, now, isolated=False)
    return events


def close_positions(exchange: Exchange, account: Account, symbols: list[str], now: int, *,
                    isolated: bool) -> list[Event]:
    events: list[Event] = []
    for order in account.open_orders():
        if not isolated or order.symbol in symbols:
            events += exchange.finish(account, order, "CANCELED", now)
    maint = ZERO
    realized_total = ZERO
    margin_lost = ZERO
    for symbol in symbols:
        pos = account.positions[symbol]
        mark = exchange.quotes[symbol].mark
        maint += abs(pos.amount) * mark * exchange.specs[symbol].maint_margin_rate
        margin_lost += pos.isolated_wallet
        req = OrderRequest(symbol=symbol, side="SELL" if pos.amount > 0 else "BUY", type="LIQUIDATION",
                           quantity=abs(pos.amount), client_id=f"autoclose-{now}-{symbol.lower()}",
                           reduce_only=True)
        order = exchange.new_order(account, req, now)
        before = account.ledger.realized
        events += exchange.fill(account, order, order.quantity, mark, False, now)
        realized_total += account.ledger.realized - before
    if isolated:
        shortfall = margin_lost + realized_total      # what is left of the isolated margin
        fee = max(ZERO, shortfall)
        account.wallet += max(ZERO, -shortfall)       # a loss beyond the margin: insurance fund
        account.ledger.insurance += max(ZERO, -shortfall)
        account.record_income("INSURANCE_CLEAR", max(ZERO, -shortfall), now, symbols[0])
    else:
        fee = max(ZERO, min(money(maint), account.cross_wallet))
    account.wallet -= fee
    account.ledger.liquidation_fees += fee
    account.ledger.liquidations += 1
    account.record_income("INSURANCE_CLEAR", -fee, now, symbols[0])
    cover_negative_cross_wallet(account, now)
    if fee:
        events.append(account_event(account, now, "ORDER", (), -fee))
    return events
