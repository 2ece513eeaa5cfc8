"""The simulator's HTTP server: one aiohttp application on one port for REST, websockets and
`/admin/`, built from a `Venue` (`venue.py`), with the request-level faults and rate limits in
front of the routes and the restart fault. `Simulator` is also what tests start in-process."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from engine.sim import admin, rest_account, rest_market, ws
from engine.sim.errors import BinanceError
from engine.sim.faults import Fault, FaultError
from engine.sim.market import Market
from engine.sim.matching import Exchange
from engine.sim.options import SimOptions
from engine.sim.ratelimit import weight_of
from engine.sim.replay import Replay
from engine.sim.rest import error
from engine.sim.venue import Venue

log = logging.getLogger("engine.sim")


class Simulator:
    def __init__(self, options: SimOptions | None = None) -> None:
        self.venue = Venue(options)
        self.options = self.venue.options
        self.port = self.options.port
        self.restarts = 0
        self.down = False
        self._runner: web.AppRunner | None = None

    # the venue's parts the CLI banner and the tests read
    @property
    def exchange(self) -> Exchange:
        return self.venue.exchange

    @property
    def market(self) -> Market:
        return self.venue.market

    @property
    def replay(self) -> Replay:
        return self.venue.replay

    @property
    def rest_url(self) -> str:
        return f"http://{self.options.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.options.host}:{self.port}"

    def build_app(self) -> web.Application:
        @web.middleware
        async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
            return await self._handle(request, handler)

        venue = self.venue
        app = web.Application(middlewares=[middleware], client_max_size=1 << 20)
        app.add_routes(rest_market.routes(venue) + rest_account.routes(venue) + admin.routes(venue, self)
                       + ws.routes(venue))
        return app

    async def _handle(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/admin/"):
            if not admin.is_loopback(request):
                raise web.HTTPForbidden(text="the admin API only answers loopback peers")
            return await handler(request)
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await handler(request)
        venue = self.venue
        fired = venue.faults.for_request(request.method, request.path, request.headers.get("X-MBX-APIKEY"))
        if "latency" in fired:
            await asyncio.sleep(float(fired["latency"].params["delay"]))
        if "http_error" in fired:
            status = int(fired["http_error"].params["status"])
            if fired["http_error"].params["body"] == "json":
                return error(BinanceError(int(fired["http_error"].params["code"]), status=status))
            return web.Response(status=status, text=f"<html><body><h1>{status}</h1>simulated failure</body></html>",
                                content_type="text/html")
        if "rate_limit" in fired:
            params = fired["rate_limit"].params
            status = 418 if params["ban"] else 429
            return error(BinanceError(-1003, status=status, retry_after=int(params["retry_after"]),
                                      limit=self.options.weight_limit))
        ip = request.remote or ""
        try:
            venue.limiter.charge(ip, weight_of(request.method, request.path, request.query))
            response = await handler(request)
        except BinanceError as exc:
            response = error(exc)
        response.headers["X-MBX-USED-WEIGHT-1M"] = str(venue.limiter.used(ip))
        if "malformed_response" in fired and isinstance(response, web.Response) and response.text:
            body = response.text
            response = web.Response(status=response.status, text=body[: max(1, len(body) // 2)],
                                    content_type="application/json")
        if "timeout_after_accept" in fired:
            params = fired["timeout_after_accept"].params
            if params["mode"] == "cut":
                if request.transport is not None:
                    request.transport.abort()
                raise asyncio.CancelledError()    # nothing can be sent any more; aiohttp drops the request quietly
            await asyncio.sleep(float(params["delay"]))
        return response

    # ---- life cycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        await self._listen()
        self.venue.start()
        log.info("simulator listening on %s (websockets %s)", self.rest_url, self.ws_url)

    async def _listen(self) -> None:
        self._runner = web.AppRunner(self.build_app(), access_log=None, handle_signals=False,
                                     shutdown_timeout=self.options.restart_grace)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.options.host, self.port, reuse_address=True)
        await site.start()
        self.port = site.port

    async def stop(self) -> None:
        await self.venue.stop()
        await self._close_everything("abort")
        self.venue.save_state()

    async def _close_everything(self, mode: str) -> None:
        for conn in list(self.venue.hub.connections):
            self.venue.hub.drop(conn, mode)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---- faults -------------------------------------------------------------------------------
    async def add_fault(self, spec: dict[str, Any]) -> Fault:
        """A venue fault, or the server's restart."""
        if spec.get("kind") == "restart":
            down = spec.get("down", 1.0)
            if not isinstance(down, (int, float)) or down < 0:
                raise FaultError(f"down must be seconds >= 0; got {down!r}")
            return self.schedule_restart(float(down), str(spec.get("mode", "abort")))
        return self.venue.add_fault(spec)

    def schedule_restart(self, down: float, mode: str = "abort") -> Fault:
        """Register a restart fault and run it right after the current request has been answered."""
        fault = self.venue.faults.add({"kind": "restart", "down": down, "mode": mode, "count": 1})
        self.venue.run_fault(fault, self.restart(fault))
        return fault

    async def restart(self, fault: Fault) -> None:
        """Close every connection, refuse connections for `down` seconds, come back with state intact."""
        down = float(fault.params["down"])
        await asyncio.sleep(0.05)                 # let the admin answer go out first
        fault.take()
        self.venue.faults.record(fault, f"restart, down {down:g} s")
        self.down = True
        await self._close_everything(str(fault.params["mode"]))
        await asyncio.sleep(down)
        await self._listen()
        self.down = False
        self.restarts += 1
        self.venue.fault_done(fault)
        log.info("simulator restarted after %.2f s", down)

    def describe(self) -> dict[str, Any]:
        venue = self.venue
        return {**venue.clock_state(), "rest_url": self.rest_url, "ws_url": self.ws_url,
                "symbols": sorted(venue.market.states), "interval": venue.market.interval,
                "intervals": venue.market.intervals, "accounts": len(venue.exchange.accounts),
                "connections": len(venue.hub.connections), "restarts": self.restarts, "down": self.down,
                "kicked": [{"connection": c, "reason": r} for c, r in list(venue.hub.kicked)[-50:]]}
