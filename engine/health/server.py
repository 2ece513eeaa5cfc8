"""`GET /health` (the latest report as JSON: 200 when HEALTHY or DEGRADED, 503 when UNHEALTHY or
CRITICAL, 503 "STARTING" before the first check) and `GET /metrics` (Prometheus text), served by
aiohttp on `SLT_HEALTH_HOST:SLT_HEALTH_PORT` inside the engine's loop. Both answer from memory:
nothing is probed per request."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

from engine.health.metrics import CONTENT_TYPE, Metrics
from engine.health.report import HealthReport

log = logging.getLogger("engine.health")


class HealthServer:
    def __init__(self, latest: Callable[[], HealthReport | None], metrics: Metrics, host: str, port: int) -> None:
        self.latest = latest
        self.metrics = metrics
        self.host, self.port = host, port
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        log.info("🏥 health endpoints: %s/health and %s/metrics", self.url, self.url)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _health(self, _request: web.Request) -> web.Response:
        report = self.latest()
        if report is None:
            return web.json_response({"status": "STARTING", "components": {}}, status=503)
        return web.json_response(report.as_dict(), status=report.http_status)

    async def _metrics(self, _request: web.Request) -> web.Response:
        body = self.metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
