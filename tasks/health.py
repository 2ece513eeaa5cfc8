"""Health and benchmark tasks: each one I/O step (the store, the engine's /health, the alert sinks,
the exchange); the logic is in engine/jobs/health_sweep.py, engine/jobs/benchmarks.py and
engine/health/."""

from __future__ import annotations

import asyncio

from prefect import task
from prefect.cache_policies import NO_CACHE

from engine.config import Settings
from engine.core.backoff import Backoff
from engine.core.errors import StoreUnavailable
from engine.core.types import HealthEvent
from engine.health.alerts import Notice
from engine.health.grading import BenchmarkResult
from engine.health.sink import WebhookSink, log_notice
from engine.jobs import benchmarks, freshness, health_sweep
from tasks import retry_on

IO = {"retries": 2, "retry_delay_seconds": 5, "retry_condition_fn": retry_on(StoreUnavailable), "cache_policy": NO_CACHE}
WEBHOOK_WAIT_S = 30.0   # how long a flow waits for the webhook (4 attempts, 1-8 s apart) before it moves on


@task(name="read-health-events", **IO)
def read_health_events(settings: Settings, since_ms: int) -> tuple[list[HealthEvent], HealthEvent | None]:
    """The window's `health.*` rows and the sweep's latest verdict on the engine."""
    with freshness.open_reader(settings) as lake:
        return health_sweep.incidents(lake, since_ms), health_sweep.last_engine_verdict(lake)


@task(name="ask-engine-health", cache_policy=NO_CACHE)
def ask_engine(settings: Settings, timeout_s: float) -> health_sweep.EngineAnswer:
    """The engine's `GET /health`; no answer is a finding, not a failure (never raises)."""
    url = f"http://{settings.health_host}:{settings.health_port}/health"
    return health_sweep.engine_health(url, timeout_s)


@task(name="send-alert", cache_policy=NO_CACHE)
def send_alert(settings: Settings, notice: Notice) -> str:
    """The notice to the log and, with SLT_ALERT_WEBHOOK_URL set, to the webhook (retried with
    backoff for up to WEBHOOK_WAIT_S); what happened, in words (never the URL)."""
    log_notice(notice)
    if not settings.alert_webhook_url:
        return "logged (no SLT_ALERT_WEBHOOK_URL)"

    async def deliver() -> str:
        sink = WebhookSink(settings.alert_webhook_url, max_attempts=4, backoff=Backoff(base=1.0, cap=8.0,
                                                                                       long_after=5))
        sink.send(notice)
        await sink.aclose(WEBHOOK_WAIT_S)
        return "logged and sent to the webhook" if sink.stats.sent else (
            f"logged; the webhook did not take it ({sink.stats.failed_attempts} failed attempts)")
    return asyncio.run(deliver())


@task(name="run-benchmark", cache_policy=NO_CACHE)
def run_benchmark(settings: Settings, clients: int) -> list[BenchmarkResult]:
    """One graded run against the configured exchange (test orders only). Not retried: a check that
    failed is recorded unmeasured, with the reason."""
    from engine.cli.bench import run_benchmark as measure_and_grade

    return measure_and_grade(settings, clients)


@task(name="read-benchmark-history", **IO)
def read_benchmark_history(settings: Settings, since_ms: int) -> list[BenchmarkResult]:
    with freshness.open_reader(settings) as lake:
        return benchmarks.history(lake, since_ms)
