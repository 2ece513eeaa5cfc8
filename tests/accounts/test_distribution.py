"""Splitting an order over accounts: exact sums, whole lots, the stated remainder and minimum rules."""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from engine.accounts import AccountLoad, AccountSpec, Part, SplitError, Strategy, apportion, split_quantity
from engine.core.instrument import Instrument
from tests.risk.builders import BTC

P = D("60000")   # BTC price: min notional 100 USDT needs 0.002 BTC


def specs(*weights: str) -> list[AccountSpec]:
    return [AccountSpec(f"acc{i:02d}", weight=D(w)) for i, w in enumerate(weights)]


def test_the_originals_weighted_example() -> None:
    split = split_quantity(D("1.0"), specs("1.5", "1.0"), BTC, P, "weighted")
    assert split.parts == (Part("acc00", D("0.600")), Part("acc01", D("0.400"))) and split.skipped == ()


def test_remainder_lots_go_to_the_largest_fractions_then_the_smaller_id() -> None:
    assert apportion(10, {"b": Fraction(1), "a": Fraction(1), "c": Fraction(1)}) == {"a": 4, "b": 3, "c": 3}
    assert apportion(10, {"a": Fraction(1), "b": Fraction(2), "c": Fraction(3)}) == {"a": 2, "b": 3, "c": 5}
    split = split_quantity(D("0.010"), specs("1", "1", "1"), BTC, D("200000"), "equal")
    assert [p.quantity for p in split.parts] == [D("0.004"), D("0.003"), D("0.003")]


def test_shares_below_the_minimum_are_re_split_over_the_others() -> None:
    # quotas 8.33, 0.83, 0.83 lots -> 8, 1, 1: 0.001 BTC x 60000 = 60 < min notional 100
    split = split_quantity(D("0.010"), specs("10", "1", "1"), BTC, P)
    assert split.parts == (Part("acc00", D("0.010")),)
    assert [s.account for s in split.skipped] == ["acc01", "acc02"]
    assert all("below min qty 0.001 or min notional 100" in s.reason for s in split.skipped)


def test_reduce_only_parts_are_exempt_from_min_notional() -> None:
    split = split_quantity(D("0.010"), specs("10", "1", "1"), BTC, P, reduce_only=True)
    assert [p.quantity for p in split.parts] == [D("0.008"), D("0.001"), D("0.001")]


def test_shares_that_round_to_nothing_are_listed() -> None:
    split = split_quantity(D("0.002"), specs("1", "1", "1"), BTC, D("200000"), "equal")
    assert [p.account for p in split.parts] == ["acc00", "acc01"]
    assert split.skipped[0].account == "acc02" and "rounds to 0 lots" in split.skipped[0].reason


def test_risk_based_follows_the_headroom_left() -> None:
    loads = {"acc00": AccountLoad(D("1000"), D("500")),     # 50 % used -> weight 0.5
             "acc01": AccountLoad(D("1000"), D("0")),       # idle -> 1
             "acc02": AccountLoad(D("1000"), D("1200")),    # over-used -> 0
             "acc03": AccountLoad(D("0"), D("0"))}          # no equity -> 0
    split = split_quantity(D("0.300"), specs("1", "1", "1", "1"), BTC, P, Strategy.RISK_BASED, loads=loads)
    assert split.parts == (Part("acc00", D("0.100")), Part("acc01", D("0.200")))
    assert [(s.account, s.reason) for s in split.skipped] == [("acc02", "risk_based weight is 0"),
                                                              ("acc03", "risk_based weight is 0")]
    with pytest.raises(SplitError, match="risk_based needs the current load"):
        split_quantity(D("0.3"), specs("1", "1"), BTC, P, "risk_based", loads={"acc00": loads["acc00"]})


@pytest.mark.parametrize(("quantity", "price", "kwargs", "match"), [
    (D("0.0105"), P, {}, "not a positive whole number of lots of 0.001"),
    (D("0"), P, {}, "not a positive whole number"),
    (D("0.001"), P, {}, "below the minimum order"),
    (D("300"), P, {}, "above max qty 120"),
    (D("1"), D("-1"), {}, "price must be"),
])
def test_impossible_splits_are_errors(quantity: D, price: D, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(SplitError, match=match):
        split_quantity(quantity, specs("1", "1"), BTC, price, **kwargs)  # type: ignore[arg-type]


def test_repeated_ids_and_unknown_strategy_are_errors() -> None:
    with pytest.raises(SplitError, match="repeat"):
        split_quantity(D("1"), [AccountSpec("a"), AccountSpec("a")], BTC, P)
    with pytest.raises(ValueError):
        split_quantity(D("1"), specs("1"), BTC, P, "random")


# -- properties ---------------------------------------------------------------------------------

@st.composite
def cases(draw: st.DrawFn) -> tuple[D, list[AccountSpec], Instrument, D, Strategy, dict[str, AccountLoad], bool]:
    step = draw(st.sampled_from([D("1"), D("0.1"), D("0.001")]))
    instrument = Instrument("X", "X", "USDT", tick_size=D("0.01"), min_price=D("0.01"), max_price=D("1000000"),
                            step_size=step, min_qty=step * draw(st.integers(1, 3)), max_qty=step * 10**9,
                            market_step_size=step, market_min_qty=step * draw(st.integers(1, 3)),
                            market_max_qty=step * 10**9, min_notional=draw(st.sampled_from([D("5"), D("100")])))
    n = draw(st.integers(1, 50))
    accounts = [AccountSpec(f"a{i:02d}", weight=draw(st.decimals(D("0.1"), D("10"), places=1))) for i in range(n)]
    loads = {a.id: AccountLoad(D("1000"), draw(st.decimals(0, 900, places=0))) for a in accounts}
    lots = draw(st.integers(1, 20_000))
    return (lots * step, accounts, instrument, draw(st.decimals(D("5"), D("70000"), places=2)),
            draw(st.sampled_from(Strategy)), loads, draw(st.booleans()))


@settings(max_examples=200, deadline=None)
@given(cases())
def test_parts_sum_exactly_are_valid_lots_and_follow_the_weights_within_one_lot(case: tuple) -> None:
    quantity, accounts, instrument, price, strategy, loads, market = case
    try:
        split = split_quantity(quantity, accounts, instrument, price, strategy, loads=loads, market=market)
    except SplitError as exc:
        event("impossible")
        assert "below the minimum" in str(exc)
        return
    assert sum((p.quantity for p in split.parts), D(0)) == quantity
    for part in split.parts:
        assert instrument.is_valid_quantity(part.quantity, market=market)
        assert instrument.meets_min_notional(part.quantity, price)
    assert {p.account for p in split.parts} | {s.account for s in split.skipped} == {a.id for a in accounts}
    assert split == split_quantity(quantity, list(reversed(accounts)), instrument, price, strategy, loads=loads,
                                   market=market)                       # order of the accounts does not matter
    if not any("below min" in s.reason for s in split.skipped):
        event("no account left out")
        weights = {a.id: (Fraction(a.weight) if strategy is not Strategy.EQUAL else Fraction(1))
                   * (1 - Fraction(loads[a.id].margin_used) / 1000 if strategy is Strategy.RISK_BASED else 1)
                   for a in accounts}
        total, parts = sum(weights.values()), {p.account: p.quantity for p in split.parts}
        for account, weight in weights.items():
            ideal = Fraction(quantity) * weight / total
            assert abs(Fraction(parts.get(account, D(0))) - ideal) < Fraction(instrument.step_size)
