"""Kill switch: trips on the daily drawdown from the day's peak, re-arms at UTC midnight or by hand."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.errors import DataError
from engine.risk.kill_switch import DAY_MS, KillSwitch, TripKind

DAY0 = 19_700 * DAY_MS          # 2023-12-09 00:00 UTC
H = 3_600_000


def test_trips_at_the_limit_from_the_days_peak_and_says_why() -> None:
    ks = KillSwitch(D("0.05"))
    assert ks.observe(D("10000"), DAY0 + H).entries_allowed
    assert ks.observe(D("10500"), DAY0 + 2 * H).entries_allowed          # new peak
    assert ks.observe(D("9976"), DAY0 + 3 * H).entries_allowed           # 4.99 % below 10500
    status = ks.observe(D("9975"), DAY0 + 4 * H)                         # exactly 5 %
    assert not status.entries_allowed and status.trip is not None
    assert status.trip.kind is TripKind.DRAWDOWN and status.trip.at_ms == DAY0 + 4 * H
    assert status.trip.drawdown == D("0.05") and status.trip.day_peak == D("10500")
    assert "daily drawdown 5.00% reached the limit 5.00%" in status.trip.reason and "2023-12-09" in status.trip.reason
    assert status.rearms_at_ms == DAY0 + DAY_MS
    assert not ks.observe(D("10600"), DAY0 + 5 * H).entries_allowed       # recovering does not re-arm


def test_re_arms_at_the_next_utc_midnight_with_the_last_equity_as_the_new_peak() -> None:
    ks = KillSwitch(D("0.05"))
    ks.observe(D("10000"), DAY0 + H)
    ks.observe(D("9000"), DAY0 + 23 * H)
    assert not ks.allows_entries(DAY0 + DAY_MS - 1)
    assert ks.allows_entries(DAY0 + DAY_MS)
    status = ks.status()
    assert status.day == "2023-12-10" and status.day_peak == D("9000") and status.trip is None
    assert not ks.observe(D("8550"), DAY0 + DAY_MS + H).entries_allowed    # 5 % below the carried 9000


def test_manual_reset_re_arms_and_restarts_the_peak() -> None:
    ks = KillSwitch(D("0.05"))
    ks.observe(D("10000"), DAY0 + H)
    ks.observe(D("9400"), DAY0 + 2 * H)
    status = ks.reset(DAY0 + 3 * H)
    assert status.entries_allowed and status.day_peak == D("9400") and status.drawdown == 0
    assert ks.observe(D("9300"), DAY0 + 4 * H).entries_allowed            # 1.1 % below the new peak
    assert ks.reset(DAY0 + 5 * H, equity=D("5000")).day_peak == D("5000")


def test_manual_trip_lasts_past_midnight_until_reset() -> None:
    ks = KillSwitch(D("0.05"))
    ks.observe(D("10000"), DAY0 + H)
    status = ks.trip("exchange maintenance", DAY0 + 2 * H)
    assert status.trip is not None and status.trip.kind is TripKind.MANUAL and status.rearms_at_ms is None
    assert status.trip.reason == "manual: exchange maintenance"
    assert not ks.allows_entries(DAY0 + 3 * DAY_MS)
    assert ks.reset(DAY0 + 3 * DAY_MS).entries_allowed


def test_stale_observations_are_ignored_and_counted() -> None:
    ks = KillSwitch(D("0.05"))
    ks.observe(D("10000"), DAY0 + 5 * H)
    assert ks.observe(D("1"), DAY0 + 4 * H).entries_allowed              # older than the last: ignored
    ks.allows_entries(DAY0 + DAY_MS + H)                                  # a new day has begun ...
    assert ks.observe(D("1"), DAY0 + 6 * H).entries_allowed              # ... yesterday's news is ignored
    assert ks.status().ignored_observations == 2 and ks.status().equity == D("10000")


def test_equity_at_or_below_zero_trips() -> None:
    ks = KillSwitch(D("0.5"))
    ks.observe(D("0"), DAY0)
    assert not ks.observe(D("-10"), DAY0 + 1).entries_allowed


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="finite Decimal"):
        KillSwitch().observe(D("NaN"), DAY0)
    with pytest.raises(DataError, match="finite Decimal"):
        KillSwitch().observe(10000.0, DAY0)  # type: ignore[arg-type]
    for bad in ("0", "1.5", "-0.1", "nan"):
        with pytest.raises(ValueError, match="fraction in"):
            KillSwitch(bad)


def test_status_is_json_ready() -> None:
    ks = KillSwitch("0.05")
    ks.observe(D("100"), DAY0)
    ks.observe(D("90"), DAY0 + 1)
    data = ks.status().as_dict()
    assert data["entries_allowed"] is False and data["limit"] == "0.05" and data["trip"]["kind"] == "drawdown"


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3 * H), st.decimals(D("1"), D("100000"), places=2)), min_size=1,
                max_size=40),
       st.sampled_from([D("0.01"), D("0.05"), D("0.2")]))
def test_matches_a_reference_model(steps: list[tuple[int, D]], limit: D) -> None:
    """Within each UTC day: tripped from the first observation whose drawdown from the running peak
    (starting at the previous day's last equity) reaches the limit, until the day ends."""
    ks, now, peak, last, day, tripped = KillSwitch(limit), DAY0, None, None, DAY0 // DAY_MS, False
    for gap, equity in steps:
        now += gap
        if now // DAY_MS != day:
            day, peak, tripped = now // DAY_MS, last, False
        peak = equity if peak is None or equity > peak else peak
        tripped = tripped or (peak - equity) / peak >= limit
        last = equity
        assert ks.observe(equity, now).entries_allowed is not tripped
