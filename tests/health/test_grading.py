"""The graded benchmark's rules on constructed figures: every grade boundary of every check, the
original's three limits, unmeasured checks, the report and the trend table."""

from __future__ import annotations

import json

import pytest

from engine.health.grading import CHECKS, BenchmarkResult, Measurement, graded, report, rows, trend


@pytest.mark.parametrize("name", list(CHECKS))
def test_every_boundary_of_every_check(name: str) -> None:
    check = CHECKS[name]
    assert check.a_plus < check.a < check.b
    assert check.grade(0.0) == "A+"
    assert check.grade(check.a_plus - 0.001) == "A+"
    assert check.grade(check.a_plus) == "A"          # a limit is "below": the limit itself is the next grade
    assert check.grade(check.a - 0.001) == "A"
    assert check.grade(check.a) == "B"
    assert check.grade(check.b - 0.001) == "B"
    assert check.grade(check.b) == "C"
    assert check.grade(check.b * 100) == "C"
    assert check.grade(None) == "-"


def test_the_original_limits_hold() -> None:
    assert CHECKS["signal_generation"].grade(999) in ("A+", "A") and CHECKS["signal_generation"].grade(1000) == "B"
    assert CHECKS["order_execution"].grade(499) == "A+" and CHECKS["order_execution"].grade(500) == "A"
    assert CHECKS["data_fetch"].grade(499) in ("A+", "A") and CHECKS["data_fetch"].grade(500) == "B"
    assert CHECKS["concurrency"].grade(999) in ("A+", "A") and CHECKS["concurrency"].grade(1000) == "B"


def test_a_negative_figure_is_a_bug_named() -> None:
    with pytest.raises(ValueError, match="order_execution: a measured ms value is >= 0"):
        CHECKS["order_execution"].grade(-1)


def run(run_id: str, at: int, values: dict[str, float | None]) -> list[BenchmarkResult]:
    return graded(run_id, [Measurement(n, v, {"error": "no answer"} if v is None else {"samples": 3}, at)
                           for n, v in values.items()], at + 5)


def test_graded_results_report_and_rows() -> None:
    results = run("r1", 1_000, {"concurrency": 1500.0, "order_execution": 12.3456, "data_fetch": None,
                                "signal_generation": 2500.0})
    assert [r.check_name for r in results] == ["signal_generation", "order_execution", "data_fetch", "concurrency"]
    assert [(r.value, r.grade) for r in results] == [(2500.0, "C"), (12.346, "A+"), (None, "-"), (1500.0, "B")]
    assert results[1].record_id == "r1:order_execution" and results[1].unit == "ms"
    assert results[1].event_time == 1_000 and results[1].received_time == 1_005
    assert json.loads(results[2].details) == {"error": "no answer"}
    assert report(results) == {"total_tests": 4, "passed_tests": 2,
                               "grade_distribution": {"A+": 1, "B": 1, "C": 1, "-": 1}}
    table = rows(results)
    assert table[1] == {"check": "order_execution", "value": "12.346", "unit": "ms", "grade": "A+", "A+ below": "500",
                        "A below": "1000", "B below": "2000", "what": CHECKS["order_execution"].what}
    assert table[2]["value"] == "-" and table[2]["what"] == "not measured: no answer"


def test_an_unknown_check_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown benchmark check 'speed'"):
        graded("r", [Measurement("speed", 1.0, {}, 0)], 0)


def test_trend_is_one_row_per_run_oldest_first_and_bounded() -> None:
    history = [*run("r2", 2_000, {"order_execution": 20.0, "data_fetch": 600.0}),
               *run("r1", 1_000, {"order_execution": 10.0}),
               *run("r3", 3_000, {"order_execution": None})]
    table = trend(history)
    assert [r["run"] for r in table] == ["r1", "r2", "r3"]
    assert table[1] == {"run": "r2", "measured_at": "1970-01-01T00:00:02Z", "order_execution": "20 A+",
                        "data_fetch": "600 B"}
    assert table[2]["order_execution"] == "-"
    assert [r["run"] for r in trend(history, runs=2)] == ["r2", "r3"]
