"""benchmarks: the graded benchmark against the configured exchange, stored, with its trend.

Measures (engine/health/benchmark.py, the same run as `slt bench`): signal generation, order
execution through `POST /fapi/v1/order/test` (never a real order), a klines page, websocket round
trips, memory per symbol, N clients at once. Writes: `benchmark_results` rows under a new run id.
Publishes: the table artifact `benchmarks` (each check's value, grade and limits) and the markdown
artifact `benchmarks-trend` (the last runs, one row each). Fails when no check could be measured.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.states import State

from engine.core.clock import wall_ms
from engine.core.intervals import DAY_MS
from engine.health.grading import UNMEASURED, report, rows
from engine.jobs import benchmarks as jobs
from engine.jobs.freshness import StaleInputs
from flows import begin, failed
from tasks import health, publish, store


@flow(name="benchmarks", description=__doc__.split("\n")[0])
def benchmarks(clients: int = 5, trend_runs: int = 14, trend_days: float = 30.0) -> dict[str, Any] | State:
    settings = begin()
    if isinstance(settings, State):
        return settings
    if clients < 1 or trend_runs < 1 or trend_days <= 0:
        return failed(f"clients and trend_runs must be >= 1 and trend_days > 0, got {clients}, {trend_runs}, "
                      f"{trend_days}")
    log = get_run_logger()
    results = health.run_benchmark(settings, clients)
    written = store.write(settings, results)
    try:
        past = health.read_benchmark_history(settings, wall_ms() - int(trend_days * DAY_MS))
    except StaleInputs as exc:
        return failed(str(exc))
    summary = report(results)
    run_id = results[0].run_id
    publish.table("benchmarks", rows(results), f"Graded benchmark {run_id} against {settings.exchange}")
    publish.markdown("benchmarks-trend", jobs.trend_markdown(past, results, runs=trend_runs),
                     f"The last {trend_runs} graded benchmark runs")
    unmeasured = [r.check_name for r in results if r.grade == UNMEASURED]
    log.info("benchmark %s: %d of %d passed, grades %s; %d rows stored", run_id, summary["passed_tests"],
             summary["total_tests"], summary["grade_distribution"], written.inserted)
    if len(unmeasured) == len(results):
        return failed(f"benchmark {run_id}: no check could be measured: {rows(results)[0]['what']}")
    if unmeasured:
        log.warning("not measured: %s", ", ".join(unmeasured))
    return {"run_id": run_id, **summary, "stored": written.inserted, "unmeasured": unmeasured}
