"""Probes: read the running engine and the machine into the rule sets' plain inputs.

The composition root hands over an `EngineView` (callables and objects, nothing the probes must
know how to build). Counters the rules want "since the previous check" are differenced here, so the
probe keeps the previous readings. The only call that leaves the process is the exchange time
round trip (bounded by `ping_timeout_s`); psutil and the disk figures are local.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from engine.core.types import OrderStatus
from engine.health.api import ApiInputs
from engine.health.database import DatabaseInputs
from engine.health.latency import LatencyInputs
from engine.health.loop import PollClock, poll_clock
from engine.health.memory import MemoryInputs
from engine.health.trading import TradingInputs
from engine.health.websocket import UserStreamInputs, WebsocketInputs


@dataclass
class EngineView:
    """What the probes read. `feed()` is None until the market feed started."""

    feed: Callable[[], Any]                  # -> FeedStatus | None
    desks: Callable[[], Sequence[Any]]       # every desk (failed ones too)
    recorder: Any                            # .stats() -> RecorderStats
    trader: Any
    data_dir: Path
    ping: Callable[[], Awaitable[int]]       # the exchange's server time
    ready: Callable[[], bool] = lambda: True  # start-up is over (checks begin then)
    bootstrap_trade_limit: int = 50


@dataclass
class _Previous:
    reconnects: int = 0
    pong_timeouts: int = 0
    bad_frames: dict[str, int] = field(default_factory=dict)
    calls: int = 0
    failures: int = 0
    rate_limited: int = 0
    rejects: int = 0
    policy_errors: int = 0
    rejected_records: int = 0
    flushed: int = -1
    flushed_at: float = 0.0


class LoopLag:
    """Event-loop lag: the worst lateness a callback could have seen since the previous `take()`.

    On the engine's loop (`engine.health.loop.new_event_loop`) it is read from the loop's polls: the
    longest stretch the loop went without polling, no wake-up of its own. On any other loop a task
    asks to wake every `tick_s` and notes how late it woke (a stall longer than the tick is always
    seen); a wake-up costs about 0.2 ms of CPU here (bench `health_overhead`), so one a second."""

    def __init__(self, tick_s: float = 1.0) -> None:
        self.tick_s = tick_s
        self.worst_ms = 0.0
        self.clock: PollClock | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.clock = poll_clock(asyncio.get_running_loop())
        if self.clock is not None:
            self.clock.take_ms()   # from now on, not start-up's imports
            return
        self._task = asyncio.create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time()
            await asyncio.sleep(self.tick_s)
            self.worst_ms = max(self.worst_ms, (loop.time() - asked - self.tick_s) * 1000)

    def take(self) -> float:
        if self.clock is not None:
            return self.clock.take_ms()
        worst, self.worst_ms = self.worst_ms, 0.0
        return max(0.0, worst)


class EngineProbe:
    def __init__(self, view: EngineView, *, ping_timeout_s: float = 5.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.view = view
        self.ping_timeout_s = ping_timeout_s
        self.monotonic = monotonic
        self.process = psutil.Process()
        self.process.cpu_percent(None)  # the first call only starts the measurement
        self.loop_lag = LoopLag()
        self._prev = _Previous(flushed_at=monotonic())
        self._started = monotonic()
        self._last_frame_ms: int | None = None

    # ---- websocket ----------------------------------------------------------------------------
    def websocket(self, now_ms: int) -> WebsocketInputs:
        status = self.view.feed()
        streams = []
        for desk in self.view.desks():
            stream = desk.user_stream
            if stream is None or desk.failed:
                continue
            bad = stream.stats.bad_frames
            streams.append(UserStreamInputs(desk.account, stream.connected.is_set(),
                                            bad - self._prev.bad_frames.get(desk.account, bad)))
            self._prev.bad_frames[desk.account] = bad
        if status is None:  # the feed has not started yet: silence counts from the monitor's start
            silence = self.monotonic() - self._started
            return WebsocketInputs(True, silence, user_streams=tuple(streams))
        last = status.last_message_time  # the current connections' last frame; kept across reconnects
        if last is not None:
            self._last_frame_ms = max(self._last_frame_ms or 0, last)
        since = self._last_frame_ms if self._last_frame_ms is not None else now_ms - int(
            (self.monotonic() - self._started) * 1000)
        pongs = sum(c.pong_timeouts for c in status.connections)
        inputs = WebsocketInputs(status.connected, max(0.0, (now_ms - since) / 1000),
                                 status.reconnects - self._prev.reconnects, pongs - self._prev.pong_timeouts,
                                 status.candles_waiting, tuple(streams))
        self._prev.reconnects, self._prev.pong_timeouts = status.reconnects, pongs
        return inputs

    # ---- memory ---------------------------------------------------------------------------------
    def memory(self) -> MemoryInputs:
        return MemoryInputs(self.process.memory_info().rss, psutil.virtual_memory().percent)

    # ---- api ------------------------------------------------------------------------------------
    async def api(self) -> ApiInputs:
        began = time.perf_counter()
        latency: float | None
        error = None
        try:
            await asyncio.wait_for(self.view.ping(), self.ping_timeout_s)
            latency = (time.perf_counter() - began) * 1000
        except TimeoutError:
            latency, error = None, f"no answer within {self.ping_timeout_s:g} s"
        except Exception as exc:  # noqa: BLE001 - any failure of the ping is the finding
            latency, error = None, type(exc).__name__
        venues = [d.venue for d in self.view.desks() if not d.failed]
        calls = sum(getattr(v, "calls", 0) for v in venues)
        failures = sum(getattr(v, "failures", 0) for v in venues)
        limited = sum(getattr(v, "rate_limited", 0) for v in venues)
        p = self._prev
        inputs = ApiInputs(latency, error, calls - p.calls, failures - p.failures, limited - p.rate_limited)
        p.calls, p.failures, p.rate_limited = calls, failures, limited
        return inputs

    # ---- database -------------------------------------------------------------------------------
    def database(self) -> DatabaseInputs:
        stats = self.view.recorder.stats()
        now, p = self.monotonic(), self._prev
        if stats.flushed != p.flushed or stats.pending == 0:
            p.flushed, p.flushed_at = stats.flushed, now
        usage = shutil.disk_usage(self._existing(self.view.data_dir))
        rejected = stats.rejected - p.rejected_records
        p.rejected_records = stats.rejected
        return DatabaseInputs(stats.pending, now - p.flushed_at, stats.store_reachable,
                              100.0 * usage.free / usage.total, rejected, stats.last_error)

    @staticmethod
    def _existing(path: Path) -> Path:
        while not path.exists() and path != path.parent:
            path = path.parent
        return path

    # ---- trading --------------------------------------------------------------------------------
    def trading(self) -> TradingInputs:
        trader, p = self.view.trader, self._prev
        desks = list(self.view.desks())
        switch = trader.risk.kill_switch.status()
        rejects = sum(d.manager.counts.get("rejected", 0) for d in desks)
        unknown = sum(1 for d in desks for b in d.manager.books.values() for o in b.orders.values()
                      if o.status is OrderStatus.UNKNOWN)
        doubt = tuple(sorted({f"{d.account}:{s}" if len(desks) > 1 else s
                              for d in desks for s, b in d.manager.books.items() if b.doubt}))
        failed = tuple(d.account for d in desks if d.failed)
        fallback = trader.closed_trades >= self.view.bootstrap_trade_limit and not trader.model_available
        inputs = TradingInputs(switch.entries_allowed, float(switch.drawdown), rejects - p.rejects, unknown, doubt,
                               failed, len(desks), fallback, trader.policy_errors - p.policy_errors)
        p.rejects, p.policy_errors = rejects, trader.policy_errors
        return inputs

    def regimes(self) -> dict[str, str]:
        trader = self.view.trader
        return {symbol: str(trader.risk.regime(symbol)) for symbol in trader.streams}

    # ---- latency --------------------------------------------------------------------------------
    def latency(self, candle_to_ack_ms: float | None) -> LatencyInputs:
        clock = self.loop_lag.clock
        return LatencyInputs(self.loop_lag.take(), self.process.cpu_percent(None), self.process.num_threads(),
                             candle_to_ack_ms, None if clock is None else clock.polls)
