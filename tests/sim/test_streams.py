"""Market and user-data streams through a plain `websockets` client (and ccxt.pro watch_ohlcv)."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import aiohttp
import pytest
import websockets

from tests.sim.harness import SimHandle

pytestmark = pytest.mark.integration


async def recv(ws: Any, timeout: float = 5.0) -> Any:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def drain(ws: Any, idle: float = 0.3) -> list[Any]:
    frames = []
    while True:
        try:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), idle)))
        except TimeoutError:
            return frames


@pytest.mark.parametrize("path", ["/ws/btcusdt@kline_1m", "/market/ws/btcusdt@kline_1m"])
async def test_kline_updates_and_one_close_per_bar(sim: SimHandle, path: str) -> None:
    async with websockets.connect(sim.ws_url + path) as ws:
        await sim.control.step(bars=2)
        frames = await drain(ws)
    klines = [f["k"] for f in frames]
    assert all(f["e"] == "kline" and f["s"] == "BTCUSDT" for f in frames)
    closes = [k for k in klines if k["x"] is True]
    assert len(closes) == 2 and closes[1]["t"] - closes[0]["t"] == 60_000
    for k in closes:
        assert k["T"] == k["t"] + 59_999 and k["i"] == "1m"
        assert float(k["l"]) <= min(float(k["o"]), float(k["c"])) <= max(float(k["o"]), float(k["c"])) <= float(k["h"])
    first_close = klines.index(closes[0])
    assert all(not k["x"] and k["t"] == closes[0]["t"] for k in klines[:first_close])
    assert all(k["t"] == closes[1]["t"] for k in klines[first_close + 1:])
    assert [f["E"] for f in frames] == sorted(f["E"] for f in frames)
    assert frames[first_close]["E"] == closes[0]["T"]                       # the close at T


async def test_combined_streams_carry_the_stream_name(sim: SimHandle) -> None:
    url = sim.ws_url + "/stream?streams=btcusdt@aggTrade/ethusdt@bookTicker/btcusdt@markPrice@1s/!markPrice@arr"
    async with websockets.connect(url) as ws:
        await sim.control.step(steps=3)
        frames = await drain(ws)
    by_stream: dict[str, list[Any]] = {}
    for frame in frames:
        by_stream.setdefault(frame["stream"], []).append(frame["data"])
    assert set(by_stream) == {"btcusdt@aggTrade", "ethusdt@bookTicker", "btcusdt@markPrice@1s", "!markPrice@arr"}
    trade = by_stream["btcusdt@aggTrade"][0]
    assert trade["e"] == "aggTrade" and isinstance(trade["m"], bool) and float(trade["p"]) > 0
    book = by_stream["ethusdt@bookTicker"][0]
    assert book["e"] == "bookTicker" and float(book["b"]) < float(book["a"])
    mark = by_stream["btcusdt@markPrice@1s"][0]
    assert mark["e"] == "markPriceUpdate" and mark["T"] % (8 * 3_600_000) == 0 and float(mark["r"]) != 0
    assert {m["s"] for m in by_stream["!markPrice@arr"][0]} == {"BTCUSDT", "ETHUSDT", "XRPUSDT"}


async def test_control_messages(sim: SimHandle) -> None:
    async with websockets.connect(sim.ws_url + "/market/ws/0") as ws:        # ccxt.pro's path: no data
        await sim.control.step(steps=2)
        assert await drain(ws, 0.2) == []
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@bookTicker", "ethusdt@kline_1m"], "id": 1}))
        assert await recv(ws) == {"result": None, "id": 1}
        await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 2}))
        assert await recv(ws) == {"result": ["btcusdt@bookTicker", "ethusdt@kline_1m"], "id": 2}
        await ws.send(json.dumps({"method": "SET_PROPERTY", "params": ["combined", True], "id": 3}))
        assert await recv(ws) == {"result": None, "id": 3}
        await sim.control.step(steps=1)
        assert {f["stream"] for f in await drain(ws)} == {"btcusdt@bookTicker", "ethusdt@kline_1m"}
        await ws.send(json.dumps({"method": "UNSUBSCRIBE", "params": ["ethusdt@kline_1m"], "id": 4}))
        assert await recv(ws) == {"result": None, "id": 4}
        await sim.control.step(steps=1)
        assert {f["stream"] for f in await drain(ws)} == {"btcusdt@bookTicker"}
        await ws.send("{not json")
        assert (await recv(ws))["code"] == 3
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["dogeusdt@kline_1m"], "id": 5}))
        assert (await recv(ws))["code"] == 2
        await ws.send(json.dumps({"method": "FLY", "id": 6}))
        assert await recv(ws) == {"code": 2, "msg": "Invalid request: unknown variable", "id": 6}


async def test_user_stream_events(sim: SimHandle) -> None:
    ex = sim.ccxt()
    await ex.load_markets()
    key = (await ex.fapiPrivatePostListenKey())["listenKey"]
    async with websockets.connect(f"{sim.ws_url}/private/ws?listenKey={key}") as private, \
            websockets.connect(f"{sim.ws_url}/ws/{key}") as legacy, \
            websockets.connect(f"{sim.ws_url}/private/ws?listenKey={key}&events=ACCOUNT_UPDATE") as filtered:
        await ex.set_leverage(10, "BTC/USDT:USDT")
        order = await ex.create_order("BTC/USDT:USDT", "market", "buy", 0.002, None, {"clientOrderId": "ws-1"})
        await ex.create_order("BTC/USDT:USDT", "market", "sell", 0.002, None,
                              {"stopLossPrice": round(order["average"] * 0.99, 1), "reduceOnly": True})
        await sim.control.set_price("BTCUSDT", round(order["average"] * 0.98, 1))
        events = await drain(private)
        assert await drain(legacy) == events
        assert {e["e"] for e in await drain(filtered)} == {"ACCOUNT_UPDATE"}
    names = [e["e"] for e in events]
    assert names[0] == "ACCOUNT_CONFIG_UPDATE" and events[0]["ac"] == {"s": "BTCUSDT", "l": 10}
    updates = [e["o"] for e in events if e["e"] == "ORDER_TRADE_UPDATE" and e["o"]["c"] == "ws-1"]
    assert [(u["x"], u["X"]) for u in updates] == [("NEW", "NEW"), ("TRADE", "FILLED")]
    assert updates[1]["z"] == "0.002" and float(updates[1]["L"]) == order["average"] and float(updates[1]["n"]) > 0
    account = events[names.index("ACCOUNT_UPDATE")]["a"]
    assert account["m"] == "ORDER" and account["B"][0]["a"] == "USDT"
    assert account["P"][0]["pa"] == "0.002" and float(account["P"][0]["ep"]) == order["average"]
    algo = [e["o"] for e in events if e["e"] == "ALGO_UPDATE"]
    assert [a["X"] for a in algo] == ["NEW", "TRIGGERED", "FINISHED"] and algo[1]["ai"]
    stop_fill = [e["o"] for e in events if e["e"] == "ORDER_TRADE_UPDATE" and e["o"]["ot"] == "STOP_MARKET"]
    assert stop_fill[-1]["X"] == "FILLED" and stop_fill[-1]["R"] is True
    last_account = [e["a"] for e in events if e["e"] == "ACCOUNT_UPDATE"][-1]
    assert last_account["P"][0]["pa"] == "0.000" and float(last_account["P"][0]["cr"]) < 0


async def test_listen_key_expiry(sim_factory: Any) -> None:
    # the key must outlive the connect, which under two busy test workers has taken > 0.4 s; a key that
    # lapses before the websocket attaches gets no frame at all, so the TTL leaves room for a slow start
    sim = await sim_factory(listen_key_ttl=1.5)
    ex = sim.ccxt()
    await ex.load_markets()
    key = (await ex.fapiPrivatePostListenKey())["listenKey"]
    async with websockets.connect(f"{sim.ws_url}/private/ws?listenKey={key}") as ws:
        expired = await recv(ws, 6.0)
        assert expired == {"e": "listenKeyExpired", "E": expired["E"], "listenKey": key} and isinstance(expired["E"], str)
        await ex.create_order("BTC/USDT:USDT", "market", "buy", 0.002)
        assert await drain(ws) == []                                          # nothing after expiry


async def test_ccxt_pro_watch_ohlcv_and_orders(sim_factory: Any) -> None:
    sim = await sim_factory(paused=False, speed=600.0)
    ex = sim.ccxt_pro()
    candles = [await asyncio.wait_for(ex.watch_ohlcv("BTC/USDT:USDT", "1m"), 10) for _ in range(3)]
    assert all(c[-1][0] % 60_000 == 0 and c[-1][4] > 0 for c in candles)
    watcher = asyncio.ensure_future(ex.watch_orders())
    await asyncio.sleep(0.3)
    await ex.create_order("BTC/USDT:USDT", "market", "buy", 0.002)
    orders = await asyncio.wait_for(watcher, 5)
    assert orders[-1]["status"] == "closed"


async def test_server_pings_and_drops_clients_that_never_pong(sim_factory: Any) -> None:
    sim = await sim_factory(ws_ping_interval=0.1, ws_pong_timeout=0.5)
    async with aiohttp.ClientSession() as session, websockets.connect(sim.ws_url + "/ws") as polite:
        async with session.ws_connect(sim.ws_url + "/ws", autoping=False) as silent:
            msg = await silent.receive(timeout=2)
            assert msg.type == aiohttp.WSMsgType.PING                          # the server pings ...
            while msg.type == aiohttp.WSMsgType.PING:
                msg = await silent.receive(timeout=3)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                aiohttp.WSMsgType.ERROR)                     # ... and gives up
        pong = await polite.ping()
        await asyncio.wait_for(pong, 2)                                       # and answers client pings
        assert polite.state is websockets.State.OPEN
    assert any("no pong" in k["reason"] for k in (await sim.control.state())["kicked"])


async def test_a_slow_reader_is_dropped_without_stalling_the_others(sim_factory: Any) -> None:
    bars = 360
    sim = await sim_factory(speed=float("inf"), ws_max_queue=200, slow_client_timeout=0.5,
                            end_ms=1_746_489_600_000 + bars * 60_000)
    streams = "/".join(f"{s}@{c}" for s in ("btcusdt", "ethusdt", "xrpusdt")
                       for c in ("aggTrade", "bookTicker", "markPrice@1s", "kline_1m"))
    tiny = socket.socket()
    tiny.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)         # so the kernel cannot absorb it all
    tiny.connect(("127.0.0.1", sim.sim.port))
    async with websockets.connect(f"{sim.ws_url}/stream?streams={streams}", sock=tiny, max_queue=4) as slow, \
            websockets.connect(f"{sim.ws_url}/ws/btcusdt@kline_1m") as fast:
        await sim.control.resume()
        closes = []
        while len(closes) < bars:
            frame = await recv(fast, 10)
            if frame["k"]["x"]:
                closes.append(frame["k"]["t"])
        assert closes == [1_746_489_600_000 + i * 60_000 for i in range(bars)]
        with pytest.raises(websockets.ConnectionClosed):
            while True:                                                       # the slow one was cut off
                await asyncio.wait_for(slow.recv(), 5)
    kicked = (await sim.control.state())["kicked"]
    assert len(kicked) == 1 and ("did not read" in kicked[0]["reason"] or "fell behind" in kicked[0]["reason"])


async def test_ccxt_pro_trades_tickers_and_mark_prices(sim_factory: Any) -> None:
    sim = await sim_factory(paused=False, speed=600.0)
    ex = sim.ccxt_pro()
    trades = await asyncio.wait_for(ex.watch_trades("BTC/USDT:USDT"), 10)          # <symbol>@trade
    assert trades[-1]["price"] > 0 and trades[-1]["side"] in ("buy", "sell")
    ticker = await asyncio.wait_for(ex.watch_ticker("ETH/USDT:USDT"), 10)          # <symbol>@ticker
    assert ticker["last"] > 0 and ticker["high"] >= ticker["low"]
    mark = await asyncio.wait_for(ex.watch_mark_price("XRP/USDT:USDT"), 10)        # <symbol>@markPrice
    assert mark["markPrice"] > 0
    book = await asyncio.wait_for(ex.watch_bids_asks(["BTC/USDT:USDT"]), 10)       # <symbol>@bookTicker
    assert book["BTC/USDT:USDT"]["bid"] < book["BTC/USDT:USDT"]["ask"]
