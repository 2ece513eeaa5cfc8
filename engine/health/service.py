"""The monitor as one service of the engine: the probes over the running engine, the monitor
loop, the sinks (log, and the webhook when `SLT_ALERT_WEBHOOK_URL` is set) and the HTTP server.
The composition root makes one from the settings, puts its `tap` in front of the recorder, starts
it with the built engine and stops it after the engine stopped (so `/health` answers through the
shutdown)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from engine.config import Settings
from engine.health.metrics import Metrics, RecordTap
from engine.health.monitor import HealthMonitor
from engine.health.probes import EngineProbe, EngineView
from engine.health.server import HealthServer
from engine.health.sink import WebhookSink, log_notice
from engine.health.thresholds import Thresholds

log = logging.getLogger("engine.health")


class HealthService:
    """Made from the settings before the engine (its `tap` goes in front of the recorder the engine
    gets), started with the built engine, stopped after the engine stopped."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        url = settings.alert_webhook_url
        self.webhook = WebhookSink(url) if url else None
        self.monitor: HealthMonitor | None = None
        self.server = HealthServer(lambda: self.monitor.report if self.monitor else None, self.metrics,
                                   settings.health_host, settings.health_port)
        self._recorder: Any = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    def tap(self, recorder: Any) -> RecordTap:
        """The recorder the engine should use: every record also counts in /metrics, and the
        monitor's `health_events` rows go through it."""
        self._recorder = RecordTap(recorder, self.metrics.observe)
        return self._recorder

    async def start(self, engine: Any) -> None:
        """Serve the endpoints (a port in use is logged, the engine trades on) and start checking
        `engine` (the `runtime.Engine`; its feed appears once it started)."""
        settings, desks = self.settings, engine.p.desks
        view = EngineView(feed=lambda: engine.feed.status() if engine.feed is not None else None,
                          desks=lambda: desks, recorder=self._recorder, trader=engine.p.trader,
                          data_dir=settings.data_dir, ping=lambda: _live(desks).venue.server_time(),
                          ready=lambda: engine.ready_s is not None,
                          bootstrap_trade_limit=settings.bootstrap_trade_limit)
        sinks = [log_notice] + ([self.webhook.send] if self.webhook is not None else [])
        probe = EngineProbe(view, ping_timeout_s=min(settings.exchange_timeout, settings.health_api_latency_ms / 1000))
        self.monitor = HealthMonitor(probe, Thresholds.from_settings(settings),
                                     threshold=settings.health_alert_threshold,
                                     interval_s=settings.health_check_interval, record=self._recorder.record,
                                     sinks=sinks, metrics=self.metrics)
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
