"""The benchmark record: ratio, and whether a target on the ratio or on the value holds (pure)."""

from __future__ import annotations

import math

import pytest

from bench.common import BenchResult


def result(value: float, reference: float, target: str) -> BenchResult:
    return BenchResult("x", value, "ms", "ref", reference, higher_is_better=False, target=target)


@pytest.mark.parametrize(("value", "reference", "target", "met"), [
    (3.0, 2.0, "<= 1.5", True), (3.1, 2.0, "<= 1.5", False), (40.0, 2.0, ">= 20", True), (39.0, 2.0, ">= 20", False),
    (4.6, 0.2, "p99 < 10 ms", True), (10.0, 0.2, "p99 < 10 ms", False), (1.0, 1.0, "report", None),
    (1.0, 1.0, "n/a", None)])
def test_met_reads_a_bound_on_the_ratio_or_on_the_value(value: float, reference: float, target: str,
                                                        met: bool | None) -> None:
    assert result(value, reference, target).met is met


def test_a_missing_reference_gives_no_ratio() -> None:
    assert math.isnan(result(1.0, 0.0, "<= 2").ratio)
    assert result(1.0, 0.0, "<= 2").met is False
