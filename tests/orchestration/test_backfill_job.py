"""The candle-backfill flow's logic as plain functions: the window ends before the forming bar, and
the holes are exactly the runs of missing open times."""

from __future__ import annotations

import pytest

from engine.core.errors import DataError
from engine.jobs.backfill import Hole, holes, summary, window

M = 60_000
T = 1_700_000_040_000 // M * M  # a minute boundary


def test_the_window_ends_at_the_bar_before_the_forming_one() -> None:
    assert window("1m", T, 2) == (T - 120 * M, T - M)
    assert window("1h", T // 3_600_000 * 3_600_000, 3)[1] == T // 3_600_000 * 3_600_000 - 3_600_000


@pytest.mark.parametrize("lookback", [0, -1])
def test_a_lookback_that_is_not_positive_is_refused(lookback: float) -> None:
    with pytest.raises(DataError, match="lookback_hours must be positive"):
        window("1m", T, lookback)


def test_a_lookback_beyond_the_bound_is_refused() -> None:
    with pytest.raises(DataError, match="more than 200000 1m bars"):
        window("1m", T, 24 * 365)


def test_holes_are_the_runs_of_missing_bars() -> None:
    first, last = T, T + 9 * M
    stored = [T + i * M for i in (0, 1, 4, 5, 8)]
    assert holes("BTCUSDT", "1m", stored, first, last) == [
        Hole("BTCUSDT", "1m", T + 2 * M, T + 3 * M), Hole("BTCUSDT", "1m", T + 6 * M, T + 7 * M),
        Hole("BTCUSDT", "1m", T + 9 * M, T + 9 * M)]
    assert [h.bars for h in holes("BTCUSDT", "1m", stored, first, last)] == [2, 2, 1]
    assert holes("BTCUSDT", "1m", [], first, last) == [Hole("BTCUSDT", "1m", first, last)]
    assert holes("BTCUSDT", "1m", [T + i * M for i in range(10)], first, last) == []


def test_bars_outside_the_window_or_off_the_grid_are_ignored() -> None:
    stored = [T - M, T, T + 30_000, T + M, T + 2 * M, T + 50 * M]
    assert holes("X", "1m", stored, T, T + 2 * M) == []
    assert holes("X", "1m", [T + 2 * M], T, T + 2 * M)[0].end_ms == T + 2 * M  # range fetch stops before bar 2


def test_summary_counts_per_stream() -> None:
    found = [Hole("A", "1m", T, T + M), Hole("A", "1m", T + 5 * M, T + 5 * M), Hole("B", "1h", T, T)]
    assert summary(found, {("A", "1m"): 3}) == [
        {"symbol": "A", "interval": "1m", "holes": 2, "bars missing": 3, "bars fetched": 3},
        {"symbol": "B", "interval": "1h", "holes": 1, "bars missing": 1, "bars fetched": 0}]
