"""benchmarks' logic as plain functions: runs stored in a real DuckLake store, read back by time,
and their trend as the markdown table the flow publishes."""

from __future__ import annotations

from engine.config import Settings
from engine.health.grading import CHECKS, Measurement, graded
from engine.jobs import benchmarks
from engine.store import connect, init_store, open_store
from engine.store.writer import write_records

DAY = 86_400_000
T0 = 1_764_700_000_000


def run(day: int, order_ms: float | None) -> list:
    at = T0 + day * DAY
    values = {name: 1.0 for name in CHECKS} | {"order_execution": order_ms}
    return graded(f"bench-{at}", [Measurement(n, v, {} if v is not None else {"error": "timeout"}, at)
                                  for n, v in values.items()], at + 1)


def test_stored_runs_make_the_trend_table(settings: Settings) -> None:
    init_store(settings)
    runs = [run(0, 40.0), run(1, 600.0), run(2, None), run(3, 2500.0)]
    with open_store(settings) as lake:
        assert write_records(lake, [r for rs in runs for r in rs]).inserted == 24
        assert write_records(lake, runs[-1]).inserted == 0     # a run's ids are stable: stored once
    with connect(settings, read_only=True) as lake:
        since_day_1 = benchmarks.history(lake, T0 + DAY)
    assert {r.run_id for r in since_day_1} == {rs[0].run_id for rs in runs[1:]}
    text = benchmarks.trend_markdown(since_day_1, runs[-1], runs=2)
    lines = text.splitlines()
    assert lines[0] == "# Graded benchmark trend (2 runs)"
    assert lines[2] == (f"Latest run `{runs[-1][0].run_id}`: 5 of 6 checks passed (A+, A or B), "
                        "grades {'A+': 5, 'C': 1}.")
    header = lines[4]
    assert header.startswith("| run | measured_at | signal_generation (ms) | order_execution (ms) |")
    table = [line for line in lines if line.startswith("| bench-")]
    assert [line.split(" | ")[0] for line in table] == [f"| {runs[2][0].run_id}", f"| {runs[3][0].run_id}"]
    assert " | - | " in table[0] and " | 2500 C | " in table[1] and " | 1 A+ | " in table[1]
    assert "order_execution A+ < 500, A < 1000, B < 2000 ms" in lines[-1]
