"""Splitting one order over several accounts so the parts sum exactly to the requested quantity.

Strategies (each gives every account a weight w_i >= 0):
* `equal`: w_i = 1.
* `weighted`: w_i = the account's configured weight.
* `risk_based`: w_i = weight_i x max(0, 1 - usage_i), usage_i = margin used / equity (equity <= 0
  counts as fully used). Accounts receive in proportion to the risk headroom they have left, so an
  account at 100 % usage gets nothing. (Headroom rather than 1/usage: 1/usage explodes for idle
  accounts, giving an account at 1 % usage twice the share of one at 2 %, and needs an arbitrary floor.)

Apportionment (largest remainder, Hamilton's method), in whole lots of the instrument's step:
N = quantity / step lots; quota_i = N x w_i / sum(w); each account first gets floor(quota_i)
lots, then the N - sum(floor) remaining lots go one each to the largest fractional remainders,
ties to the smaller account id. Hence the parts sum to N lots exactly and every part is within one
lot of its quota. Arithmetic is exact (fractions), so the result never depends on float rounding.

Minimums: a non-zero part below min qty (or, unless reduce-only, min notional at `price`) cannot be
sent; the smallest-weighted such account (ties: the larger id) is left out and the whole quantity is
apportioned again over the rest, until every part is valid. Accounts left out, or whose share rounds
to zero lots, are listed in `skipped` with the reason. A part above max qty is an error (`SplitError`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Protocol

import msgspec

from engine.core.errors import DataError
from engine.core.instrument import Instrument


class Strategy(StrEnum):
    EQUAL = "equal"
    WEIGHTED = "weighted"
    RISK_BASED = "risk_based"


class Weighted(Protocol):
    """What splitting needs of an account (`Account` and `AccountSpec` both fit)."""

    @property
    def id(self) -> str: ...

    @property
    def weight(self) -> Decimal: ...


class AccountLoad(msgspec.Struct, frozen=True):
    """An account's current risk usage, for `risk_based`."""

    equity: Decimal
    margin_used: Decimal

    @property
    def usage(self) -> Fraction:
        if self.equity <= 0:
            return Fraction(1)
        return Fraction(self.margin_used) / Fraction(self.equity)


class Part(msgspec.Struct, frozen=True):
    account: str
    quantity: Decimal


class Skipped(msgspec.Struct, frozen=True):
    account: str
    reason: str


class Split(msgspec.Struct, frozen=True):
    strategy: Strategy
    quantity: Decimal
    parts: tuple[Part, ...]            # non-zero, valid lots, sorted by account id, summing to quantity
    skipped: tuple[Skipped, ...] = ()


class SplitError(DataError):
    """The quantity cannot be split into valid parts (not a whole lot, below the minimum, too large)."""


def strategy_weights(accounts: Sequence[Weighted], strategy: Strategy | str,
                     loads: Mapping[str, AccountLoad] | None = None) -> dict[str, Fraction]:
    """Each account's exact weight under a strategy (see the module docstring)."""
    strategy = Strategy(strategy)
    if strategy is Strategy.EQUAL:
        return {a.id: Fraction(1) for a in accounts}
    if strategy is Strategy.WEIGHTED:
        return {a.id: Fraction(a.weight) for a in accounts}
    lacking = [a.id for a in accounts if loads is None or a.id not in loads]
    if lacking:
        raise SplitError(f"risk_based needs the current load (equity, margin used) of account(s) {lacking}")
    assert loads is not None
    return {a.id: Fraction(a.weight) * max(Fraction(0), 1 - loads[a.id].usage) for a in accounts}


def split_quantity(quantity: Decimal, accounts: Sequence[Weighted], instrument: Instrument, price: Decimal,
                   strategy: Strategy | str = Strategy.WEIGHTED, *, loads: Mapping[str, AccountLoad] | None = None,
                   market: bool = True, reduce_only: bool = False) -> Split:
    """Split `quantity` (a whole number of lots) over `accounts`; parts sum to it exactly."""
    strategy = Strategy(strategy)
    ids = [a.id for a in accounts]
    if len(set(ids)) != len(ids):
        raise SplitError(f"account ids repeat: {sorted(ids)}")
    step = instrument.market_step_size if market else instrument.step_size
    lots = quantity / step
    if not quantity.is_finite() or quantity <= 0 or lots != lots.to_integral_value():
        raise SplitError(f"{instrument.symbol}: {quantity} is not a positive whole number of lots of {step}")
    if not price.is_finite() or price <= 0:
        raise SplitError(f"{instrument.symbol}: price must be a finite number greater than 0, got {price}")
    weights = strategy_weights(accounts, strategy, loads)
    active = {a: w for a, w in weights.items() if w > 0}
    skipped = [Skipped(a, f"{strategy} weight is 0") for a, w in sorted(weights.items()) if w <= 0]
    if not active:
        raise SplitError(f"no account has a positive {strategy} weight")
    while True:
        counts = apportion(int(lots), active)
        parts = {a: (n * step).quantize(step) for a, n in counts.items()}
        bad = [a for a, q in parts.items() if q > 0 and _below_minimum(q, instrument, price, market, reduce_only)]
        if not bad:
            break
        if len(active) == 1:
            raise SplitError(f"{instrument.symbol}: {quantity} at {price} is below the minimum order "
                             f"(min qty {_min_qty(instrument, market)}, min notional {instrument.min_notional})")
        drop = min(bad, key=lambda a: (active[a], _desc(a)))
        skipped.append(Skipped(drop, f"its share {parts[drop]} was below min qty {_min_qty(instrument, market)} "
                                     f"or min notional {instrument.min_notional}; re-split over the others"))
        del active[drop]
    max_qty = instrument.market_max_qty if market else instrument.max_qty
    for account, part in parts.items():
        if part > max_qty:
            raise SplitError(f"{instrument.symbol}: part {part} for account {account} is above max qty {max_qty}")
    skipped += [Skipped(a, "its share rounds to 0 lots") for a, q in sorted(parts.items()) if q == 0]
    return Split(strategy, quantity, tuple(Part(a, q) for a, q in sorted(parts.items()) if q > 0),
                 tuple(sorted(skipped, key=lambda s: s.account)))


def apportion(lots: int, weights: Mapping[str, Fraction]) -> dict[str, int]:
    """Largest-remainder apportionment of `lots` by `weights` (ties to the smaller id)."""
    total = sum(weights.values(), Fraction(0))
    if total <= 0:
        raise SplitError("weights must sum to more than 0")
    quotas = {a: lots * w / total for a, w in weights.items()}
    counts = {a: math.floor(q) for a, q in quotas.items()}
    rest = lots - sum(counts.values())
    for account in sorted(weights, key=lambda a: (-(quotas[a] - counts[a]), a))[:rest]:
        counts[account] += 1
    return counts


def _below_minimum(quantity: Decimal, instrument: Instrument, price: Decimal, market: bool, reduce_only: bool) -> bool:
    if quantity < _min_qty(instrument, market):
        return True
    return not reduce_only and not instrument.meets_min_notional(quantity, price)


def _min_qty(instrument: Instrument, market: bool) -> Decimal:
    return instrument.market_min_qty if market else instrument.min_qty


def _desc(account: str) -> tuple[int, ...]:
    """Sort key putting larger ids first (to drop the larger id on a weight tie)."""
    return tuple(-ord(c) for c in account) + (0,)
