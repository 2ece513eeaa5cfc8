"""The health monitor: every `interval_s` it probes, grades, stores the changes and notices as
`health_events` rows, tells the sinks, and keeps the latest report for `/health`.

A probe that fails makes its component UNHEALTHY with the failure named (the monitor itself never
stops over it). Sinks only queue, so a check never waits on a webhook.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from engine.core.clock import wall_ms
from engine.core.types import HealthEvent
from engine.health import api, database, latency, memory, trading, websocket
from engine.health.alerts import AlertBook, LevelChange, Notice
from engine.health.levels import ComponentHealth, Level
from engine.health.metrics import Metrics
from engine.health.probes import EngineProbe
from engine.health.report import HealthReport
from engine.health.thresholds import Thresholds

log = logging.getLogger("engine.health")
PREFIX = "health."  # health_events.component of the monitor's rows: health.websocket, ...


class HealthMonitor:
    def __init__(self, probe: EngineProbe, limits: Thresholds, *, threshold: int, interval_s: float,
                 record: Callable[[HealthEvent], None], sinks: Sequence[Callable[[Notice], None]] = (),
                 metrics: Metrics | None = None, now_ms: Callable[[], int] = wall_ms,
                 start_grace_s: float = 120.0) -> None:
        self.probe = probe
        self.limits = limits
        self.alerts = AlertBook(threshold)
        self.interval_s = interval_s
        self.record = record
        self.sinks = list(sinks)
        self.metrics = metrics or Metrics()
        self.now_ms = now_ms
        self.start_grace_s = start_grace_s
        self.report: HealthReport | None = None
        self.checks = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Check every `interval_s` from the end of start-up (the engine ready, or `start_grace_s`
        passed: an engine stuck in start-up is graded as it is); `/health` says STARTING before."""
        self.probe.loop_lag.start()
        began = time.monotonic()
        try:
            while not stop.is_set() and not self.probe.view.ready() and time.monotonic() - began < self.start_grace_s:
                try:
                    await asyncio.wait_for(stop.wait(), 0.1)
                except TimeoutError:
                    pass
            self.probe.process.cpu_percent(None)  # CPU from here on, not start-up's imports and warm-up
            while not stop.is_set():
                began = time.monotonic()
                try:
                    await self.check()
                except Exception:  # noqa: BLE001 - the monitor must outlive anything it watches
                    log.exception("🏥 health check failed")
                wait = max(0.0, self.interval_s - (time.monotonic() - began))
                try:
                    await asyncio.wait_for(stop.wait(), wait)
                except TimeoutError:
                    pass
        finally:
            await self.probe.loop_lag.stop()

    async def check(self) -> HealthReport:
        now = self.now_ms()
        p, limits = self.probe, self.limits
        api_inputs = await _guard(p.api())
        began = time.thread_time()  # from here on nothing awaits: this thread's CPU is the check's alone
        components = [
            _grade(websocket.COMPONENT, lambda: websocket.evaluate(p.websocket(now), limits)),
            _grade(memory.COMPONENT, lambda: memory.evaluate(p.memory(), limits)),
            _grade(api.COMPONENT, lambda: api.evaluate(_unwrap(api_inputs), limits)),
            _grade(database.COMPONENT, lambda: database.evaluate(p.database())),
            _grade(trading.COMPONENT, lambda: trading.evaluate(p.trading(), limits)),
            _grade(latency.COMPONENT, lambda: latency.evaluate(p.latency(self.metrics.take_latency()), limits)),
        ]
        changes, notices = self.alerts.observe(components, now)
        self.checks += 1
        self.report = HealthReport(now, self.checks, tuple(components),
                                   {c.component: self.alerts.streak(c.component) for c in components
                                    if self.alerts.streak(c.component)},
                                   tuple(c.component for c in components if self.alerts.alerted(c.component)))
        self._publish(components, changes, notices, now)
        self.metrics.own_cpu.inc(time.thread_time() - began)
        return self.report

    def _publish(self, components: list[ComponentHealth], changes: list[LevelChange], notices: list[Notice],
                 now: int) -> None:
        assert self.report is not None
        self.metrics.on_report(self.report)
        try:
            self.metrics.set_regimes(self.probe.regimes())
        except Exception:  # noqa: BLE001 - a gauge is not worth a failed check
            log.debug("regimes unavailable for /metrics", exc_info=True)
        self._gauges(components)
        received = wall_ms()
        for change in changes:
            check = next(c for c in components if c.component == change.component)
            was = change.previous.name if change.previous is not None else "-"
            log.log(logging.INFO if change.level is Level.HEALTHY else logging.WARNING, "🏥 %s %s -> %s: %s",
                    change.component, was, change.level.name, change.summary)
            self.record(HealthEvent(f"{PREFIX}{change.component}:{now}", PREFIX + change.component,
                                    change.level.name, change.summary,
                                    json.dumps({"previous": was, "metrics": check.metrics}, default=str),
                                    event_time=now, received_time=received))
        for notice in notices:
            self.record(HealthEvent(f"{PREFIX}{notice.component}:{notice.kind.value}:{now}",
                                    PREFIX + notice.component, notice.kind.value, notice.text,
                                    json.dumps(notice.as_dict()), event_time=now, received_time=received))
            for sink in self.sinks:
                try:
                    sink(notice)
                except Exception:  # noqa: BLE001 - one sink's failure must not silence the others
                    log.exception("🏥 alert sink failed")

    def _gauges(self, components: list[ComponentHealth]) -> None:
        figures = {c.component: c.metrics for c in components}
        db, tr = figures.get("database", {}), figures.get("trading", {})
        status = self.probe.view.feed()
        if status is not None:
            self.metrics.reconnects.set(status.reconnects)
        if isinstance(db.get("pending"), int):
            self.metrics.journal_pending.set(db["pending"])  # type: ignore[arg-type]
            lag = db.get("commit_age_s") if db["pending"] else 0.0
            self.metrics.journal_lag.set(float(lag or 0.0))  # type: ignore[arg-type]
        if isinstance(tr.get("drawdown"), float):
            self.metrics.drawdown.set(tr["drawdown"])  # type: ignore[arg-type]
        policy = self.probe.view.trader.policy
        self.metrics.set_model(getattr(policy, "name", type(policy).__name__),
                               str(getattr(policy, "version", "") or "bootstrap"))


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


async def _guard(awaitable: Any) -> Any:
    try:
        return await awaitable
    except Exception as exc:  # noqa: BLE001 - reported as the component's finding
        return _Failed(exc)


def _unwrap(value: Any) -> Any:
    if isinstance(value, _Failed):
        raise value.exc
    return value


def _grade(component: str, evaluate: Callable[[], ComponentHealth]) -> ComponentHealth:
    try:
        return evaluate()
    except Exception as exc:  # noqa: BLE001 - a probe that fails is the finding
        log.debug("probe %s failed", component, exc_info=True)
        return ComponentHealth(component, Level.UNHEALTHY, (f"probe failed: {type(exc).__name__}: {exc}",))
