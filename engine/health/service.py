"""The monitor as one service of the engine: the probes over the running engine, the monitor
loop, the sinks (log, and the webhook when `SLT_ALERT_WEBHOOK_URL` is set) and the HTTP server.
The composition root makes one with `HealthService.for_engine(...)`, runs it beside the engine and
stops it after the engine stopped (so `/health` answers through the shutdown)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from engine.config import Settings
from engine.health.metrics import Metrics
from engine.health.monitor import HealthMonitor
from engine.health.probes import EngineProbe, EngineView
from engine.health.server import HealthServer
from engine.health.sink import WebhookSink, log_notice
from engine.health.thresholds import Thresholds

log = logging.getLogger("engine.health")


class HealthService:
    def __init__(self, monitor: HealthMonitor, server: HealthServer, webhook: WebhookSink | None) -> None:
        self.monitor = monitor
        self.server = server
        self.webhook = webhook
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    @classmethod
    def for_engine(cls, settings: Settings, engine: Any, recorder: Any, metrics: Metrics) -> HealthService:
        """`engine` is the `runtime.Engine` (its feed appears once it started), `recorder` the
        (tapped) trade recorder whose `record` stores the monitor's `health_events` rows."""
        desks = engine.p.desks
        view = EngineView(feed=lambda: engine.feed.status() if engine.feed is not None else None,
                          desks=lambda: desks, recorder=recorder, trader=engine.p.trader,
                          data_dir=settings.data_dir, ping=lambda: _live(desks).venue.server_time(),
                          ready=lambda: engine.ready_s is not None,
                          bootstrap_trade_limit=settings.bootstrap_trade_limit)
        webhook = WebhookSink(settings.alert_webhook_url) if settings.alert_webhook_url else None
        sinks = [log_notice] + ([webhook.send] if webhook is not None else [])
        monitor = HealthMonitor(EngineProbe(view, ping_timeout_s=min(settings.exchange_timeout,
                                                                     settings.health_api_latency_ms / 1000)),
                                Thresholds.from_settings(settings), threshold=settings.health_alert_threshold,
                                interval_s=settings.health_check_interval, record=recorder.record, sinks=sinks,
                                metrics=metrics)
        return cls(monitor, HealthServer(lambda: monitor.report, metrics, settings.health_host,
                                         settings.health_port), webhook)

    async def start(self) -> None:
        """Serve the endpoints (a port in use is logged, the engine trades on) and start checking."""
        try:
            await self.server.start()
        except OSError as exc:
            log.error("🏥 health endpoints not served: %s:%d: %s (set SLT_HEALTH_PORT)", self.server.host,
                      self.server.port, exc.strerror or exc)
        self._task = asyncio.create_task(self.monitor.run(self._stop), name="health-monitor")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        if self.webhook is not None:
            await self.webhook.aclose()
        await self.server.stop()


def _live(desks: list[Any]) -> Any:
    for desk in desks:
        if not desk.failed:
            return desk
    raise RuntimeError("no account is trading")
