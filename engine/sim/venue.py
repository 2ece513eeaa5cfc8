"""The simulated venue: the exchange core, the replayed market and clock, the websocket fan-out,
faults, rate limits and listen keys, with the operations the HTTP routes perform on them.

No HTTP here: `server.py` serves a venue over REST and websockets; a backtest can build one and
step its replay in process (`venue.replay.step_bars(n)`, `venue.exchange.place_order(...)`)."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Coroutine, Iterable
from decimal import Decimal
from typing import Any

from engine.core.clock import wall_ms
from engine.core.intervals import align
from engine.core.secret import Secret
from engine.logs import register_secret
from engine.sim import persist, views
from engine.sim.events import Event
from engine.sim.faults import WS_KINDS, Fault, FaultError, Faults
from engine.sim.instruments import SymbolSpec
from engine.sim.market import Market
from engine.sim.matching import Exchange
from engine.sim.numbers import num
from engine.sim.options import SimOptions
from engine.sim.pricing import FeeSchedule, SlippageModel
from engine.sim.ratelimit import RateLimiter
from engine.sim.replay import Replay
from engine.sim.sources import load_tapes
from engine.sim.streams import Connection, Hub
from engine.sim.tape import Tape
from engine.sim.userstream import ListenKeys, UserEvents

log = logging.getLogger("engine.sim")


class Venue:
    def __init__(self, options: SimOptions | None = None,
                 tapes: tuple[dict[str, Tape], dict[str, SymbolSpec], int, int] | None = None) -> None:
        """`tapes`: (tapes, specs, start_ms, end_ms) loaded elsewhere (a backtest's validated files)
        instead of the options' source."""
        self.options = options = options or SimOptions()
        tapes, specs, start, end = tapes if tapes is not None else load_tapes(options)
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
        self.faults = Faults()
        self.hub = Hub(options.ws_max_queue, self.faults.before_frame)
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
        self._tasks: list[asyncio.Task[Any]] = []
        self._fault_tasks: dict[int, asyncio.Task[Any]] = {}

    # ---- exchange -------------------------------------------------------------------------------
    def dispatch(self, events: Iterable[Event]) -> None:
        """Send the exchange core's events to the user-data streams."""
        self.user_events(events)

    def add_account(self, key: str, secret: Secret, usdt: Decimal) -> None:
        register_secret(secret.reveal())
        self.exchange.add_account(key, secret, usdt, self.replay.now_ms)

    def secret_of(self, key: str) -> Secret | None:
        account = self.exchange.accounts.get(key)
        return account.secret if account is not None else None

    def auth_now(self, method: str | None = None, path: str | None = None) -> int:
        """The auth clock: real time plus any clock-skew fault (on this request's method and path)."""
        return wall_ms() + self.faults.clock_skew_ms(method, path)

    def exchange_info(self, server_time: int) -> dict[str, Any]:
        return views.exchange_info(self.exchange.specs, server_time, self.options.weight_limit,
                                   self.options.orders_per_minute)

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

    def save_state(self) -> None:
        """Write the exchange and the replay position to the state file (if there is one)."""
        if self.options.state_file is not None:
            persist.save(self.options.state_file, self.exchange, self.replay.bar_open, self.options.symbols,
                         self.options.interval)

    # ---- user streams ---------------------------------------------------------------------------
    def expire_listen_keys(self) -> None:
        for key in self.listen_keys.expire():
            self.user_events.expired(key, self.replay.now_ms)

    def close_user_streams(self, listen_key: str) -> None:
        for conn in list(self.hub.users.get(listen_key, ())):
            self.hub.kick(conn, "listen key deleted")
        self.hub.users.pop(listen_key, None)

    # ---- real time ------------------------------------------------------------------------------
    def start(self) -> None:
        """Run in real time (needs a running event loop): the replay clock, listen-key expiry and,
        with a state file, periodic saves. Stepping the replay by hand needs none of this."""
        self._tasks = [spawn(self.replay.run(), "sim-replay"), spawn(self._expire_listen_keys(), "sim-listen-keys")]
        if self.options.state_file is not None:
            self._tasks.append(spawn(self._save_periodically(), "sim-state"))

    async def stop(self) -> None:
        """Stop the background tasks and the running faults."""
        for task in self._tasks + list(self._fault_tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks, *self._fault_tasks.values(), return_exceptions=True)
        self._tasks.clear()
        self._fault_tasks.clear()

    async def _expire_listen_keys(self) -> None:
        every = min(1.0, max(0.05, self.options.listen_key_ttl / 10))
        while True:
            await asyncio.sleep(every)
            self.expire_listen_keys()

    async def _save_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.options.state_every)
            try:
                self.save_state()
            except OSError as exc:
                log.warning("simulator state not saved: %s", exc)

    # ---- faults ---------------------------------------------------------------------------------
    def add_fault(self, spec: dict[str, Any]) -> Fault:
        """Register a fault and apply it to the open connections (needs a running event loop).
        A restart is the HTTP server's fault (`server.Simulator.add_fault`)."""
        if spec.get("kind") == "restart":
            raise FaultError("a restart fault needs the HTTP server; the venue alone cannot restart")
        fault = self.faults.add(spec)
        loop = asyncio.get_running_loop()
        if fault.kind == "ws_drop":
            every = fault.params.get("every")
            if every:
                self.run_fault(fault, self._drop_every(fault, float(every)))
            else:
                self._drop_matching(fault)
                fault.active = False
        elif fault.kind in WS_KINDS:
            for conn in list(self.hub.connections):
                self.apply_connection_faults(conn)
        if fault.duration:
            loop.call_later(float(fault.duration), self.clear_faults, fault.id)
        return fault

    def run_fault(self, fault: Fault, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run a fault's task until it ends, the fault is cleared or the venue stops."""
        self._fault_tasks[fault.id] = spawn(coroutine, f"sim-{fault.kind}-{fault.id}")

    def fault_done(self, fault: Fault) -> None:
        self._fault_tasks.pop(fault.id, None)

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
                self.hub.drop(conn, str(fault.params["mode"]))
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


def spawn(coroutine: Coroutine[Any, Any, None], name: str) -> asyncio.Task[Any]:
    """A background task whose failure is logged with its traceback the moment it happens (a task
    that dies silently would freeze the replay or keep the server down with nothing said)."""
    task = asyncio.get_running_loop().create_task(coroutine, name=name)
    task.add_done_callback(_report)
    return task


def _report(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("simulator task %s failed", task.get_name(), exc_info=task.exception())
