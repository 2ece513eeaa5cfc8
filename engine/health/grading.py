"""The graded benchmark's rules (the original's `PerformanceBenchmark`): what each check measures, in
which unit, and the limits of its grades A+ / A / B (anything slower is C). Pure: figures in, grades
out; `engine.health.benchmark` measures, `slt bench` and the `benchmarks` flow print and store.

The original fixed three limits (signal generation < 1000 ms is A, order execution < 500 ms is A+,
data fetch < 500 ms is A) and one for several accounts (an order dispatched to all of them < 1 s);
the other limits follow the same steps (each grade about twice the one before). Lower is better
for every check. A check that could not be measured has no value and the grade `-`; it is not
passed. A run is `passed` for each check graded A+, A or B (C is a failure, as in the original).

    check              unit  A+     A      B       what
    signal_generation  ms    100    1000   2000    closed candle -> indicators -> policy -> signal (p99)
    order_execution    ms    500    1000   2000    POST /fapi/v1/order/test round trip (median)
    data_fetch         ms    200    500    1000    one klines page of 500 bars (median)
    websocket_latency  ms    100    500    1000    control message round trip on the market stream (median)
    memory_per_symbol  MB    10     50     100     one symbol's warmed indicator state (allocated)
    concurrency        ms    500    1000   2000    one test order per client, all at once, until the last answer
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from engine.core.clock import iso_utc

GRADES = ("A+", "A", "B", "C")
UNMEASURED = "-"


@dataclass(frozen=True)
class Check:
    name: str
    unit: str
    a_plus: float   # value below this: A+
    a: float        # below this: A
    b: float        # below this: B; else C
    what: str

    def grade(self, value: float | None) -> str:
        """The grade of a measured value (lower is better); `-` for none."""
        if value is None:
            return UNMEASURED
        if value < 0:
            raise ValueError(f"{self.name}: a measured {self.unit} value is >= 0, got {value}")
        for limit, grade in ((self.a_plus, "A+"), (self.a, "A"), (self.b, "B")):
            if value < limit:
                return grade
        return "C"


CHECKS: dict[str, Check] = {c.name: c for c in (
    Check("signal_generation", "ms", 100, 1000, 2000, "closed candle -> indicators -> policy -> signal (p99)"),
    Check("order_execution", "ms", 500, 1000, 2000, "POST /fapi/v1/order/test round trip (median)"),
    Check("data_fetch", "ms", 200, 500, 1000, "one klines page of 500 bars (median)"),
    Check("websocket_latency", "ms", 100, 500, 1000, "control message round trip on the market stream (median)"),
    Check("memory_per_symbol", "MB", 10, 50, 100, "one symbol's warmed indicator state (allocated)"),
    Check("concurrency", "ms", 500, 1000, 2000, "one test order per client, all at once, until the last answer"),
)}


class BenchmarkResult(msgspec.Struct, frozen=True):
    """One graded check of one benchmark run (table `benchmark_results`). `details` is JSON text:
    the figures behind the value (samples, spread, sizes) or, unmeasured, why; never secrets."""

    run_id: str
    check_name: str
    value: float | None
    unit: str
    grade: str
    details: str = "{}"
    event_time: int = 0       # when it was measured (ms, wall clock)
    received_time: int = 0

    @property
    def record_id(self) -> str:
        return f"{self.run_id}:{self.check_name}"


@dataclass(frozen=True)
class Measurement:
    """What a measurement produced: a value in the check's unit, or the reason there is none."""

    check_name: str
    value: float | None
    details: Mapping[str, Any]
    measured_at: int


def graded(run_id: str, measurements: Iterable[Measurement], received_ms: int) -> list[BenchmarkResult]:
    """Each measurement graded by its check, in the checks' order."""
    results = []
    for m in measurements:
        check = CHECKS.get(m.check_name)
        if check is None:
            raise ValueError(f"unknown benchmark check {m.check_name!r}: expected one of {', '.join(CHECKS)}")
        value = None if m.value is None else round(float(m.value), 3)
        results.append(BenchmarkResult(run_id, check.name, value, check.unit, check.grade(value),
                                       json.dumps(dict(m.details), sort_keys=True, default=str),
                                       m.measured_at, received_ms))
    order = list(CHECKS)
    return sorted(results, key=lambda r: order.index(r.check_name))


def report(results: Sequence[BenchmarkResult]) -> dict[str, Any]:
    """The original's report: total, passed (A+, A or B) and the grade distribution."""
    grades = Counter(r.grade for r in results)
    return {"total_tests": len(results), "passed_tests": sum(grades[g] for g in GRADES[:3]),
            "grade_distribution": {g: grades[g] for g in (*GRADES, UNMEASURED) if grades[g]}}


def rows(results: Sequence[BenchmarkResult]) -> list[dict[str, Any]]:
    """Table rows (printing and the flow's artifact): check, value, unit, grade, limits, what."""
    out = []
    for r in results:
        check = CHECKS[r.check_name]
        out.append({"check": r.check_name, "value": "-" if r.value is None else f"{r.value:g}", "unit": r.unit,
                    "grade": r.grade, "A+ below": f"{check.a_plus:g}", "A below": f"{check.a:g}",
                    "B below": f"{check.b:g}", "what": check.what if r.value is not None else _why(r)})
    return out


def _why(result: BenchmarkResult) -> str:
    try:
        return "not measured: " + str(json.loads(result.details).get("error", "unknown"))
    except ValueError:
        return "not measured"


def trend(history: Sequence[BenchmarkResult], *, runs: int = 14) -> list[dict[str, Any]]:
    """The last `runs` runs, oldest first, one row per run with each check's value and grade
    (`12.3 A+`): the trend table of the `benchmarks` flow."""
    by_run: dict[str, list[BenchmarkResult]] = {}
    for r in history:
        by_run.setdefault(r.run_id, []).append(r)
    ordered = sorted(by_run.values(), key=lambda rs: min(r.event_time for r in rs))[-runs:]
    table = []
    for results in ordered:
        row: dict[str, Any] = {"run": results[0].run_id, "measured_at": iso_utc(min(r.event_time for r in results))}
        for r in results:
            row[r.check_name] = "-" if r.value is None else f"{r.value:g} {r.grade}"
        table.append(row)
    return table
