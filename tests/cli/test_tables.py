"""The one table formatter of `slt`: ISO-8601 UTC times, numbers rounded for reading, exact CSV."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from engine.cli.tables import cell, exact, format_table, iso_utc, readable

T0 = 1_746_501_000_000  # 2025-05-06T03:10:00Z


def test_epoch_ms_and_datetimes_print_as_iso_utc() -> None:
    assert iso_utc(T0) == "2025-05-06T03:10:00Z"
    assert iso_utc(T0 + 250) == "2025-05-06T03:10:00.250Z"
    assert iso_utc(0) == "1970-01-01T00:00:00Z"
    assert iso_utc(datetime(2025, 5, 6, 3, 10)) == "2025-05-06T03:10:00Z"  # naive: DuckDB's TIMESTAMP, UTC
    plus_two = timezone(timedelta(hours=2))
    assert iso_utc(datetime(2025, 5, 6, 5, 10, tzinfo=plus_two)) == "2025-05-06T03:10:00Z"


@pytest.mark.parametrize("value, shown", [
    (D("1.350000000000"), "1.35"),
    (-18.234567891, "-18.235"),
    (6.4, "6.4"),
    (D("60123.456789"), "60123.46"),
    (D("1234567.891"), "1234567.89"),
    (D("0.000123456789"), "0.00012346"),
    (2.0, "2"),
    (D("10.000000000000"), "10"),
    (D("0E-12"), "0"),
    (D("-0.000"), "0"),
    (D("-0.00000000012345678"), "-0.00000000012346"),
    (0.6666666666, "0.66667"),
    (float("nan"), "nan"),
])
def test_numbers_are_rounded_for_reading(value: float | D, shown: str) -> None:
    assert readable(value) == shown


def test_cells_keep_integers_and_text_and_name_nulls() -> None:
    assert cell(T0) == str(T0) and cell(T0, time=True) == "2025-05-06T03:10:00Z"
    assert cell(True, time=True) == "True" and cell(None, time=True) == "NULL" and cell("BTCUSDT") == "BTCUSDT"


def test_csv_values_stay_exact() -> None:
    assert [exact(v) for v in (D("-18.234567891000"), D("5.000"), None, T0, 0.1)] == \
        ["-18.234567891", "5", "", str(T0), "0.1"]


def test_a_table_shows_times_left_aligned_and_numbers_right_aligned() -> None:
    text = format_table(["symbol", "window_end", "change_pct"],
                        [("BTCUSDT", T0, -18.234567891), ("ETHUSDT", T0 + 3_600_000, 6.4)], times={"window_end"})
    assert text.splitlines() == [
        "symbol   window_end            change_pct",
        "-------  --------------------  ----------",
        "BTCUSDT  2025-05-06T03:10:00Z     -18.235",
        "ETHUSDT  2025-05-06T04:10:00Z         6.4",
        "(2 rows)"]
    assert format_table(["n"], []).splitlines() == ["n", "-", "(0 rows)"]


def test_named_columns_show_fixed_places() -> None:
    text = format_table(["symbol", "net", "trades"], [("BTCUSDT", D("-1.5995"), 1), ("total", 2, 3)],
                        places={"net": 8})
    assert text.splitlines()[2:4] == ["BTCUSDT  -1.59950000       1", "total     2.00000000       3"]
