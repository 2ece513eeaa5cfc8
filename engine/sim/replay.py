"""The replay clock: walks the tape's candles point by point along their intra-candle paths and
publishes what a Binance client would see at each point (aggTrade, bookTicker, markPrice, kline
updates, one `x:true` close per bar at its close time), drives the exchange core with the new quotes
and settles funding at funding times.

Market time (this clock) is separate from the auth clock: event, order and kline times are replay
time; `/fapi/v1/time` and the recvWindow check use real time (see README, spec §8.10).

Speeds: a factor of real time (1 = real time, 60 = a minute per second) or `max`. At `max` the
replay runs as fast as the process allows but waits while a client's queue is more than half full,
and drops a client that has not caught up within `slow_client_timeout` seconds."""

from __future__ import annotations

import asyncio
import logging
import math
import time as systime
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from engine.core.intervals import INTERVAL_MS
from engine.sim import frames
from engine.sim.events import Event
from engine.sim.market import BarClose, Market, Tick
from engine.sim.matching import Exchange
from engine.sim.streams import Hub
from engine.sim.views import next_funding, ticker_24h

log = logging.getLogger("engine.sim.replay")
MARK_EVERY = {"markPrice": 3000, "markPrice@1s": 1000}


@dataclass
class ReplayStats:
    steps: int = 0
    bars_closed: dict[str, int] = field(default_factory=dict)     # interval -> closes per symbol summed
    funding_events: int = 0


class Replay:
    def __init__(self, market: Market, exchange: Exchange, hub: Hub, dispatch: Callable[[list[Event]], None],
                 *, start_ms: int, end_ms: int, speed: float = 1.0, paused: bool = False,
                 slow_client_timeout: float = 10.0) -> None:
        self.market = market
        self.exchange = exchange
        self.hub = hub
        self.dispatch = dispatch
        self.interval_ms = INTERVAL_MS[market.interval]
        if start_ms % self.interval_ms:
            raise ValueError(f"replay start {start_ms} is not on a {market.interval} boundary")
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.speed = speed
        self.paused = paused
        self.slow_client_timeout = slow_client_timeout
        self.bar_open = start_ms
        self.k = 0
        self.now_ms = start_ms
        self.stats = ReplayStats()
        self._mark_sent: dict[str, int] = {}
        self._resumed = asyncio.Event()
        self._anchor = (systime.monotonic(), start_ms)
        market.begin(start_ms)
        self.step_once()                     # the opening tick: quotes exist before any client arrives

    @property
    def finished(self) -> bool:
        return self.bar_open >= self.end_ms

    # ---- stepping (synchronous, deterministic) -------------------------------------------------
    def step_once(self) -> bool:
        if self.finished:
            return False
        ticks, closes = self.market.advance(self.bar_open, self.k)
        time = self.bar_open + int(self.market.offsets[self.k])
        self.now_ms = time
        for tick in ticks:
            self.publish_tick(tick)
            state = self.market.states[tick.symbol]
            self.dispatch(self.exchange.update_quote(state.quote(time)))
        if ticks and (self.hub.wants("!markPrice@arr") or self.hub.wants("!markPrice@arr@1s")):
            payload = [self._mark_payload(t.symbol, time) for t in ticks]
            self.hub.publish("!markPrice@arr", payload)
            self.hub.publish("!markPrice@arr@1s", payload)
        for close in closes:
            self._publish_close(close, time)
        self.stats.steps += 1
        if self.k == self.market.ticks:
            boundary = self.bar_open + self.interval_ms
            for symbol, state in self.market.states.items():
                rate = state.tape.funding_at(boundary)
                if rate is not None and symbol in self.exchange.quotes:
                    self.stats.funding_events += 1
                    self.dispatch(self.exchange.apply_funding(symbol, Decimal(repr(rate)), boundary))
            self.bar_open, self.k = boundary, 0
        else:
            self.k += 1
        return True

    def step(self, steps: int = 1) -> int:
        done = 0
        while done < steps and self.step_once():
            done += 1
        self._reanchor()
        return done

    def step_until(self, market_ms: int) -> int:
        """Run every path point up to and including `market_ms`."""
        done = 0
        while not self.finished and self.bar_open + int(self.market.offsets[self.k]) <= market_ms:
            self.step_once()
            done += 1
        self._reanchor()
        return done

    def step_bars(self, bars: int) -> int:
        """Run to the close of the `bars`-th bar from here (a partly run bar counts as the first)."""
        target = self.bar_open + bars * self.interval_ms - 1
        return self.step_until(target)

    def publish_tick(self, tick: Tick) -> None:
        hub = self.hub
        state = self.market.states[tick.symbol]
        lower = tick.symbol.lower()
        if hub.wants(f"{lower}@aggTrade"):
            hub.publish(f"{lower}@aggTrade", frames.agg_trade(state, tick))
        if hub.wants(f"{lower}@trade"):
            hub.publish(f"{lower}@trade", frames.trade(state, tick))
        for channel in ("ticker", "miniTicker"):
            if hub.wants(f"{lower}@{channel}"):
                rest = ticker_24h(self.market, state, tick.time)
                hub.publish(f"{lower}@{channel}", frames.ticker(rest, tick.time, channel == "miniTicker"))
        if hub.wants(f"{lower}@bookTicker"):
            hub.publish(f"{lower}@bookTicker", frames.book_ticker(state, tick))
        if hub.wants("!bookTicker"):
            hub.publish("!bookTicker", frames.book_ticker(state, tick))
        for channel, every in MARK_EVERY.items():
            stream = f"{lower}@{channel}"
            if hub.wants(stream) and tick.time - self._mark_sent.get(stream, -every) >= every:
                self._mark_sent[stream] = tick.time
                hub.publish(stream, self._mark_payload(tick.symbol, tick.time))
        if state.bar is not None:                       # an open bar: x:false updates
            for interval in self.market.intervals:
                stream = f"{lower}@kline_{interval}"
                if hub.wants(stream):
                    partial = state.partial(interval)
                    if partial is not None:
                        done = (state.bar.open_time - partial.open_time) // self.interval_ms
                        trades = done * (self.market.ticks + 1) + state.k + 1
                        hub.publish(stream, frames.kline(state, interval, partial, False, tick.time, trades))

    def _mark_payload(self, symbol: str, time: int) -> dict:
        state = self.market.states[symbol]
        when, rate = next_funding(state, time)
        return frames.mark_price(state, time, rate, when)

    def _publish_close(self, close: BarClose, time: int) -> None:
        self.stats.bars_closed[close.interval] = self.stats.bars_closed.get(close.interval, 0) + 1
        stream = f"{close.symbol.lower()}@kline_{close.interval}"
        if self.hub.wants(stream):
            state = self.market.states[close.symbol]
            trades = (INTERVAL_MS[close.interval] // self.interval_ms) * (self.market.ticks + 1)
            self.hub.publish(stream, frames.kline(state, close.interval, close.bar, True, time, trades))

    # ---- pacing (real time) ---------------------------------------------------------------------
    def _reanchor(self) -> None:
        """After manual steps a running clock continues from here instead of waiting for real time."""
        self._anchor = (systime.monotonic(), self.now_ms)

    def pause(self) -> None:
        self.paused = True
        self._resumed.clear()

    def resume(self) -> None:
        self.paused = False
        self._anchor = (systime.monotonic(), self.now_ms)
        self._resumed.set()

    def set_speed(self, speed: float) -> None:
        self.speed = speed
        self._anchor = (systime.monotonic(), self.now_ms)

    async def run(self) -> None:
        """Advance until the end of the tape, pacing by `speed`; stays alive (finished) afterwards."""
        self._anchor = (systime.monotonic(), self.now_ms)
        while not self.finished:
            if self.paused:
                await self._resumed.wait()
                continue
            next_time = self.bar_open + int(self.market.offsets[self.k])
            if math.isinf(self.speed):
                if self.hub.backlog() > self.hub.max_queue // 2:
                    await self._wait_for_readers()
                self.step_once()
                await asyncio.sleep(0)
                continue
            real0, market0 = self._anchor
            due = real0 + (next_time - market0) / 1000 / self.speed
            delay = due - systime.monotonic()
            if delay > 0:
                await asyncio.sleep(min(delay, 0.5))
                continue
            self.step_once()
        log.info("replay finished at %s (end of tape)", self.now_ms)

    async def _wait_for_readers(self) -> None:
        deadline = systime.monotonic() + self.slow_client_timeout
        while self.hub.backlog() > self.hub.max_queue // 4:
            if systime.monotonic() > deadline:
                for conn in list(self.hub.connections):
                    if len(conn.queue) > self.hub.max_queue // 4:
                        self.hub.kick(conn, f"did not read {len(conn.queue)} queued frames within "
                                            f"{self.slow_client_timeout:g} s at max speed", abort=True)
                return
            await asyncio.sleep(0.002)

