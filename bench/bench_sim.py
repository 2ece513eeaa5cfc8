"""Simulator benchmarks (issue #3), each against a reference measured in the same run.

* sim_order_roundtrip: ccxt `create_order` (market, RESULT) round trip to the simulator, p50 and p99,
  against the same ccxt call answered by a bare aiohttp handler returning canned bytes (the floor:
  same client, same signed request, no exchange behind it). Target <= 2x at p50.
* sim_ws_fanout: frames per second delivered to 10 websocket subscribers of 12 streams while the
  replay runs at max speed, against a bare `websockets` server sending the same frames. Target >= 0.5x.
* sim_replay_speed: 1m candles per second generated and streamed (3 symbols, one day, one client on
  the 12 streams of STREAMS) at max speed; reference: the same replay with no client attached.

Every server runs in its own process; clients run in this one."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import ccxt.async_support as ccxt
import websockets

from bench.common import BenchResult, percentile
from bench.servers import free_port, start, start_sim, stop
from engine.venues.binance_urls import point_binanceusdm_at

REPO = Path(__file__).resolve().parent.parent
ORDERS = 300
WARMUP = 30
FANOUT_CLIENTS = 10
FANOUT_FRAMES = 20_000
SYMBOLS = ("btcusdt", "ethusdt", "xrpusdt")
STREAMS = "/".join(f"{s}@{c}" for s in SYMBOLS for c in ("aggTrade", "bookTicker", "kline_1m", "markPrice@1s"))


async def _admin(port: int, path: str) -> Any:
    async with aiohttp.ClientSession() as session:
        async with session.request("POST" if "clock" in path else "GET", f"http://127.0.0.1:{port}/admin/{path}") as r:
            return await r.json()


# ---- sim_order_roundtrip ----------------------------------------------------------------------
async def _time_raw(url: str, request: tuple[str, dict[str, str], str], count: int) -> list[float]:
    """The same signed POST sent by a bare aiohttp client (no ccxt): the transport alone."""
    path, headers, body = request
    samples = []
    async with aiohttp.ClientSession() as session:
        for i in range(WARMUP + count):
            started = time.perf_counter()
            async with session.post(url + path, data=body, headers=headers) as resp:
                await resp.read()
            if i >= WARMUP:
                samples.append((time.perf_counter() - started) * 1000)
    return samples


async def _time_orders(url: str, count: int) -> tuple[list[float], Any]:
    ex = point_binanceusdm_at(ccxt.binanceusdm({"apiKey": "bench", "secret": "bench-secret",
                                                "enableRateLimit": False}), url)
    try:
        await ex.load_markets()
        samples = []
        for i in range(WARMUP + count):
            started = time.perf_counter()
            await ex.create_order("BTC/USDT:USDT", "market", "buy" if i % 2 == 0 else "sell", 0.002)
            if i >= WARMUP:
                samples.append((time.perf_counter() - started) * 1000)
        request = ("/fapi/v1/order", dict(ex.last_request_headers), ex.last_request_body)
        return samples, (ex.last_http_response, request)
    finally:
        await ex.close()


async def order_roundtrip() -> BenchResult:
    port = free_port()
    sim = start_sim(port, "--symbols", "BTCUSDT", "--account", "bench:bench-secret:100000000",
               "--weight-limit", "100000000", "--order-limit-10s", "100000", "--order-limit-1m", "100000")
    try:
        sim_ms, (last_order, request) = await _time_orders(f"http://127.0.0.1:{port}", ORDERS)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/fapi/v1/exchangeInfo") as resp:
            info = resp.read()
    finally:
        stop(sim)
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "exchangeInfo.json").write_bytes(info)
        Path(folder, "order.json").write_text(last_order)
        bare_port = free_port()
        bare = start(["-m", "bench.bare_servers", "rest", str(bare_port), folder])
        try:
            floor_ms, _ = await _time_orders(f"http://127.0.0.1:{bare_port}", ORDERS)
            raw_ms = await _time_raw(f"http://127.0.0.1:{bare_port}", request, ORDERS)
        finally:
            stop(bare)
    p50, floor50 = percentile(sim_ms, 50), percentile(floor_ms, 50)
    return BenchResult(
        name="sim_order_roundtrip", value=p50, unit="ms p50", reference="ccxt create_order to a bare aiohttp handler",
        reference_value=floor50, higher_is_better=False, target="<= 2",
        extra={"p99_ms": percentile(sim_ms, 99), "floor_p99_ms": percentile(floor_ms, 99), "orders": ORDERS,
               "raw_aiohttp_to_bare_p50_ms": percentile(raw_ms, 50), "raw_aiohttp_to_bare_p99_ms": percentile(raw_ms, 99)})


# ---- sim_ws_fanout ----------------------------------------------------------------------------
async def _fan_in(url: str, keep: list[str] | None, after_connect: Any) -> float:
    """Connect the clients, run `after_connect`, return seconds until each has FANOUT_FRAMES frames."""
    conns = [await websockets.connect(url, max_queue=1024, compression=None) for _ in range(FANOUT_CLIENTS)]

    async def read(i: int, conn: Any) -> None:
        for _ in range(FANOUT_FRAMES):
            frame = await conn.recv()
            if keep is not None and i == 0:
                keep.append(frame)

    try:
        started = time.perf_counter()
        await after_connect()
        await asyncio.gather(*(read(i, c) for i, c in enumerate(conns)))
        return time.perf_counter() - started
    finally:
        for conn in conns:
            await conn.close()


async def ws_fanout() -> BenchResult:
    port = free_port()
    sim = start_sim(port, "--speed", "max", "--ws-max-queue", "1000000", "--end-after", "3d")
    frames: list[str] = []
    try:
        sim_s = await _fan_in(f"ws://127.0.0.1:{port}/stream?streams={STREAMS}", frames,
                              lambda: _admin(port, "clock/resume"))
    finally:
        stop(sim)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "frames.json")
        path.write_text(json.dumps(frames))
        bare_port = free_port()
        bare = start(["-m", "bench.bare_servers", "ws", str(bare_port), str(path), str(FANOUT_CLIENTS)])
        try:
            bare_s = await _fan_in(f"ws://127.0.0.1:{bare_port}", None, lambda: asyncio.sleep(0))
        finally:
            stop(bare)
    total = FANOUT_CLIENTS * FANOUT_FRAMES
    return BenchResult(
        name="sim_ws_fanout", value=total / sim_s, unit="msgs/s", reference="bare websockets server, same frames",
        reference_value=total / bare_s, higher_is_better=True, target=">= 0.5",
        extra={"clients": FANOUT_CLIENTS, "frames_per_client": FANOUT_FRAMES, "streams": 12})


# ---- sim_replay_speed -------------------------------------------------------------------------
async def _replay_day(with_client: bool) -> float:
    port = free_port()
    sim = start_sim(port, "--speed", "max", "--end-after", "1d", "--ws-max-queue", "1000000")
    try:
        if not with_client:
            started = time.perf_counter()
            await _admin(port, "clock/resume")
            while not (await _admin(port, "state"))["finished"]:
                await asyncio.sleep(0.02)
            return time.perf_counter() - started
        async with websockets.connect(f"ws://127.0.0.1:{port}/stream?streams={STREAMS}", max_queue=1024,
                                      compression=None) as ws:
            started = time.perf_counter()
            await _admin(port, "clock/resume")
            closes = 0
            while closes < 3 * 1440:
                frame = await ws.recv()
                if '"x":true' in frame and '"i":"1m"' in frame:
                    closes += 1
            return time.perf_counter() - started
    finally:
        stop(sim)


async def replay_speed() -> BenchResult:
    streamed = await _replay_day(True)
    alone = await _replay_day(False)
    candles = 3 * 1440
    return BenchResult(
        name="sim_replay_speed", value=candles / streamed, unit="candles/s",
        reference="same replay, no client attached", reference_value=candles / alone, higher_is_better=True,
        target="n/a", extra={"symbols": 3, "candles": candles, "streams": 12,
                             "times_real_time": round(86_400 / streamed), "seconds": round(streamed, 3)})


def run() -> list[BenchResult]:
    return [asyncio.run(order_roundtrip()), asyncio.run(ws_fanout()), asyncio.run(replay_speed())]
