"""Measuring the graded benchmark against the configured exchange (the simulator by default, testnet or
live by configuration) without disturbing trading: its own connections (never the engine's), test
orders only (`POST /fapi/v1/order/test`: checked like an order, never placed), a few dozen requests
in all, and the checks one after another so they do not slow each other. Grading is
`engine.health.grading`; printing and storing are `slt bench` and the `benchmarks` flow.

A check that fails is not measured (value None) with the failure named in its details; the other
checks still run. No retries: a retried call would hide its own latency.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal
from typing import Any

import websockets

from engine.core.clock import wall_ms
from engine.core.intervals import INTERVAL_MS
from engine.core.secret import Secret
from engine.core.types import Candle, Order, OrderType, Side
from engine.health.grading import CHECKS, Measurement
from engine.indicators.stream import IndicatorStream
from engine.signals import BootstrapPolicy
from engine.signals.policy import safe_evaluate
from engine.venues.binance import BinanceVenue
from engine.venues.retry import RetryPolicy

SIGNAL_CANDLES = 1000   # one klines page: warm-up, then every later candle is timed
FETCH_BARS = 500        # the data-fetch page
ORDER_SAMPLES = 5
FETCH_SAMPLES = 3
WS_SAMPLES = 10
WS_FRAME_LIMIT = 10_000  # data frames skipped while waiting for one control answer, at most


@dataclass(frozen=True)
class BenchAccount:
    """An account the benchmark sends test orders on; repr never shows the secrets (Secret)."""

    id: str
    api_key: Secret
    api_secret: Secret


@dataclass(frozen=True)
class BenchTarget:
    rest_url: str
    ws_url: str
    accounts: tuple[BenchAccount, ...]
    symbols: tuple[str, ...]
    interval: str
    clients: int = 5            # concurrency: at least this many clients at once, over the accounts
    timeout_ms: int = 10_000

    def __post_init__(self) -> None:
        if not self.accounts:
            raise ValueError("the benchmark needs at least one account to send test orders on")
        if not self.symbols:
            raise ValueError("the benchmark needs at least one symbol")
        if self.interval not in INTERVAL_MS:
            raise ValueError(f"unknown interval {self.interval!r}: expected one of {', '.join(INTERVAL_MS)}")
        if self.clients < 1:
            raise ValueError(f"clients must be at least 1, got {self.clients}")


def _ms(seconds: float) -> float:
    return seconds * 1000.0


def _p99(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


async def _timed(call: Callable[[], Awaitable[Any]]) -> float:
    began = time.perf_counter()
    await call()
    return _ms(time.perf_counter() - began)


class Bench:
    """One run's connections and measurements; `measure()` is the whole run."""

    def __init__(self, target: BenchTarget, *, run_id: str, now: Callable[[], int] = wall_ms) -> None:
        self.target = target
        self.run_id = run_id
        self.now = now
        self.symbol = target.symbols[0]
        self._venues: list[BinanceVenue] = []
        self._candles: list[Candle] = []

    def _venue(self, account: BenchAccount) -> BinanceVenue:
        venue = BinanceVenue(account=account.id, rest_url=self.target.rest_url, ws_url=self.target.ws_url,
                             api_key=account.api_key, api_secret=account.api_secret,
                             timeout_ms=self.target.timeout_ms, rate_limit=False, policy=RetryPolicy(attempts=1))
        self._venues.append(venue)
        return venue

    async def measure(self) -> list[Measurement]:
        """Every check, in the grading table's order; failures become unmeasured checks."""
        found = []
        try:
            venue = self._venue(self.target.accounts[0])
            try:
                await venue.start()
            except Exception as exc:  # noqa: BLE001 - an unreachable exchange is the finding of every check
                why = {"error": f"the exchange did not answer at {self.target.rest_url}: {_error(exc)}"}
                return [Measurement(name, None, why, self.now()) for name in CHECKS]
            for name, step in (("signal_generation", lambda: self.signal_generation(venue)),
                               ("order_execution", lambda: self.order_execution(venue)),
                               ("data_fetch", lambda: self.data_fetch(venue)),
                               ("websocket_latency", self.websocket_latency),
                               ("memory_per_symbol", lambda: self.memory_per_symbol(venue)),
                               ("concurrency", lambda: self.concurrency(venue))):
                try:
                    value, details = await step()
                except Exception as exc:  # noqa: BLE001 - one failed check must not hide the others
                    value, details = None, {"error": _error(exc)}
                found.append(Measurement(name, value, details, self.now()))
        finally:
            await asyncio.gather(*(v.close() for v in self._venues), return_exceptions=True)
        return found

    # ---- the checks ------------------------------------------------------------------------
    async def _market_now(self, venue: BinanceVenue) -> int:
        """The market's time (the mark price's event time): the wall clock on Binance, the replay
        clock on the simulator, whose server time is the wall clock (for signing) while its klines
        are history."""
        return (await venue.fetch_mark_price(self.symbol)).event_time

    async def _closed_candles(self, venue: BinanceVenue) -> list[Candle]:
        if not self._candles:
            step = INTERVAL_MS[self.target.interval]
            now = await self._market_now(venue)
            page = await venue.fetch_candles(self.symbol, self.target.interval, now - SIGNAL_CANDLES * step,
                                             limit=SIGNAL_CANDLES)
            self._candles = [c for c in page if c.close_time < now]
        return self._candles

    async def signal_generation(self, venue: BinanceVenue) -> tuple[float, dict[str, Any]]:
        """The engine's own indicator stream and signal policy on each closed candle of one page."""
        candles = await self._closed_candles(venue)
        stream, policy = IndicatorStream(self.symbol, self.target.interval), BootstrapPolicy()
        times, signals = [], 0
        for candle in candles:
            began = time.perf_counter()
            indicators = stream.update(candle)
            signal, _ = safe_evaluate(policy, indicators, candle.close_time) if stream.ready else (None, None)
            if stream.ready:
                times.append(_ms(time.perf_counter() - began))
                signals += signal is not None
        if not times:
            raise ValueError(f"{len(candles)} closed candles of {self.symbol} are too few to warm the indicators up "
                             "(the simulator serves only bars its replay has closed)")
        return _p99(times), {"symbol": self.symbol, "candles": len(times), "signals": signals,
                             "median_ms": round(statistics.median(times), 4), "max_ms": round(max(times), 4)}

    def _bench_order(self, venue: BinanceVenue, mark: Decimal, n: int) -> Order:
        """The smallest market buy the exchange accepts (its minimum notional with 10 % to spare)."""
        inst = venue.instruments[self.symbol]
        step = inst.market_step_size
        lots = (inst.min_notional * Decimal("1.1") / mark / step).to_integral_value(rounding=ROUND_UP)
        quantity = max(lots * step, inst.market_min_qty).quantize(step)
        return Order(f"sltB-{self.run_id[-12:]}-{n}", venue.account, self.symbol, Side.BUY, OrderType.MARKET,
                     quantity)

    async def order_execution(self, venue: BinanceVenue) -> tuple[float, dict[str, Any]]:
        mark = (await venue.fetch_mark_price(self.symbol)).mark_price
        order = self._bench_order(venue, mark, 0)
        times = [await _timed(lambda: venue.test_order(order)) for _ in range(ORDER_SAMPLES)]
        return statistics.median(times), {"endpoint": "POST /fapi/v1/order/test", "symbol": self.symbol,
                                          "quantity": str(order.quantity), "samples": len(times),
                                          "max_ms": round(max(times), 3)}

    async def data_fetch(self, venue: BinanceVenue) -> tuple[float, dict[str, Any]]:
        step = INTERVAL_MS[self.target.interval]
        now = await self._market_now(venue)
        got: list[int] = []

        async def page() -> None:
            got.append(len(await venue.fetch_candles(self.symbol, self.target.interval, now - FETCH_BARS * step,
                                                     limit=FETCH_BARS)))
        times = [await _timed(page) for _ in range(FETCH_SAMPLES)]
        return statistics.median(times), {"endpoint": "GET /fapi/v1/klines", "symbol": self.symbol,
                                          "bars": got[-1], "samples": len(times), "max_ms": round(max(times), 3)}

    async def websocket_latency(self) -> tuple[float, dict[str, Any]]:
        """Round trips of a control message (LIST_SUBSCRIPTIONS) on a market stream connection: the
        exchange's own answer time on the socket, free of clock offsets and replay time."""
        stream = f"{self.symbol.lower()}@kline_{self.target.interval}"
        url = f"{self.target.ws_url.rstrip('/')}/stream?streams={stream}"
        timeout = self.target.timeout_ms / 1000
        times: list[float] = []
        async with websockets.connect(url, open_timeout=timeout, close_timeout=1) as ws:
            for ident in range(1, WS_SAMPLES + 1):
                began = time.perf_counter()
                await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": ident}))
                for _ in range(WS_FRAME_LIMIT):
                    frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
                    if isinstance(frame, dict) and frame.get("id") == ident:
                        break
                else:
                    raise TimeoutError(f"no answer to control message {ident} within {WS_FRAME_LIMIT} frames")
                times.append(_ms(time.perf_counter() - began))
        return statistics.median(times), {"stream": stream, "message": "LIST_SUBSCRIPTIONS", "samples": len(times),
                                          "max_ms": round(max(times), 3)}

    async def memory_per_symbol(self, venue: BinanceVenue) -> tuple[float, dict[str, Any]]:
        """What one symbol's warmed indicator state keeps allocated (tracemalloc, after warm-up)."""
        candles = await self._closed_candles(venue)
        if len(candles) <= IndicatorStream(self.symbol, self.target.interval).params.warmup:
            raise ValueError(f"{len(candles)} closed candles of {self.symbol} are too few to warm the indicators up")
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            stream = IndicatorStream(self.symbol, self.target.interval)
            for candle in candles:
                stream.update(candle)
            kept = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        return kept / 1e6, {"symbol": self.symbol, "bars": stream.bars, "bytes": kept}

    async def concurrency(self, first: BinanceVenue) -> tuple[float, dict[str, Any]]:
        """One test order from each of N clients at once (every account, at least `clients` clients
        round-robin over them): the time until the last one answered."""
        accounts = self.target.accounts
        n = max(self.target.clients, len(accounts))
        venues = [first] + [self._venue(accounts[i % len(accounts)]) for i in range(1, n)]
        await asyncio.gather(*(v.start() for v in venues[1:]))
        mark = (await first.fetch_mark_price(self.symbol)).mark_price
        orders = [self._bench_order(v, mark, i + 1) for i, v in enumerate(venues)]
        each: list[float] = []

        async def one(venue: BinanceVenue, order: Order) -> None:
            each.append(await _timed(lambda: venue.test_order(order)))
        total = await _timed(lambda: asyncio.gather(*(one(v, o) for v, o in zip(venues, orders, strict=True))))
        return total, {"clients": n, "accounts": len(accounts), "endpoint": "POST /fapi/v1/order/test",
                       "median_ms": round(statistics.median(each), 3), "max_ms": round(max(each), 3)}


def _error(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


async def measure(target: BenchTarget, *, run_id: str, now: Callable[[], int] = wall_ms) -> list[Measurement]:
    """One benchmark run against `target`; the measurements are graded by `grading.graded`."""
    return await Bench(target, run_id=run_id, now=now).measure()
