"""How a fill, a funding payment or a liquidation changes an account's wallet and position.

One-way positions: a fill in the position's direction averages the entry price; against it, it
realises PnL on the closed part (amount x (price - entry)) and, past zero, opens the other way at the
fill price. Commission is paid from the wallet. Isolated positions hold margin (notional / leverage)
taken from the cross wallet and give it back pro rata as they shrink."""

from __future__ import annotations

from decimal import Decimal

from engine.sim.accounts import Account, Position
from engine.sim.events import AccountEvent, PositionState
from engine.sim.pricing import money

ZERO = Decimal(0)


def settle_fill(account: Account, symbol: str, signed_qty: Decimal, price: Decimal, commission: Decimal,
                time: int, trade_id: int = 0) -> Decimal:
    """Apply one fill; return the realised PnL (8 decimals)."""
    pos = account.position(symbol)
    isolated = account.margin_type_of(symbol) == "isolated"
    leverage = account.leverage_of(symbol)
    amount = pos.amount
    realized = ZERO
    if amount == 0 or (amount > 0) == (signed_qty > 0):
        new_amount = amount + signed_qty
        pos.entry_price = (abs(amount) * pos.entry_price + abs(signed_qty) * price) / abs(new_amount)
        pos.amount = new_amount
        if isolated:
            pos.isolated_wallet += abs(signed_qty) * price / leverage
    else:
        closing = min(abs(signed_qty), abs(amount))
        realized = money(closing * (price - pos.entry_price) * (1 if amount > 0 else -1))
        if isolated:
            pos.isolated_wallet -= pos.isolated_wallet * closing / abs(amount)
        pos.amount = amount + signed_qty
        if pos.amount == 0:
            pos.entry_price = ZERO
            pos.isolated_wallet = ZERO
            pos.fees = ZERO
        elif (pos.amount > 0) != (amount > 0):      # flipped: the rest opens at the fill price
            pos.entry_price = price
            pos.fees = ZERO
            pos.isolated_wallet = abs(pos.amount) * price / leverage if isolated else ZERO
    if pos.amount:
        pos.fees += commission
    pos.realized += realized
    pos.update_time = time
    account.wallet += realized - commission
    account.ledger.realized += realized
    account.ledger.fees += commission
    account.record_income("REALIZED_PNL", realized, time, symbol, trade_id)
    account.record_income("COMMISSION", -commission, time, symbol, trade_id)
    account.update_time = time
    return realized


def settle_funding(account: Account, symbol: str, mark: Decimal, rate: Decimal, time: int) -> Decimal:
    """Longs pay shorts when the rate is positive: payment = -amount x mark x rate."""
    pos = account.positions.get(symbol)
    if pos is None or not pos.amount:
        return ZERO
    payment = money(-pos.amount * mark * rate)
    account.wallet += payment
    if account.margin_type_of(symbol) == "isolated":
        pos.isolated_wallet += payment
    account.ledger.funding += payment
    account.record_income("FUNDING_FEE", payment, time, symbol)
    account.update_time = time
    return payment


def cover_negative_cross_wallet(account: Account, time: int = 0) -> Decimal:
    """After a liquidation the insurance fund tops a negative cross wallet back up to zero."""
    deficit = -account.cross_wallet
    if deficit <= 0:
        return ZERO
    account.wallet += deficit
    account.ledger.insurance += deficit
    account.record_income("INSURANCE_CLEAR", deficit, time)
    return deficit


def position_state(account: Account, pos: Position, mark: Decimal) -> PositionState:
    isolated = account.margin_type_of(pos.symbol) == "isolated"
    return PositionState(symbol=pos.symbol, amount=pos.amount, entry_price=pos.entry_price,
                         break_even=pos.break_even(), realized=pos.realized,
                         unrealized=money(pos.unrealized(mark)), margin_type="isolated" if isolated else "cross",
                         isolated_wallet=money(pos.isolated_wallet) if isolated else ZERO)


def account_event(account: Account, time: int, reason: str, positions: tuple[PositionState, ...],
                  balance_change: Decimal = ZERO) -> AccountEvent:
    return AccountEvent(account=account.key, time=time, reason=reason, wallet=money(account.wallet),
                        cross_wallet=money(account.cross_wallet), balance_change=balance_change,
                        positions=positions)
