"""The simulator process: one aiohttp server on one port for REST, websockets and `/admin/`,
wired to the exchange core and the replay. `Simulator` is also what tests start in-process."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import msgspec
from aiohttp import web

from engine.core.clock import wall_ms
from engine.core.secret import Secret
from engine.logs import register_secret
from engine.sim import admin, persist, rest_account, rest_market, views, ws
from engine.sim.auth import api_key_of, params_of, verify
from engine.sim.errors import BinanceError
from engine.sim.events import Event
from engine.sim.faults import WS_KINDS, Fault, FaultError, Faults
from engine.sim.market import Market
from engine.sim.matching import Exchange
from engine.sim.numbers import num
from engine.sim.options import SimOptions
from engine.sim.pricing import FeeSchedule, SlippageModel
from engine.sim.ratelimit import RateLimiter, weight_of
from engine.sim.replay import Replay
from engine.sim.sources import load_tapes
from engine.sim.streams import Connection, Hub
from engine.sim.tape import align
from engine.sim.userstream import ListenKeys, UserEvents

log = logging.getLogger("engine.sim")
_json = msgspec.json.Encoder(decimal_format="string")



class Simulator:
    def __init__(self, options: SimOptions | None = None) -> None:
        self.options = options = options or SimOptions()
        tapes, specs, start, end = load_tapes(options)
        self.exchange = Exchange(specs, FeeSchedule(options.maker_fee, options.taker_fee),
                                 SlippageModel(options.slippage))
        restored = persist.load(options.state_file, options.symbols, options.interval) if options.state_file else None
        if restored is not None:
            self.exchange, start = restored
            if start >= end:
                raise persist.StateError(f"simulator state {options.state_file} ends at the end of the data; "
                                         "remove it to replay again")
            log.info("simulator state restored from %s: %d accounts, replay resumes at %s", options.state_file,
                     len(self.exchange.accounts), start)
        self.hub = Hub(options.ws_max_queue)
        self.faults = Faults()
        self.hub.before_frame = self.faults.before_frame
        self.listen_keys = ListenKeys(wall_ms, int(options.listen_key_ttl * 1000), options.seed)
        self.user_events = UserEvents(self.hub, self.listen_keys, specs)
        self.limiter = RateLimiter(wall_ms, options.weight_limit, options.orders_per_10s, options.orders_per_minute)
        self.market = Market(tapes, specs, options.ticks_per_bar)
        self.replay = Replay(self.market, self.exchange, self.hub, self.dispatch, start_ms=start, end_ms=end,
                             speed=options.speed, paused=options.paused,
                             slow_client_timeout=options.slow_client_timeout)
        for spec in options.all_accounts():
            if spec.key in self.exchange.accounts:    # restored: re-attach its secret, keep its state
                register_secret(spec.secret.reveal())
                self.exchange.accounts[spec.key].secret = spec.secret
            else:
                self.add_account(spec.key, spec.secret, spec.usdt)
        self.port = options.port
        self.restarts = 0
        self.down = False
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._fault_tasks: dict[int, asyncio.Task[Any]] = {}

    # ---- wiring ---------------------------------------------------------------------------------
    @property
    def rest_url(self) -> str:
        return f"http://{self.options.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.options.host}:{self.port}"

    def dumps(self, data: Any) -> str:
        return _json.encode(data).decode()

    def dispatch(self, events: Iterable[Event]) -> None:
        self.user_events(events)

    def add_account(self, key: str, secret: Secret, usdt: Decimal) -> None:
        register_secret(secret.reveal())
        self.exchange.add_account(key, secret, usdt, self.replay.now_ms)

    def secret_of(self, key: str) -> Secret | None:
        account = self.exchange.accounts.get(key)
        return account.secret if account is not None else None

    def auth_now(self, request: web.Request | None = None) -> int:
        """The auth clock: real time plus any clock-skew fault."""
        if request is None:
            return wall_ms() + self.faults.clock_skew_ms()
        return wall_ms() + self.faults.clock_skew_ms(request.method, request.path)

    async def authenticate(self, request: web.Request, *, signed: bool = True) -> tuple[str, dict[str, str]]:
        key = api_key_of(request.headers, self.secret_of)
        body = await request.text() if request.can_read_body else ""
        query = request.rel_url.raw_query_string
        if not signed:
            return key, params_of(query, body)
        secret = self.secret_of(key)
        assert secret is not None
        return key, verify(key, secret, query, body, self.auth_now(request))

    def exchange_info(self, server_time: int) -> dict[str, Any]:
        return views.exchange_info(self.exchange.specs, server_time, self.options.weight_limit,
                                   self.options.orders_per_minute)

    def build_app(self) -> web.Application:
        @web.middleware
        async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
            return await self._handle(request, handler)

        app = web.Application(middlewares=[middleware], client_max_size=1 << 20)
        app.add_routes(rest_market.routes(self) + rest_account.routes(self) + admin.routes(self) + ws.routes(self))
        return app

    async def _handle(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/admin/"):
            if not admin.is_loopback(request):
                raise web.HTTPForbidden(text="the admin API only answers loopback peers")
            return await handler(request)
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await handler(request)
        fired = self.faults.for_request(request.method, request.path, request.headers.get("X-MBX-APIKEY"))
        if "latency" in fired:
            await asyncio.sleep(float(fired["latency"].params["delay"]))
        if "http_error" in fired:
            status = int(fired["http_error"].params["status"])
            if fired["http_error"].params["body"] == "json":
                return self._error(BinanceError(int(fired["http_error"].params["code"]), status=status))
            return web.Response(status=status, text=f"<html><body><h1>{status}</h1>simulated failure</body></html>",
                                content_type="text/html")
        if "rate_limit" in fired:
            params = fired["rate_limit"].params
            status = 418 if params["ban"] else 429
            return self._error(BinanceError(-1003, status=status, retry_after=int(params["retry_after"]),
                                            limit=self.options.weight_limit))
        ip = request.remote or ""
        try:
            self.limiter.charge(ip, weight_of(request.method, request.path, request.query))
            response = await handler(request)
        except BinanceError as exc:
            response = self._error(exc)
        response.headers["X-MBX-USED-WEIGHT-1M"] = str(self.limiter.used(ip))
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

    def _error(self, exc: BinanceError) -> web.Response:
        response = web.json_response(exc.body(), status=exc.status, dumps=self.dumps)
        if exc.retry_after is not None:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    # ---- life cycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        await self._listen()
        loop = asyncio.get_running_loop()
        self._tasks = [_spawn(loop, self.replay.run(), "sim-replay"),
                       _spawn(loop, self._expire_listen_keys(), "sim-listen-keys")]
        if self.options.state_file is not None:
            self._tasks.append(_spawn(loop, self._save_periodically(), "sim-state"))
        log.info("simulator listening on %s (websockets %s)", self.rest_url, self.ws_url)

    async def _listen(self) -> None:
        self._runner = web.AppRunner(self.build_app(), access_log=None, handle_signals=False,
                                     shutdown_timeout=self.options.restart_grace)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.options.host, self.port, reuse_address=True)
        await site.start()
        self.port = site.port

    async def stop(self) -> None:
        for task in self._tasks + list(self._fault_tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks, *self._fault_tasks.values(), return_exceptions=True)
        self._tasks.clear()
        self._fault_tasks.clear()
        await self._close_everything("abort")
        self.save_state()

    def save_state(self) -> None:
        """Write the exchange and the replay position to the state file (if there is one)."""
        if self.options.state_file is not None:
            persist.save(self.options.state_file, self.exchange, self.replay.bar_open, self.options.symbols,
                         self.options.interval)

    async def _save_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.options.state_every)
            try:
                self.save_state()
            except OSError as exc:
                log.warning("simulator state not saved: %s", exc)

    async def _close_everything(self, mode: str) -> None:
        for conn in list(self.hub.connections):
            self._drop(conn, mode)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def schedule_restart(self, down: float, mode: str = "abort") -> Fault:
        """Register a restart fault and run it right after the current request has been answered."""
        fault = self.faults.add({"kind": "restart", "down": down, "mode": mode, "count": 1})
        task = _spawn(asyncio.get_running_loop(), self.restart(fault), f"sim-restart-{fault.id}")
        self._fault_tasks[fault.id] = task
        return fault

    async def restart(self, fault: Fault) -> None:
        """Close every connection, refuse connections for `down` seconds, come back with state intact."""
        down = float(fault.params["down"])
        await asyncio.sleep(0.05)                 # let the admin answer go out first
        fault.take()
        self.faults.record(fault, f"restart, down {down:g} s")
        self.down = True
        await self._close_everything(str(fault.params["mode"]))
        await asyncio.sleep(down)
        await self._listen()
        self.down = False
        self.restarts += 1
        self._fault_tasks.pop(fault.id, None)
        log.info("simulator restarted after %.2f s", down)

    async def _expire_listen_keys(self) -> None:
        every = min(1.0, max(0.05, self.options.listen_key_ttl / 10))
        while True:
            await asyncio.sleep(every)
            for key in self.listen_keys.expire():
                self.user_events.expired(key, self.replay.now_ms)

    def close_user_streams(self, listen_key: str) -> None:
        for conn in list(self.hub.users.get(listen_key, ())):
            self.hub.kick(conn, "listen key deleted")
        self.hub.users.pop(listen_key, None)

    # ---- faults -------------------------------------------------------------------------------
    async def add_fault(self, spec: dict[str, Any]) -> Fault:
        if spec.get("kind") == "restart":
            down = spec.get("down", 1.0)
            if not isinstance(down, (int, float)) or down < 0:
                raise FaultError(f"down must be seconds >= 0; got {down!r}")
            return self.schedule_restart(float(down), str(spec.get("mode", "abort")))
        fault = self.faults.add(spec)
        loop = asyncio.get_running_loop()
        if fault.kind == "ws_drop":
            every = fault.params.get("every")
            if every:
                self._fault_tasks[fault.id] = _spawn(loop, self._drop_every(fault, float(every)), f"sim-drop-{fault.id}")
            else:
                self._drop_matching(fault)
                fault.active = False
        elif fault.kind in WS_KINDS:
            for conn in list(self.hub.connections):
                self.apply_connection_faults(conn)
        if fault.duration:
            loop.call_later(float(fault.duration), self.clear_faults, fault.id)
        return fault

    def clear_faults(self, fault_id: int | None = None) -> int:
        cleared = self.faults.deactivate(fault_id)
        for fault in cleared:
            task = self._fault_tasks.pop(fault.id, None)
            if task is not None:
                task.cancel()
        for conn in list(self.hub.connections):
            self.apply_connection_faults(conn)
        return len(cleared)

    def apply_connection_faults(self, conn: Connection) -> None:
        streams = tuple(conn.streams)
        stall = self.faults.connection_flag("ws_stall", conn.path, streams)
        if stall is not None and not conn.stalled and stall.take():
            self.faults.record(stall, f"stalled connection {conn.id}")
        conn.stalled = stall is not None
        conn.withhold_pongs = self.faults.connection_flag("ws_withhold_pongs", conn.path, streams) is not None

    def _drop_matching(self, fault: Fault) -> int:
        dropped = 0
        for conn in sorted(self.hub.connections, key=lambda c: c.id):
            if fault.targets(path=conn.path, streams=tuple(conn.streams)) and fault.take():
                self._drop(conn, str(fault.params["mode"]))
                self.faults.record(fault, f"dropped connection {conn.id} ({conn.path})")
                dropped += 1
        return dropped

    async def _drop_every(self, fault: Fault, every: float) -> None:
        times = fault.params.get("times")
        done = 0
        while fault.active and (times is None or done < int(times)):
            await asyncio.sleep(every)
            self._drop_matching(fault)
            done += 1
        fault.active = False

    def _drop(self, conn: Connection, mode: str) -> None:
        self.hub.remove(conn)
        if mode == "abort" and conn.transport is not None:
            conn.transport.abort()
        else:
            asyncio.get_running_loop().create_task(conn.ws.close(code=1001, message=b"going away"))

    # ---- admin views --------------------------------------------------------------------------
    def inject_price(self, symbol: str, price: float | None, mark: float | None) -> int:
        """Move the last and/or mark price off the tape; runs triggers, matching and liquidation."""
        now = self.replay.now_ms
        tick = self.market.override(symbol, now, price, mark)
        self.replay.publish_tick(tick)
        events = self.exchange.update_quote(self.market.states[symbol].quote(now))
        self.dispatch(events)
        return len(events)

    def closed_candles(self, symbol: str, interval: str, *, history: bool = False) -> list[list[Any]]:
        state = self.market.states[symbol]
        bars = state.tape.history[interval]
        current = int(align(views.current_open(state), interval))
        first = 0 if history else int(bars.open_time.searchsorted(self.replay.start_ms))
        last = int(bars.open_time.searchsorted(current))
        return [[int(bars.open_time[i]), num(bars.open[i]), num(bars.high[i]), num(bars.low[i]),
                 num(bars.close[i]), num(bars.volume[i])] for i in range(first, last)]

    def clock_state(self) -> dict[str, Any]:
        r = self.replay
        return {"now_ms": r.now_ms, "start_ms": r.start_ms, "end_ms": r.end_ms, "paused": r.paused,
                "finished": r.finished, "speed": "max" if math.isinf(r.speed) else r.speed, "steps": r.stats.steps,
                "bars_closed": r.stats.bars_closed, "funding_events": r.stats.funding_events}

    def describe(self) -> dict[str, Any]:
        return {**self.clock_state(), "rest_url": self.rest_url, "ws_url": self.ws_url,
                "symbols": sorted(self.market.states), "interval": self.market.interval,
                "intervals": self.market.intervals, "accounts": len(self.exchange.accounts),
                "connections": len(self.hub.connections), "restarts": self.restarts, "down": self.down,
                "kicked": [{"connection": c, "reason": r} for c, r in list(self.hub.kicked)[-50:]]}


def _spawn(loop: asyncio.AbstractEventLoop, coroutine: Any, name: str) -> asyncio.Task[Any]:
    """A background task whose failure is logged with its traceback the moment it happens (a task
    that dies silently would freeze the replay or keep the server down with nothing said)."""
    task = loop.create_task(coroutine, name=name)
    task.add_done_callback(_report)
    return task


def _report(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("simulator task %s failed", task.get_name(), exc_info=task.exception())
