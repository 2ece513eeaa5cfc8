"""Spec §10: unmodified ccxt.async_support.binanceusdm, set up as in spec §1, through every call of
the conformance checklist (and its error paths) against the simulator on 127.0.0.1."""

from __future__ import annotations

import re

import ccxt
import pytest

from tests.sim.harness import SimHandle

pytestmark = pytest.mark.integration
BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"


async def test_market_data(sim: SimHandle) -> None:
    ex = sim.ccxt()
    markets = await ex.load_markets()
    assert {BTC, ETH, "XRP/USDT:USDT"} <= set(markets)
    btc = markets[BTC]
    assert btc["swap"] and btc["linear"] and btc["active"]
    assert btc["precision"]["price"] == 0.1 and btc["precision"]["amount"] == 0.001
    assert btc["limits"]["cost"]["min"] == 100 and btc["limits"]["market"]["max"] == 120

    import time
    assert abs(await ex.fetch_time() - time.time() * 1000) < 5_000      # auth clock = real time

    bars = await ex.fetch_ohlcv(BTC, "1m", limit=100)
    assert len(bars) == 100
    assert all(b[0] - a[0] == 60_000 for a, b in zip(bars, bars[1:]))   # contiguous, aligned
    assert all(b[3] <= min(b[1], b[4]) <= max(b[1], b[4]) <= b[2] for b in bars)
    state = await sim.control.state()
    assert bars[-1][0] == state["now_ms"] // 60_000 * 60_000            # the unfinished bar is last

    ticker = await ex.fetch_ticker(BTC)
    assert ticker["last"] > 0 and ticker["baseVolume"] > 0 and ticker["timestamp"] == state["now_ms"]
    mark = await ex.fetch_mark_price(BTC)
    assert abs(mark["markPrice"] / ticker["last"] - 1) < 0.01
    funding = await ex.fetch_funding_rate(BTC)
    assert funding["fundingTimestamp"] % (8 * 3_600_000) == 0 and funding["fundingRate"] is not None
    book = await ex.fetch_order_book(BTC, 5)
    assert len(book["bids"]) == 5 and book["bids"][0][0] < book["asks"][0][0]


async def test_account_and_order_lifecycle(sim: SimHandle) -> None:
    ex = sim.ccxt()
    await ex.load_markets()
    balance = await ex.fetch_balance()
    assert balance["USDT"]["free"] == 10_000 and balance["USDT"]["total"] == 10_000
    assert (await ex.set_leverage(5, BTC))["leverage"] == 5

    order = await ex.create_order(BTC, "market", "buy", 0.002, None, {"clientOrderId": "conf-mkt-1"})
    assert order["status"] == "closed" and order["filled"] == 0.002 and order["average"] > 0
    assert order["clientOrderId"] == "conf-mkt-1" and order["reduceOnly"] is False

    with pytest.raises(ccxt.InvalidOrder, match="-4116"):
        await ex.create_order(BTC, "market", "buy", 0.002, None, {"clientOrderId": "conf-mkt-1"})

    assert (await ex.fetch_order(order["id"], BTC))["status"] == "closed"
    assert (await ex.fetch_order(None, BTC, {"clientOrderId": "conf-mkt-1"}))["id"] == order["id"]
    with pytest.raises(ccxt.OrderNotFound, match="-2013"):
        await ex.fetch_order("999", BTC)

    positions = await ex.fetch_positions([BTC])
    assert len(positions) == 1
    assert positions[0]["contracts"] == 0.002 and positions[0]["side"] == "long"
    assert positions[0]["entryPrice"] == order["average"]
    trades = await ex.fetch_my_trades(BTC, limit=10)
    assert [t["order"] for t in trades] == [order["id"]] and trades[0]["fee"]["cost"] > 0

    mark = (await ex.fetch_mark_price(BTC))["markPrice"]
    limit = await ex.create_order(BTC, "limit", "buy", 0.003, mark * 0.965)
    assert limit["status"] == "open" and limit["clientOrderId"].startswith("x-cvBPrNm9")
    assert [o["id"] for o in await ex.fetch_open_orders(BTC)] == [limit["id"]]
    assert (await ex.cancel_order(limit["id"], BTC))["status"] == "canceled"
    with pytest.raises(ccxt.OrderNotFound, match="-2011"):
        await ex.cancel_order(limit["id"], BTC)
    assert await ex.fetch_open_orders() == []

    close = await ex.create_order(BTC, "market", "sell", 0.002, None, {"reduceOnly": True})
    assert close["status"] == "closed" and close["reduceOnly"] is True
    assert await ex.fetch_positions([BTC]) == []


async def test_error_paths(sim: SimHandle) -> None:
    ex = sim.ccxt()
    await ex.load_markets()
    with pytest.raises(ccxt.InvalidOrder, match="-2022"):
        await ex.create_order(BTC, "market", "sell", 0.002, None, {"reduceOnly": True})
    with pytest.raises(ccxt.InsufficientFunds, match="-2019"):
        await ex.create_order(BTC, "market", "buy", 5)          # ~475k notional at 20x > 10k
    with pytest.raises(ccxt.InvalidOrder, match="-4164"):
        await ex.create_order(BTC, "market", "buy", 0.001)      # ~95 USDT < 100
    mark = (await ex.fetch_mark_price(BTC))["markPrice"]
    with pytest.raises(ccxt.BadRequest, match="-4016"):
        await ex.create_order(BTC, "limit", "buy", 0.002, mark * 1.2)
    with pytest.raises(ccxt.OrderNotFillable, match="-5022"):
        await ex.create_order(BTC, "limit", "buy", 0.002, mark * 1.01, {"postOnly": True})

    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        await sim.ccxt(key="no-such-key").fetch_balance()
    with pytest.raises(ccxt.AuthenticationError, match="-1022"):
        await sim.ccxt(secret="wrong-secret").fetch_balance()
    stale = sim.ccxt()
    stale.options["timeDifference"] = 60_000                    # sign with a clock 60 s behind
    with pytest.raises(ccxt.InvalidNonce, match="-1021"):
        await stale.fetch_balance()


async def test_margin_mode_and_leverage_rules(sim: SimHandle) -> None:
    ex = sim.ccxt()
    await ex.load_markets()
    assert (await ex.set_margin_mode("isolated", ETH))["code"] == 200
    with pytest.raises(ccxt.MarginModeAlreadySet):
        await ex.set_margin_mode("isolated", ETH)
    await ex.create_order(ETH, "market", "buy", 0.05)
    with pytest.raises(ccxt.ExchangeError, match="-4048"):
        await ex.set_margin_mode("cross", ETH)
    position = (await ex.fetch_positions([ETH]))[0]
    assert position["marginMode"] == "isolated" and position["collateral"] > 0
    with pytest.raises(ccxt.BadRequest, match="-4028"):
        await ex.set_leverage(100, "XRP/USDT:USDT")            # XRPUSDT allows at most 75x


async def test_listen_key_lifecycle(sim: SimHandle) -> None:
    ex = sim.ccxt()
    key = (await ex.fapiPrivatePostListenKey())["listenKey"]
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert (await ex.fapiPrivatePostListenKey())["listenKey"] == key       # same key while active
    assert (await ex.fapiPrivatePutListenKey())["listenKey"] == key
    assert await ex.fapiPrivateDeleteListenKey() == {}
    with pytest.raises(ccxt.AuthenticationError, match="-1125"):
        await ex.fapiPrivatePutListenKey()


async def test_protective_stops_live_on_the_exchange(sim: SimHandle) -> None:
    """ccxt routes stopLossPrice/takeProfitPrice to /fapi/v1/algoOrder; the stop fires on the
    exchange when the price crosses it, closes the position, and the take-profit can be cancelled."""
    ex = sim.ccxt()
    await ex.load_markets()
    entry = await ex.create_order(BTC, "market", "buy", 0.002)
    price = entry["average"]
    stop = await ex.create_order(BTC, "market", "sell", 0.002, None,
                                 {"stopLossPrice": round(price * 0.98, 1), "reduceOnly": True, "clientOrderId": "sl-1"})
    take = await ex.create_order(BTC, "market", "sell", 0.002, None,
                                 {"takeProfitPrice": round(price * 1.03, 1), "reduceOnly": True})
    assert stop["status"] == "open" and stop["triggerPrice"] == round(price * 0.98, 1)
    assert take["takeProfitPrice"] == round(price * 1.03, 1)
    open_ids = {o["id"] for o in await ex.fetch_open_orders(BTC, params={"trigger": True})}
    assert open_ids == {stop["id"], take["id"]}
    with pytest.raises(ccxt.InvalidOrder, match="-4116"):
        await ex.create_order(BTC, "market", "sell", 0.002, None, {"stopLossPrice": 1000, "clientOrderId": "sl-1"})
    with pytest.raises(ccxt.ExchangeError, match="-2021"):
        await ex.create_order(BTC, "market", "sell", 0.002, None, {"stopLossPrice": round(price * 1.01, 1)})

    await sim.control.set_price("BTCUSDT", round(price * 0.975, 1))            # through the stop
    fired = await ex.fetch_order(stop["id"], BTC, {"trigger": True})
    assert fired["status"] == "closed" and fired["info"]["actualOrderId"]
    child = await ex.fetch_order(None, BTC, {"clientOrderId": "sl-1"})      # the triggered market order
    assert child["status"] == "closed" and child["filled"] == 0.002 and child["info"]["origType"] == "STOP_MARKET"
    assert await ex.fetch_positions([BTC]) == []
    assert (await ex.cancel_order(take["id"], BTC, {"trigger": True}))["id"] == take["id"]
    assert await ex.fetch_open_orders(BTC, params={"trigger": True}) == []


async def test_many_accounts_at_once(sim: SimHandle) -> None:
    """A later issue spreads orders over 10-50 accounts: 50 accounts trade independently."""
    keys = [f"acct-{i:02d}" for i in range(50)]
    for key in keys:
        await sim.control.add_account(key, f"{key}-secret", 1000)
    for i, key in enumerate(keys):
        ex = sim.ccxt(key=key, secret=f"{key}-secret")
        if i == 0:
            await ex.load_markets()
        order = await ex.create_order(ETH, "market", "buy" if i % 2 else "sell", 0.02, None,
                                      {"clientOrderId": "same-id-everywhere"})
        assert order["status"] == "closed"
    summary = {a["key"]: a for a in await sim.control.accounts()}
    assert len(summary) == 51
    amounts = [summary[k]["positions"][0]["amount"] for k in keys]
    assert amounts.count("0.02") == 25 and amounts.count("-0.02") == 25
