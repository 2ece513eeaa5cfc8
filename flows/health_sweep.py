"""health-sweep: the last hour's health incidents and the engine's own /health, for people.

Reads: `health_events` (the monitor's `health.*` rows) and the engine's `GET /health`
(SLT_HEALTH_HOST:SLT_HEALTH_PORT). Writes: a `health.engine` row when the engine stops answering
(alert) or answers again (recovery). Publishes: the table artifact `health-sweep` (the window's
incidents) and the markdown artifact `health-sweep-summary`. Alerts through the log and the
configured webhook (SLT_ALERT_WEBHOOK_URL) when the engine itself stopped answering, once per outage.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.states import State

from engine.core.clock import wall_ms
from engine.jobs import health_sweep as sweep
from engine.jobs.freshness import StaleInputs
from flows import begin, failed
from tasks import health, publish, store


@flow(name="health-sweep", description=__doc__.split("\n")[0])
def health_sweep(window_minutes: float = 60.0, timeout_seconds: float = 5.0) -> dict[str, Any] | State:
    settings = begin()
    if isinstance(settings, State):
        return settings
    if window_minutes <= 0 or timeout_seconds <= 0:
        return failed(f"window_minutes and timeout_seconds must be > 0, got {window_minutes} and {timeout_seconds}")
    log = get_run_logger()
    now, window_ms = wall_ms(), int(window_minutes * 60_000)
    answer = health.ask_engine(settings, timeout_seconds)
    problem = None
    try:
        recent, previous = health.read_health_events(settings, now - window_ms)
    except StaleInputs as exc:   # still alert on a silent engine; without the store it may repeat hourly
        recent, previous, problem = [], None, str(exc)
    result = sweep.sweep(answer, recent, previous, now_ms=now, window_ms=window_ms)
    delivery = None
    if result.notice is not None and result.verdict is not None:
        if problem is None:
            store.write(settings, [result.verdict])
        delivery = health.send_alert(settings, result.notice)
        log.warning("%s (%s)", result.notice.text, delivery)
    publish.table("health-sweep", sweep.table(result), f"Health events of the last {window_minutes:g} min")
    publish.markdown("health-sweep-summary", sweep.markdown(result), "The engine's health now and the window's counts")
    if problem is not None:
        return failed(problem)
    log.info("engine %s; %d health events in the last %g min", answer.level, len(result.incidents), window_minutes)
    return {"engine": answer.level, "incidents": len(result.incidents), "counts": result.counts,
            "notice": None if result.notice is None else result.notice.kind.value, "delivery": delivery}
