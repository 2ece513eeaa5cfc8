"""Every fault kind, observed by a real client (websockets, aiohttp or ccxt), and counted."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import ccxt
import pytest
import websockets

from engine.sim.admin import is_loopback
from engine.sim.faults import VARIANTS
from tests.sim.harness import SimHandle

pytestmark = pytest.mark.integration
BTC = "BTC/USDT:USDT"


async def counters(sim: SimHandle) -> dict[str, int]:
    return (await sim.control.faults())["counters"]


async def closed(ws: Any, timeout: float = 3.0) -> int | None:
    """Wait until the server ends the connection; return the close code (None if aborted)."""
    with pytest.raises(websockets.ConnectionClosed) as info:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    return info.value.rcvd.code if info.value.rcvd else None


async def test_drop_connections_now_and_by_target(sim: SimHandle) -> None:
    async with websockets.connect(sim.ws_url + "/ws/btcusdt@kline_1m") as btc, \
            websockets.connect(sim.ws_url + "/ws/ethusdt@kline_1m") as eth:
        await sim.control.fault(kind="ws_drop", stream="ethusdt@*")
        assert await closed(eth) is None                                      # aborted: no close frame
        await sim.control.step(steps=1)
        assert json.loads(await asyncio.wait_for(btc.recv(), 3))["s"] == "BTCUSDT"
        await sim.control.fault(kind="ws_drop", mode="close")
        assert await closed(btc) == 1001
    assert (await counters(sim))["ws_drop"] == 2


async def test_drop_every_n_seconds_stops_by_itself(sim: SimHandle) -> None:
    await sim.control.fault(kind="ws_drop", every=0.15, times=3)
    drops = 0
    deadline = time.monotonic() + 5
    while drops < 3 and time.monotonic() < deadline:
        async with websockets.connect(sim.ws_url + "/ws") as ws:
            await closed(ws, 2.0)
            drops += 1
    assert drops == 3 and (await counters(sim))["ws_drop"] == 3
    await asyncio.sleep(0.4)
    async with websockets.connect(sim.ws_url + "/ws") as ws:                   # the loop has ended
        await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 1}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 2)) == {"result": [], "id": 1}


async def test_withheld_pongs_make_the_client_give_up(sim: SimHandle) -> None:
    await sim.control.fault(kind="ws_withhold_pongs", path="/ws*")
    async with websockets.connect(sim.ws_url + "/ws", ping_interval=0.2, ping_timeout=0.4) as ws:
        with pytest.raises(websockets.ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 5)
        assert info.value.sent is not None and info.value.sent.code == 1011     # keepalive ping timeout
    assert (await counters(sim))["ws_withhold_pongs"] >= 1


async def test_stall_keeps_the_socket_open_but_silent(sim: SimHandle) -> None:
    async with websockets.connect(sim.ws_url + "/ws/btcusdt@aggTrade") as ws:
        fault = await sim.control.fault(kind="ws_stall", stream="btcusdt@*")
        await sim.control.step(steps=5)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.3)
        await asyncio.wait_for(await ws.ping(), 2)                            # still connected
        await sim.control.clear_faults(fault["id"])
        await sim.control.step(steps=1)
        assert json.loads(await asyncio.wait_for(ws.recv(), 3))["e"] == "aggTrade"
    assert (await counters(sim))["ws_stall"] == 1


@pytest.mark.parametrize("variant", VARIANTS)
async def test_malformed_frames(sim: SimHandle, variant: str) -> None:
    async with websockets.connect(sim.ws_url + "/stream?streams=btcusdt@kline_1m") as ws:
        await sim.control.fault(kind="ws_malformed", variant=variant, stream="btcusdt@kline_1m", count=1)
        await sim.control.step(steps=2)
        bad, good = await asyncio.wait_for(ws.recv(), 3), json.loads(await asyncio.wait_for(ws.recv(), 3))
        assert good["stream"] == "btcusdt@kline_1m" and good["data"]["e"] == "kline"
        if variant == "bad_json":
            with pytest.raises(ValueError):
                json.loads(bad)
            return
        frame = json.loads(bad)
        k = frame["data"].get("k", {})
        if variant == "nan_price":
            assert k["c"] == "NaN"
        elif variant == "negative_price":
            assert float(k["c"]) < 0
        elif variant == "high_below_low":
            assert float(k["h"]) < float(k["l"])
        elif variant == "backwards_time":
            assert frame["data"]["E"] < good["data"]["E"] - 3_000_000
        elif variant == "unknown_stream":
            assert frame["stream"] == "nosuchsymbol@unknownChannel"
        third = json.loads(await asyncio.wait_for(ws.recv(), 3))                # count=1: back to normal
        assert third["data"]["k"]["c"] != "NaN"
    assert (await counters(sim))["ws_malformed"] == 1


async def test_http_errors_on_one_endpoint_for_n_requests(sim: SimHandle) -> None:
    ex = sim.ccxt()
    await ex.load_markets()
    await sim.control.fault(kind="http_error", path="/fapi/v1/ticker/24hr", count=2)
    for _ in range(2):
        with pytest.raises(ccxt.ExchangeNotAvailable):
            await ex.fetch_ticker(BTC)
    assert (await ex.fetch_ticker(BTC))["last"] > 0
    await sim.control.fault(kind="http_error", path="/fapi/v1/klines", status=503, body="json", count=1)
    with pytest.raises(ccxt.OperationFailed, match="-1001"):
        await ex.fetch_ohlcv(BTC, "1m", limit=5)
    assert (await counters(sim))["http_error"] == 3


async def test_a_fault_can_hit_one_account_with_a_binance_code(sim: SimHandle) -> None:
    await sim.control.add_account("other-key", "other-secret", 1000)
    mine, other = sim.ccxt(), sim.ccxt("other-key", "other-secret")
    await asyncio.gather(mine.load_markets(), other.load_markets())
    await sim.control.fault(kind="http_error", path="/fapi/v1/order", method="POST", key="other-*", status=400,
                            body="json", code=-2019)
    with pytest.raises(ccxt.InsufficientFunds, match="-2019"):
        await other.create_order(BTC, "market", "buy", 0.002)
    assert (await mine.create_order(BTC, "market", "buy", 0.002))["status"] == "closed"
    assert (await other.fetch_balance())["info"]["totalWalletBalance"]   # other endpoints untouched
    orders = (await sim.control.account(sim.key))["orders"]
    assert [(o["side"], o["status"], o["executed"]) for o in orders] == [("BUY", "FILLED", "0.002")]
    assert (await sim.control.account("other-key"))["orders"] == []


async def test_injected_429_and_418_carry_retry_after(sim: SimHandle) -> None:
    ex = sim.ccxt()
    await ex.load_markets()
    await sim.control.fault(kind="rate_limit", path="/fapi/v1/order", method="POST", count=1, retry_after=7)
    with pytest.raises(ccxt.DDoSProtection):
        await ex.create_order(BTC, "market", "buy", 0.002)
    assert await ex.fetch_positions([BTC]) == []                              # refused, not placed
    await sim.control.fault(kind="rate_limit", path="/fapi/v1/time", ban=True, retry_after=60, count=1)
    async with aiohttp.ClientSession() as session:
        async with session.get(sim.rest_url + "/fapi/v1/time") as resp:
            assert resp.status == 418 and resp.headers["Retry-After"] == "60"
            assert (await resp.json())["code"] == -1003
    assert (await counters(sim))["rate_limit"] == 2


async def test_request_weight_limit_answers_429_then_bans(sim_factory: Any) -> None:
    sim = await sim_factory(weight_limit=12)
    async with aiohttp.ClientSession() as session:
        statuses = []
        for _ in range(16):
            async with session.get(sim.rest_url + "/fapi/v1/klines",
                                   params={"symbol": "BTCUSDT", "interval": "1m", "limit": "500"}) as resp:
                statuses.append((resp.status, resp.headers.get("Retry-After"), resp.headers.get("X-MBX-USED-WEIGHT-1M")))
    assert [s for s, _, _ in statuses[:2]] == [200, 200] and statuses[1][2] == "10"   # weight 5 each
    assert statuses[2][0] == 429 and 1 <= int(statuses[2][1]) <= 60
    assert statuses[-1][0] == 418 and int(statuses[-1][1]) == 120


async def test_timeout_after_the_order_was_accepted(sim: SimHandle) -> None:
    ex = sim.ccxt(timeout=400)
    await ex.load_markets()
    await sim.control.fault(kind="timeout_after_accept", path="/fapi/v1/order", method="POST", delay=1.5, count=1)
    with pytest.raises(ccxt.RequestTimeout):
        await ex.create_order(BTC, "market", "buy", 0.002, None, {"clientOrderId": "lost-answer"})
    found = await ex.fetch_order(None, BTC, {"clientOrderId": "lost-answer"})   # the order did happen
    assert found["status"] == "closed" and found["filled"] == 0.002
    with pytest.raises(ccxt.InvalidOrder, match="-4116"):                       # a blind retry is refused
        await ex.create_order(BTC, "market", "buy", 0.002, None, {"clientOrderId": "lost-answer"})
    await sim.control.fault(kind="timeout_after_accept", path="/fapi/v1/order", method="POST", mode="cut", count=1)
    with pytest.raises(ccxt.NetworkError):
        await ex.create_order(BTC, "market", "sell", 0.002, None, {"clientOrderId": "cut-answer", "reduceOnly": True})
    assert (await ex.fetch_order(None, BTC, {"clientOrderId": "cut-answer"}))["status"] == "closed"
    assert (await counters(sim))["timeout_after_accept"] == 2


async def test_latency_and_clock_skew(sim: SimHandle) -> None:
    ex = sim.ccxt()
    await sim.control.fault(kind="latency", path="/fapi/v1/time", delay=0.3, count=1)
    started = time.monotonic()
    server_time = await ex.fetch_time()
    assert time.monotonic() - started >= 0.3
    await sim.control.fault(kind="clock_skew", offset_ms=120_000)
    skewed = await ex.fetch_time()
    assert 115_000 < skewed - server_time < 125_000
    with pytest.raises(ccxt.InvalidNonce, match="-1021"):                        # signed with local time
        await ex.fetch_balance()
    synced = sim.ccxt(options={"adjustForTimeDifference": True})
    await synced.load_markets()                                                 # measures the offset
    assert (await synced.fetch_balance())["USDT"]["total"] == 10_000
    state = await sim.control.faults()
    assert state["counters"]["latency"] == 1 and state["counters"]["clock_skew"] >= 2


async def test_restart_keeps_state_and_refuses_for_a_moment(sim: SimHandle) -> None:
    ex = sim.ccxt()
    await ex.load_markets()
    await ex.create_order(BTC, "market", "buy", 0.002, None, {"clientOrderId": "before-restart"})
    async with websockets.connect(sim.ws_url + "/ws/btcusdt@kline_1m") as ws:
        await sim.control.restart(down=0.8)
        assert await closed(ws) is None
    with pytest.raises((OSError, websockets.InvalidHandshake)):
        async with websockets.connect(sim.ws_url + "/ws", open_timeout=1):
            pass
    await asyncio.sleep(1.0)
    positions = await ex.fetch_positions([BTC])
    assert positions[0]["contracts"] == 0.002                                     # state intact
    with pytest.raises(ccxt.InvalidOrder, match="-4116"):
        await ex.create_order(BTC, "market", "buy", 0.002, None, {"clientOrderId": "before-restart"})
    assert (await counters(sim))["restart"] == 1 and (await sim.control.state())["restarts"] == 1


async def test_probability_faults_are_reproducible(sim: SimHandle) -> None:
    async def pattern() -> list[int]:
        fault = await sim.control.fault(kind="http_error", path="/fapi/v1/ping", probability=0.5, seed=42)
        async with aiohttp.ClientSession() as session:
            statuses = []
            for _ in range(20):
                async with session.get(sim.rest_url + "/fapi/v1/ping") as resp:
                    statuses.append(resp.status)
        await sim.control.clear_faults(fault["id"])
        return statuses

    first, second = await pattern(), await pattern()
    assert first == second and 0 < first.count(503) < 20
    faults = (await sim.control.faults())["faults"]
    assert [f["fired"] for f in faults] == [first.count(503)] * 2 and faults[0]["matched"] == 20


async def test_fault_requests_are_validated(sim: SimHandle) -> None:
    for spec, text in (({"kind": "meteor"}, "kind must be one of"), ({"kind": "latency", "dealy": 1}, "'dealy'"),
                       ({"kind": "ws_malformed", "variant": "x"}, "variant must be"),
                       ({"kind": "http_error", "probability": 2}, "probability")):
        with pytest.raises(RuntimeError, match=text):
            await sim.control.fault(**spec)


def test_admin_answers_loopback_peers_only() -> None:
    class Peer:
        def __init__(self, remote: str) -> None:
            self.remote = remote
    assert is_loopback(Peer("127.0.0.1")) and is_loopback(Peer("::1"))  # type: ignore[arg-type]
    assert not is_loopback(Peer("192.168.1.5")) and not is_loopback(Peer(""))  # type: ignore[arg-type]
