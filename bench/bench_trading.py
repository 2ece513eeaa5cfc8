"""Trading-loop benchmarks (issue #6), each against its reference measured in the same run.

* order_latency: signal -> order acknowledged through the order manager (entry sizing by the risk
  manager, the PENDING record made durable in the journal before sending, ccxt create_order through
  `BinanceVenue`, parsing, the state merge and its record), p50 and p99, against a bare ccxt
  `create_order` round trip to the same simulator (the floor). The two alternate order by order
  (both see the same machine, flushes and GC); the simulator runs in its own process with its
  order-rate limits lifted. Target: p99 <= 1.5x the floor's. The PENDING record's fdatasync is
  measured apart (`durable_record_*`): it is the part of the gap the design requires.
* order_latency_busy: the same path while a busy neighbour runs (bench/neighbour.py: a
  scikit-learn fit on every core and a DuckLake writer committing to the engine's store, at the
  flows' lower priority), against order_latency's idle p99 of the same run. Idle and busy rounds
  alternate (`ROUNDS` of each), so both see the same machine. Target: p99 <= 2x idle.
* candle_overhead: the engine's cost per closed candle that yields no signal: the kline frame parsed
  (`engine.feeds.parse`), the indicator stream updated, the signal policy evaluated, the snapshot
  check (`Trader.on_candle`), in us; reference: `IndicatorStream.update` alone on the same candles.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import shutil
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt
import polars as pl

from bench.common import BenchResult, machine_load, percentile
from bench.neighbour import start_neighbour
from bench.servers import free_port as _free_port
from bench.servers import start as _start
from bench.servers import stop as _stop
from engine.config import load_settings
from engine.core.clock import ExchangeClock
from engine.core.secret import Secret
from engine.core.types import Candle, Order, OrderStatus, Side, SignalRecord
from engine.execution.book import Book, Place
from engine.execution.desk import Desk
from engine.execution.manager import OrderManager
from engine.execution.pnl import PnlCalculator
from engine.execution.portfolio import Portfolio
from engine.execution.protection import EntrySizing, ProtectionRule
from engine.execution.sync import AccountSync
from engine.execution.trader import Trader
from engine.feeds.parse import parse_frame
from engine.feeds.user_stream import UserStream
from engine.indicators import IndicatorStream
from engine.risk import RiskManager
from engine.signals import Admission, BootstrapPolicy
from engine.store import init_store
from engine.store.recorder import TradeRecorder
from engine.venues.binance import BinanceVenue
from engine.venues.binance_urls import point_binanceusdm_at

REPO = Path(__file__).resolve().parent.parent
ORDERS = 600  # of each kind (idle, busy), over ROUNDS alternating rounds
ROUNDS = 3
WARMUP = 20
CANDLES = 20_000


def run() -> list[BenchResult]:
    logging.getLogger("engine").setLevel(logging.WARNING)
    return [*asyncio.run(order_latency()), candle_overhead()]


# ---- order_latency ----------------------------------------------------------------------------------
async def order_latency() -> list[BenchResult]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    sim = _start(["-m", "engine.sim", "--port", str(port), "--paused", "--order-limit-10s", "1000000",
                  "--order-limit-1m", "1000000", "--weight-limit", "100000000"], ready_url=url + "/fapi/v1/ping")
    tmp = Path(tempfile.mkdtemp(prefix="bench-trading-"))
    try:
        return await _order_latency(url, tmp)
    finally:
        _stop(sim)
        shutil.rmtree(tmp, ignore_errors=True)


async def _order_latency(url: str, tmp: Path) -> list[BenchResult]:
    ws = url.replace("http", "ws")
    settings = load_settings({"SLT_DATA_DIR": str(tmp)}, env_file=tmp / "none.env")
    init_store(settings)
    recorder = TradeRecorder(settings).start()
    venue = BinanceVenue(account="main", rest_url=url, ws_url=ws, api_key=Secret("slt-demo-key"),
                         api_secret=Secret("slt-demo-secret"), rate_limit=False)
    await venue.start()
    bare = point_binanceusdm_at(ccxt.binanceusdm({"apiKey": "slt-demo-key", "secret": "slt-demo-secret",
                                                  "enableRateLimit": False}), url, ws)
    await bare.load_markets()
    clock = ExchangeClock()
    mark = await venue.fetch_mark_price("BTCUSDT")
    clock.observe(mark.event_time)
    book = Book("main", "BTCUSDT", venue.instruments["BTCUSDT"], ProtectionRule())  # no ATR: no protective orders
    manager = OrderManager(venue, recorder, clock, {"BTCUSDT": book}, interval_ms=60_000,
                           enter=lambda b, s: trader.enter(b, s), gate=lambda b, o: trader.gate(b, o),
                           on_closed=lambda e: trader.on_closed(e))  # the trader below, as engine.wiring does
    portfolio = Portfolio("main", PnlCalculator(max_age_ms=10**12))
    portfolio.on_equity(await venue.fetch_equity())
    portfolio.observe_mark("BTCUSDT", mark.mark_price, mark.event_time)
    risk = RiskManager({"BTCUSDT": venue.instruments["BTCUSDT"]}, clock=clock)
    sync = AccountSync(manager, venue, portfolio, clock)  # fills arrive as in the engine: trades close, books stay small
    stream = UserStream(venue, ws, account="main", handle=sync.on_user_event, poll=sync.poll)
    # 0.2% of equity as margin at 1x: ~20 USDT, BTC's smallest valid lots (min notional 100 -> ~0.002 BTC)
    trader = Trader(desks=[Desk("main", manager, portfolio, sync, stream)], streams={}, policy=BootstrapPolicy(),
                    admission=Admission(), risk=risk, sizing=EntrySizing(Decimal("0.02"), 1), clock=clock)
    stream_task = asyncio.create_task(stream.run())
    await asyncio.wait_for(stream.connected.wait(), 10)
    sync.release()
    acked: dict[str, asyncio.Event] = {}
    on_order = manager.on_order

    statuses: dict[str, OrderStatus] = {}

    def watch(report: Order) -> None:  # the moment the exchange's answer reaches the order manager
        event = acked.get(report.client_order_id)
        if event is not None and report.status is not OrderStatus.PENDING and not event.is_set():
            statuses[report.client_order_id] = report.status
            event.set()
        on_order(report)

    manager.on_order = watch  # type: ignore[method-assign]
    kind = "warm-up"
    durable: dict[str, list[float]] = {"warm-up": [], "idle": [], "busy": []}
    record_now = recorder.record_now

    def timed_record_now(*records: Any) -> int:  # the fdatasync the order waits for, measured apart
        started = time.perf_counter()
        seq = record_now(*records)
        durable[kind].append(time.perf_counter() - started)
        return seq

    recorder.record_now = timed_record_now  # type: ignore[method-assign]
    ours: dict[str, list[float]] = {"idle": [], "busy": []}
    floor: dict[str, list[float]] = {"idle": [], "busy": []}
    n = 0

    async def one_ours(side: Side) -> float:
        nonlocal n
        n += 1
        started = time.perf_counter()
        sig = SignalRecord(f"bench:BTCUSDT:1m:{n}", "bench", "BTCUSDT", "1m", side, 0.6, 0.55,
                           float(mark.mark_price), math.nan, True, event_time=clock.now_ms())
        order = trader.enter(book, sig)
        assert order is not None
        acked[order.client_order_id] = event = asyncio.Event()
        book.orders[order.client_order_id] = order
        manager.run_command(book, Place(order, "bench"))
        await event.wait()
        elapsed = time.perf_counter() - started
        assert statuses.pop(order.client_order_id) in (OrderStatus.NEW, OrderStatus.FILLED)  # stream or answer
        return elapsed

    async def one_floor(side: Side) -> float:
        started = time.perf_counter()
        await bare.create_order("BTC/USDT:USDT", "market", side.value.lower(), 0.002)
        return time.perf_counter() - started

    load_before = machine_load()
    try:
        for i in range(WARMUP):
            await one_ours(Side.BUY if i % 2 == 0 else Side.SELL)
            await one_floor(Side.BUY if i % 2 == 0 else Side.SELL)
        for _ in range(ROUNDS):
            for kind in ("idle", "busy"):
                neighbour = await asyncio.to_thread(start_neighbour, tmp, 120.0) if kind == "busy" else None
                try:
                    for i in range(ORDERS // ROUNDS):  # one of each in turn: both see the same machine, flushes, GC
                        side = Side.BUY if i % 2 == 0 else Side.SELL
                        if i % 4 < 2:
                            floor[kind].append(await one_floor(side))
                            ours[kind].append(await one_ours(side))
                        else:
                            ours[kind].append(await one_ours(side))
                            floor[kind].append(await one_floor(side))
                finally:
                    if neighbour is not None:
                        await asyncio.to_thread(_stop, neighbour)
    finally:
        await manager.drain(5)
        await stream.stop()
        await stream_task
        await bare.close()
        await venue.close()
        await recorder.aclose()
    machine = {"load_before": load_before, "load_after": machine_load()}
    path = ("sizing (RiskManager.decide) + durable PENDING record + BinanceVenue.create_order; "
            "the user-data stream running as in the engine")
    idle, busy = _order_figures(ours["idle"], floor["idle"], durable["idle"]), \
        _order_figures(ours["busy"], floor["busy"], durable["busy"])
    return [
        BenchResult(name="order_latency", value=idle["p99_ms"], unit="ms p99",
                    reference="bare ccxt create_order round trip (p99)", reference_value=idle["floor_p99_ms"],
                    higher_is_better=False, target="<= 1.5",
                    extra={**idle, "book_orders_at_end": len(book.orders), "path": path, "machine": machine}),
        BenchResult(name="order_latency_busy", value=busy["p99_ms"], unit="ms p99",
                    reference="order_latency idle p99, same run", reference_value=idle["p99_ms"],
                    higher_is_better=False, target="<= 2",
                    extra={**busy, "path": path, "machine": machine,
                           "neighbour": "scikit-learn fit on every core + DuckLake commits every 100 ms to the "
                                        "engine's store, at niceness 10"}),
    ]


def _order_figures(ours: list[float], floor: list[float], durable: list[float]) -> dict[str, float]:
    p50, p99, f50, f99 = (percentile(x, q) * 1000 for x, q in ((ours, 50), (ours, 99), (floor, 50), (floor, 99)))
    return {"p50_ms": p50, "p99_ms": p99, "p99_9_ms": percentile(ours, 99.9) * 1000, "max_ms": max(ours) * 1000,
            "floor_p50_ms": f50, "floor_p99_ms": f99, "orders": len(ours),
            "durable_record_p50_ms": percentile(durable, 50) * 1000,
            "durable_record_p99_ms": percentile(durable, 99) * 1000, "p50_ratio": p50 / f50}


# ---- candle_overhead --------------------------------------------------------------------------------
def candle_overhead() -> BenchResult:
    tmp = Path(tempfile.mkdtemp(prefix="bench-candles-"))
    try:
        return asyncio.run(_candle_overhead(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _frames(limit: int) -> list[bytes]:
    bars = pl.read_parquet(REPO / "data" / "market" / "BTCUSDT-perp-klines-1m-2025-05.parquet").head(limit)
    frames = []
    for t, o, h, lo, c, v in bars.select("open_time", "open", "high", "low", "close", "volume").iter_rows():
        kline = {"t": t, "T": t + 59_999, "s": "BTCUSDT", "i": "1m", "f": 1, "L": 2, "o": repr(o), "c": repr(c),
                 "h": repr(h), "l": repr(lo), "v": repr(v), "n": 2, "x": True, "q": "0", "V": "0", "Q": "0", "B": "0"}
        frames.append(json.dumps({"stream": "btcusdt@kline_1m", "data": {"e": "kline", "E": t + 60_000,
                                                                         "s": "BTCUSDT", "k": kline}}).encode())
    return frames


async def _candle_overhead(tmp: Path) -> BenchResult:
    frames = _frames(CANDLES)
    settings = load_settings({"SLT_DATA_DIR": str(tmp)}, env_file=tmp / "none.env")
    init_store(settings)
    recorder = TradeRecorder(settings).start()
    clock = ExchangeClock()
    instrument = _btc_rules()
    book = Book("main", "BTCUSDT", instrument, ProtectionRule())
    venue = _NoVenue()
    manager = OrderManager(venue, recorder, clock, {"BTCUSDT": book}, interval_ms=60_000)  # type: ignore[arg-type]
    portfolio = Portfolio("main", PnlCalculator())
    portfolio.on_wallet(Decimal(10_000))
    sync = AccountSync(manager, venue, portfolio, clock)  # type: ignore[arg-type]
    stream = UserStream(venue, "ws://127.0.0.1:9", account="main", handle=sync.on_user_event,  # type: ignore[arg-type]
                        poll=sync.poll)  # never started: no exchange here
    trader = Trader(desks=[Desk("main", manager, portfolio, sync, stream)],
                    streams={"BTCUSDT": IndicatorStream("BTCUSDT", "1m")}, policy=BootstrapPolicy(),
                    admission=Admission(min_confidence=1.01), risk=RiskManager({"BTCUSDT": instrument}, clock=clock),
                    sizing=EntrySizing(), clock=clock)  # confidence > 1: nothing is admitted
    reference = IndicatorStream("BTCUSDT", "1m")
    engine_times: list[float] = []
    stream_times: list[float] = []
    try:
        for frame in frames:
            started = time.perf_counter_ns()
            _, candle = parse_frame(frame, 0)
            assert isinstance(candle, Candle)
            signal = trader.on_candle(candle)
            elapsed = time.perf_counter_ns() - started
            t0 = time.perf_counter_ns()
            reference.update(candle)
            stream_times.append((time.perf_counter_ns() - t0) / 1000)
            if signal is None:
                engine_times.append(elapsed / 1000)
    finally:
        await recorder.aclose()
    skip = 500  # indicator warm-up
    ours, ref = engine_times[skip:], stream_times[skip:]
    value, reference_value = percentile(ours, 50), percentile(ref, 50)
    return BenchResult(
        name="candle_overhead", value=value, unit="us p50", reference="IndicatorStream.update alone (p50)",
        reference_value=reference_value, higher_is_better=False, target="",
        extra={"candles_without_signal": len(ours), "p99_us": percentile(ours, 99), "mean_us": sum(ours) / len(ours),
               "reference_p99_us": percentile(ref, 99), "signals": trader.signals,
               "path": "parse_frame + IndicatorStream.update + safe_evaluate(BootstrapPolicy) + snapshot check "
                       "(one equity snapshot recorded per 1m candle)"})


def _btc_rules() -> Any:
    from engine.core.instrument import Instrument
    D = Decimal
    return Instrument("BTCUSDT", "BTC", "USDT", tick_size=D("0.10"), min_price=D("0.10"), max_price=D("4529764"),
                      step_size=D("0.001"), min_qty=D("0.001"), max_qty=D("1000"), market_step_size=D("0.001"),
                      market_min_qty=D("0.001"), market_max_qty=D("120"), min_notional=D("100"))


class _NoVenue:
    """No order is placed in this benchmark (nothing is admitted): any exchange call is a bug."""

    account = "main"
    instruments: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"candle_overhead must not call the exchange ({name})")
