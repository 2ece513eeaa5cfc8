"""Acceptance: a day of 1m candles (1,440) replayed at `max` speed; the closed klines streamed to a
websocket client equal the source file exactly, and equal what REST and /admin report."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pyarrow.parquet as pq
import pytest
import websockets

from tests.conftest import MARKET_DATA

pytestmark = [pytest.mark.integration, pytest.mark.slow]
START = 1_746_489_600_000                 # 2025-05-06 00:00 UTC
DAY = 86_400_000


async def test_a_day_of_closed_klines_equals_the_source_file(sim_factory: Any) -> None:
    sim = await sim_factory(speed=float("inf"), start_ms=START, end_ms=START + DAY)
    table = pq.read_table(MARKET_DATA / "BTCUSDT-perp-klines-1m-2025-05.parquet").to_pylist()
    source = [r for r in table if START <= r["open_time"] < START + DAY]
    assert len(source) == 1440

    streamed = []
    async with websockets.connect(sim.ws_url + "/stream?streams=btcusdt@kline_1m/btcusdt@kline_1h") as ws:
        await sim.control.resume()
        hourly = 0
        while len(streamed) < 1440 or hourly < 24:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
            k = frame["data"]["k"]
            if k["x"] and k["i"] == "1m":
                streamed.append(k)
            hourly += k["x"] and k["i"] == "1h"
    assert hourly == 24
    for row, k in zip(source, streamed):
        assert k["t"] == row["open_time"] and k["T"] == row["open_time"] + 59_999
        assert [float(k[c]) for c in "ohlcv"] == [row[c] for c in ("open", "high", "low", "close", "volume")]

    admin = await sim.control.candles("BTCUSDT", "1m")
    assert [[c[0], *map(float, c[1:])] for c in admin] == \
        [[r["open_time"], r["open"], r["high"], r["low"], r["close"], r["volume"]] for r in source]
    ex = sim.ccxt()
    rest = await ex.fetch_ohlcv("BTC/USDT:USDT", "1m", since=START, limit=1000)
    rest += await ex.fetch_ohlcv("BTC/USDT:USDT", "1m", since=START + 1000 * 60_000, limit=1000)
    assert [r[:6] for r in rest[:1440]] == [[k["t"], *(float(k[c]) for c in "ohlcv")] for k in streamed]
    state = await sim.control.state()
    assert state["finished"] and state["bars_closed"]["1m"] == 3 * 1440
