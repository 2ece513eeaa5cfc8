"""Merged positions across accounts."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.accounts import merge_positions
from engine.core.types import Position, Side


def leg(account: str, quantity: str, entry: str, upnl: str = "0", mark: str = "0", t: int = 0,
        symbol: str = "BTCUSDT") -> Position:
    return Position(account, symbol, D(quantity), D(entry), mark_price=D(mark), unrealized_pnl=D(upnl), event_time=t)


def test_same_side_legs_average_their_entries() -> None:
    merged = merge_positions([leg("a", "0.3", "60000", "30", "60100", 1), leg("b", "0.1", "62000", "-190", "60200", 2),
                              leg("c", "0", "1"), leg("a", "2", "3000", symbol="ETHUSDT")])
    btc = merged["BTCUSDT"]
    assert btc.net_quantity == D("0.4") and btc.entry_price == D("60500") and btc.unrealized_pnl == D("-160")
    assert btc.long_quantity == D("0.4") and btc.short_quantity == 0 and btc.short_entry_price is None
    assert btc.mark_price == D("60200") and btc.accounts == ("a", "b") and btc.side is Side.BUY
    assert list(merged) == ["BTCUSDT", "ETHUSDT"]


def test_hedged_legs_give_the_break_even_of_the_net() -> None:
    btc = merge_positions([leg("a", "0.3", "60000"), leg("hedge", "-0.1", "63000")])["BTCUSDT"]
    assert btc.net_quantity == D("0.2") and btc.entry_price == D("58500")   # (18000 - 6300) / 0.2
    assert (btc.long_entry_price, btc.short_quantity, btc.short_entry_price) == (D("60000"), D("0.1"), D("63000"))
    flat = merge_positions([leg("a", "0.1", "60000"), leg("b", "-0.1", "61000")])["BTCUSDT"]
    assert flat.net_quantity == 0 and flat.entry_price is None and flat.side is None


def test_two_positions_of_one_account_in_one_symbol_is_an_error() -> None:
    with pytest.raises(ValueError, match="more than one position per account"):
        merge_positions([leg("a", "1", "1"), leg("a", "2", "1")])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.decimals(-100, 100, places=3).filter(lambda q: q != 0),
                          st.decimals(1, 100000, places=2), st.decimals(-1000, 1000, places=2)),
                min_size=1, max_size=12),
       st.decimals(1, 100000, places=2))
def test_merged_equals_the_sum_of_the_accounts(legs: list[tuple[D, D, D]], price: D) -> None:
    positions = [leg(f"a{i}", str(q), str(e), str(u)) for i, (q, e, u) in enumerate(legs)]
    merged = merge_positions(positions)["BTCUSDT"]
    assert merged.net_quantity == sum(q for q, _, _ in legs)
    assert merged.unrealized_pnl == sum(u for _, _, u in legs)
    assert merged.long_quantity - merged.short_quantity == merged.net_quantity
    if merged.entry_price is not None:   # PnL of the merged book at any price equals the sum of the legs'
        assert merged.net_quantity * (price - merged.entry_price) == pytest.approx(
            sum(q * (price - e) for q, e, _ in legs), abs=D("1e-12") * (1 + sum(abs(q) * e for q, e, _ in legs)))
