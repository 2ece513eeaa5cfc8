"""REST market-data semantics and the /admin helpers tests rely on."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp
import ccxt
import pytest

from tests.sim.harness import SimHandle

pytestmark = pytest.mark.integration
START = 1_746_489_600_000


async def get(sim: SimHandle, path: str, **params: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session:
        async with session.get(sim.rest_url + path, params={k: str(v) for k, v in params.items()}) as resp:
            return resp.status, await resp.json()


async def test_klines_window_semantics(sim: SimHandle) -> None:
    await sim.control.step(bars=2, steps=None)
    now = (await sim.control.state())["now_ms"]
    _, latest = await get(sim, "/fapi/v1/klines", symbol="BTCUSDT", interval="1m", limit=3)
    assert now == START + 2 * 60_000 - 1                                          # just closed bar 2
    assert [k[0] for k in latest] == [START + 60_000 * i for i in (-1, 0, 1)]
    await sim.control.step(steps=1)                                               # the next bar opens
    _, latest = await get(sim, "/fapi/v1/klines", symbol="BTCUSDT", interval="1m", limit=3)
    assert [k[0] for k in latest] == [START + 60_000 * i for i in (0, 1, 2)]
    assert latest[-1][1] == latest[-1][4] and latest[-1][8] == 1                  # unfinished: one trade so far
    _, since = await get(sim, "/fapi/v1/klines", symbol="BTCUSDT", interval="1m", startTime=START - 90_000, limit=2)
    assert [k[0] for k in since] == [START - 60_000, START]                       # first open >= startTime
    _, until = await get(sim, "/fapi/v1/klines", symbol="BTCUSDT", interval="1m", endTime=START - 1, limit=2)
    assert [k[0] for k in until] == [START - 120_000, START - 60_000]
    _, hours = await get(sim, "/fapi/v1/klines", symbol="BTCUSDT", interval="1h", limit=500)
    assert len(hours) == 500 and hours[-1][0] == START and hours[-2][0] == START - 3_600_000
    _, xrp = await get(sim, "/fapi/v1/klines", symbol="XRPUSDT", interval="1m", limit=5)
    assert len(xrp) == 5                                                          # derived from the 1h file
    assert (await get(sim, "/fapi/v1/klines", symbol="BTCUSDT", interval="7m"))[1]["code"] == -1120
    assert (await get(sim, "/fapi/v1/klines", symbol="BTCUSDT", interval="1m", limit=1501))[1]["code"] == -1130
    assert (await get(sim, "/fapi/v1/klines", symbol="DOGEUSDT", interval="1m"))[1]["code"] == -1121


async def test_clock_control_and_candle_history(sim: SimHandle) -> None:
    state = await sim.control.state()
    assert state["paused"] and state["now_ms"] == START
    stepped = await sim.control.step(until=START + 5 * 60_000 - 1)
    assert stepped["now_ms"] == START + 5 * 60_000 - 1 and stepped["bars_closed"]["1m"] == 15
    candles = await sim.control.candles("ETHUSDT", "1m")
    assert [c[0] for c in candles] == [START + i * 60_000 for i in range(5)]
    assert len(await sim.control.candles("ETHUSDT", "1m", history=True)) > 5
    await sim.control.speed("max")
    await sim.control.resume()
    await sim.control.pause()
    assert (await sim.control.state())["now_ms"] > stepped["now_ms"]


async def test_price_injection_drives_stops_and_liquidation(sim: SimHandle) -> None:
    await sim.control.add_account("risky", "risky-secret", 100)
    ex = sim.ccxt(key="risky", secret="risky-secret")
    await ex.load_markets()
    await ex.create_order("BTC/USDT:USDT", "market", "buy", 0.02)              # ~1900 notional at 20x
    account = await sim.control.account("risky")
    liquidation = Decimal(account["positions"][0]["liquidation_price"])
    assert Decimal(0) < liquidation < Decimal(account["positions"][0]["entry_price"])
    rest = (await ex.fetch_positions())[0]
    assert abs(rest["liquidationPrice"] - float(liquidation)) < 0.01
    await sim.control.set_price("BTCUSDT", mark=float(liquidation) + 5)
    assert (await sim.control.account("risky"))["ledger"]["liquidations"] == 0
    await sim.control.set_price("BTCUSDT", prices=[float(liquidation) + 2, float(liquidation) - 5])
    after = await sim.control.account("risky")
    assert after["ledger"]["liquidations"] == 1 and after["positions"] == []
    assert after["trades"][-1]["realized_pnl"].startswith("-")
    led = after["ledger"]
    assert Decimal(after["wallet"]) == (Decimal(led["deposits"]) + Decimal(led["realized"]) - Decimal(led["fees"])
                                        + Decimal(led["funding"]) - Decimal(led["liquidation_fees"])
                                        + Decimal(led["insurance"]))


async def test_account_totals_are_wallet_plus_unrealised(sim: SimHandle) -> None:
    ex = sim.ccxt()
    await ex.load_markets()
    await ex.create_order("ETH/USDT:USDT", "market", "sell", 0.5)
    await sim.control.step(bars=3)
    raw = await ex.fapiPrivateV3GetAccount()
    assert Decimal(raw["totalMarginBalance"]) == Decimal(raw["totalWalletBalance"]) + Decimal(raw["totalUnrealizedProfit"])
    assert raw["assets"][0]["updateTime"] > 0
    risk = (await ex.fapiPrivateV3GetPositionRisk())[0]
    assert Decimal(risk["positionAmt"]) == Decimal("-0.5") and Decimal(risk["notional"]) < 0
    assert Decimal(risk["unRealizedProfit"]) == Decimal(raw["totalUnrealizedProfit"])
    with pytest.raises(ccxt.BadRequest):
        await ex.fetch_my_trades("ETH/USDT:USDT", params={"startTime": 0, "endTime": 8 * 86_400_000})
    income = await ex.fapiPrivateGetIncome()
    assert {i["incomeType"] for i in income} == {"TRANSFER", "COMMISSION"}
    assert sum(Decimal(i["income"]) for i in income) == Decimal(raw["totalWalletBalance"])
    history = await ex.fetch_funding_rate_history("ETH/USDT:USDT", limit=3)
    assert len(history) == 3 and history[-1]["timestamp"] <= (await sim.control.state())["now_ms"]


async def test_synthetic_source_serves_known_regimes(sim_factory: Any) -> None:
    sim = await sim_factory(source="synthetic", regimes="normal:24,crash:24", synthetic_history_hours=24,
                            symbols=("BTCUSDT",), speed=float("inf"))
    state = await sim.control.state()
    assert state["symbols"] == ["BTCUSDT"] and state["end_ms"] - state["start_ms"] == 24 * 3_600_000
    await sim.control.resume()
    ex = sim.ccxt()
    bars = await ex.fetch_ohlcv("BTC/USDT:USDT", "1h", limit=48)
    while (await sim.control.state())["finished"] is False:
        await sim.control.step(bars=600)
    bars = await ex.fetch_ohlcv("BTC/USDT:USDT", "1h", limit=48)
    assert len(bars) == 48 and bars[-1][4] / bars[-25][4] - 1 < -0.15            # the crash day
