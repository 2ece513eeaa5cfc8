"""Merged positions: one view per symbol of the positions held on several accounts (pure).

For legs q_i (signed) entered at e_i: net quantity = sum q_i; unrealised PnL = sum of the legs'
uPnL; entry price = sum(q_i e_i) / sum(q_i), the break-even price of the combined book (the price at
which the legs' PnL sums to zero). When every leg is on one side this is the quantity-weighted
average entry; when legs offset (a HEDGE account short against a long) it is still the break-even
of what is net, and it is None when the net is flat. Long and short legs are also kept apart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

import msgspec

from engine.core.types import ZERO, Position, Side


class MergedPosition(msgspec.Struct, frozen=True):
    symbol: str
    net_quantity: Decimal
    entry_price: Decimal | None        # break-even of the net; None when flat
    unrealized_pnl: Decimal
    long_quantity: Decimal
    long_entry_price: Decimal | None
    short_quantity: Decimal            # positive size of the short legs
    short_entry_price: Decimal | None
    mark_price: Decimal                # from the most recent leg that has one (0 if none)
    accounts: tuple[str, ...]          # accounts with a non-zero leg, sorted

    @property
    def side(self) -> Side | None:
        if self.net_quantity > 0:
            return Side.BUY
        if self.net_quantity < 0:
            return Side.SELL
        return None


def merge_positions(positions: Iterable[Position]) -> dict[str, MergedPosition]:
    """Aggregate per symbol; flat legs are ignored. An account listed twice for one symbol is an error."""
    by_symbol: dict[str, list[Position]] = defaultdict(list)
    for position in positions:
        if position.quantity != 0:
            by_symbol[position.symbol].append(position)
    return {symbol: _merge(symbol, legs) for symbol, legs in sorted(by_symbol.items())}


def _merge(symbol: str, legs: list[Position]) -> MergedPosition:
    accounts = [p.account for p in legs]
    if len(set(accounts)) != len(accounts):
        raise ValueError(f"{symbol}: more than one position per account in {sorted(accounts)} (one-way mode)")
    longs = [p for p in legs if p.quantity > 0]
    shorts = [p for p in legs if p.quantity < 0]
    net = sum((p.quantity for p in legs), ZERO)
    marked = [p for p in legs if p.mark_price > 0]
    return MergedPosition(
        symbol=symbol, net_quantity=net,
        entry_price=sum((p.quantity * p.entry_price for p in legs), ZERO) / net if net != 0 else None,
        unrealized_pnl=sum((p.unrealized_pnl for p in legs), ZERO),
        long_quantity=sum((p.quantity for p in longs), ZERO), long_entry_price=_average(longs),
        short_quantity=-sum((p.quantity for p in shorts), ZERO), short_entry_price=_average(shorts),
        mark_price=max(marked, key=lambda p: p.event_time).mark_price if marked else ZERO,
        accounts=tuple(sorted(accounts)))


def _average(legs: list[Position]) -> Decimal | None:
    size = sum((abs(p.quantity) for p in legs), ZERO)
    return sum((abs(p.quantity) * p.entry_price for p in legs), ZERO) / size if size else None
