"""One admitted signal's entry, split over the trading accounts (pure).

The entry is sized for the whole book (`EntrySizing` on the summed equity of the accounts whose
equity is known), floored to whole market lots and split with
`engine.accounts.split_quantity` under `SLT_ACCOUNT_DISTRIBUTION`:
`equal`, `weighted` (the configured weights) or `risk_based` (weight x the share of the account's
equity not yet used as margin; margin used = the sum over its open positions of
|quantity| x price / leverage, from the engine's own books, so it is current to the last fill).
Each account's part then goes through `RiskManager.decide` with that account's own state (its
equity, positions, working orders) when its book enters, so the regime's caps hold per account.

With one account there is nothing to split: the request goes to the risk manager as it is (the
single-account engine behaves exactly as before multi-account trading existed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from engine.accounts import AccountLoad, SplitError, Strategy, split_quantity
from engine.core.instrument import Instrument


@dataclass(frozen=True)
class Seat:
    """What the split needs of one account."""

    id: str
    weight: Decimal
    equity: Decimal | None           # None: not known yet (the account gets nothing this time)
    margin_used: Decimal = Decimal(0)


@dataclass(frozen=True)
class Allotment:
    total: Decimal
    parts: dict[str, Decimal] = field(default_factory=dict)   # account -> requested quantity
    notes: dict[str, str] = field(default_factory=dict)       # account -> why it gets nothing

    def part(self, account: str) -> tuple[Decimal | None, str]:
        """(quantity, "") or (None, why not)."""
        if account in self.parts:
            return self.parts[account], ""
        return None, self.notes.get(account, f"account {account} was not trading when the entry was split")


def allot(quantity: Decimal, seats: Sequence[Seat], instrument: Instrument, price: Decimal,
          strategy: Strategy | str) -> Allotment:
    """Split the book's requested entry `quantity` over `seats` (see the module docstring)."""
    ready = [s for s in seats if s.equity is not None and s.equity > 0]
    notes = {s.id: "its equity is not known yet" for s in seats if s not in ready}
    if len(seats) == 1:
        return Allotment(quantity, {ready[0].id: quantity} if ready else {}, notes)
    step = instrument.market_step_size
    lots = (quantity / step).to_integral_value(rounding=ROUND_DOWN) * step
    if not ready or lots <= 0:
        why = "no account's equity is known" if not ready else f"{quantity} is less than one lot of {step}"
        return Allotment(lots, {}, {s.id: why for s in seats} | notes)
    loads = {s.id: AccountLoad(s.equity, s.margin_used) for s in ready if s.equity is not None}
    try:
        split = split_quantity(lots, ready, instrument, price, strategy, loads=loads)
    except SplitError as exc:
        return Allotment(lots, {}, {s.id: str(exc) for s in seats})
    notes |= {s.account: s.reason for s in split.skipped}
    return Allotment(lots, {p.account: p.quantity for p in split.parts}, notes)
