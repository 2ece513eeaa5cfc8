"""Splitting one signal's entry over the accounts (pure)."""

from __future__ import annotations

from decimal import Decimal as D

from engine.execution.allotment import Seat, allot
from tests.risk.builders import BTC

PRICE = D("60000")


def test_one_account_gets_the_request_as_it_is() -> None:
    result = allot(D("0.0123456"), [Seat("main", D(1), D(10_000))], BTC, PRICE, "weighted")
    assert result.part("main") == (D("0.0123456"), "")


def test_weighted_parts_are_whole_lots_summing_to_the_floored_request() -> None:
    seats = [Seat("a", D(1), D(10_000)), Seat("b", D(2), D(20_000)), Seat("c", D("3.5"), D(35_000))]
    result = allot(D("0.13079"), seats, BTC, PRICE, "weighted")
    assert result.total == D("0.130") and sum(result.parts.values()) == D("0.130")
    for seat in seats:
        assert abs(result.parts[seat.id] - D("0.130") * seat.weight / D("6.5")) <= BTC.step_size


def test_an_account_without_equity_is_left_out_with_the_reason() -> None:
    seats = [Seat("a", D(1), D(10_000)), Seat("b", D(1), None), Seat("c", D(1), D(10_000))]
    result = allot(D("0.010"), seats, BTC, PRICE, "equal")
    assert result.parts == {"a": D("0.005"), "c": D("0.005")}
    assert result.part("b") == (None, "its equity is not known yet")
    assert result.part("zz")[1].startswith("account zz was not trading")


def test_risk_based_follows_the_headroom_and_too_small_requests_say_so() -> None:
    seats = [Seat("a", D(1), D(10_000), D(0)), Seat("b", D(1), D(10_000), D(7_500))]   # b has 25 % left
    result = allot(D("0.050"), seats, BTC, PRICE, "risk_based")
    assert result.parts == {"a": D("0.040"), "b": D("0.010")}
    tiny = allot(D("0.0009"), seats, BTC, PRICE, "weighted")
    assert tiny.parts == {} and "less than one lot" in tiny.part("a")[1]
    below = allot(D("0.002"), seats, BTC, PRICE, "weighted")   # 120 USDT: each half below min notional
    assert below.parts == {"a": D("0.002")} and "below" in below.part("b")[1]
