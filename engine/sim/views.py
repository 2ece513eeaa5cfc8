"""Public market data in Binance's REST shapes (spec §4.2-4.6): exchangeInfo, klines, 24 h ticker,
premium index, depth, book ticker. Read-only views of `Market`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np

from engine.core.intervals import INTERVAL_MS, align
from engine.sim.errors import BinanceError
from engine.sim.instruments import SymbolSpec, decimals
from engine.sim.market import Market, Partial, SymbolState
from engine.sim.numbers import fixed, num

DAY = INTERVAL_MS["1d"]
EIGHT_HOURS = INTERVAL_MS["8h"]


def exchange_info(specs: dict[str, SymbolSpec], server_time: int, weight_limit: int, order_limit: int) -> dict[str, Any]:
    symbols = []
    for spec in specs.values():
        inst = spec.instrument
        symbols.append({
            "symbol": spec.symbol, "pair": spec.symbol, "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
            "onboardDate": spec.onboard_ms, "status": "TRADING", "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000", "baseAsset": inst.base_asset, "quoteAsset": "USDT",
            "marginAsset": "USDT", "pricePrecision": spec.price_precision,
            "quantityPrecision": spec.quantity_precision, "baseAssetPrecision": 8, "quotePrecision": 8,
            "underlyingType": "COIN", "underlyingSubType": [], "triggerProtect": "0.0500",
            "liquidationFee": "0.012500", "marketTakeBound": "0.05", "maxMoveOrderLimit": 10000,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": str(inst.min_price), "maxPrice": str(inst.max_price),
                 "tickSize": str(inst.tick_size)},
                {"filterType": "LOT_SIZE", "minQty": str(inst.min_qty), "maxQty": str(inst.max_qty),
                 "stepSize": str(inst.step_size)},
                {"filterType": "MARKET_LOT_SIZE", "minQty": str(inst.market_min_qty),
                 "maxQty": str(inst.market_max_qty), "stepSize": str(inst.market_step_size)},
                {"filterType": "MAX_NUM_ORDERS", "limit": spec.max_open_orders},
                {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": spec.max_open_orders},
                {"filterType": "MIN_NOTIONAL", "notional": str(inst.min_notional)},
                {"filterType": "PERCENT_PRICE", "multiplierUp": fixed(inst.percent_up, 4),
                 "multiplierDown": fixed(inst.percent_down, 4), "multiplierDecimal": "4"},
            ],
            # TRAILING_STOP_MARKET is not simulated: leaving it out makes ccxt refuse it locally
            "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
        })
    return {"timezone": "UTC", "serverTime": server_time, "futuresType": "U_MARGINED",
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": weight_limit},
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": order_limit}],
            "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": symbols}


def state_of(market: Market, symbol: str | None) -> SymbolState:
    if not symbol:
        raise BinanceError(-1102, name="symbol")
    state = market.states.get(symbol)
    if state is None:
        raise BinanceError(-1121)
    return state


def current_open(state: SymbolState) -> int:
    """Open time of the base bar in progress (or about to start)."""
    if state.bar is not None:
        return state.bar.open_time
    base = state.tape.base
    if state.index >= len(base):                         # the tape has ended: everything is closed
        return int(base.open_time[-1]) + base.interval_ms
    return int(base.open_time[state.index])


def kline_row(bar: Partial, interval: str, trades: int) -> list[Any]:
    typical = (bar.open + bar.high + bar.low + bar.close) / 4
    return [bar.open_time, num(bar.open), num(bar.high), num(bar.low), num(bar.close), num(bar.volume),
            bar.open_time + INTERVAL_MS[interval] - 1, f"{bar.volume * typical:.4f}", trades,
            num(round(bar.volume / 2, 8)), f"{bar.volume / 2 * typical:.4f}", "0"]


def klines(market: Market, symbol: str | None, interval: str | None, start: int | None, end: int | None,
           limit: int) -> list[list[Any]]:
    state = state_of(market, symbol)
    if not interval or interval not in state.tape.history:
        raise BinanceError(-1120)
    bars = state.tape.history[interval]
    now_open = int(align(current_open(state), interval))
    closed = int(np.searchsorted(bars.open_time, now_open))
    partial = state.partial(interval)
    times = bars.open_time[:closed]
    visible = closed + (partial is not None)
    latest = partial.open_time if partial is not None else (int(times[-1]) if closed else -1)

    def upto(t: int) -> int:               # how many visible bars open at or before t
        return visible if t >= latest else int(np.searchsorted(times, t, side="right"))

    if start is not None:
        lo = int(np.searchsorted(times, start)) if start <= latest else visible
        hi = min(visible if end is None else upto(end), lo + limit)
    else:
        hi = visible if end is None else upto(end)
        lo = max(0, hi - limit)
    per_bar = (INTERVAL_MS[interval] // INTERVAL_MS[market.interval]) * (market.ticks + 1)
    rows = []
    for i in range(lo, hi):
        if i < closed:
            bar = Partial(int(bars.open_time[i]), float(bars.open[i]), float(bars.high[i]), float(bars.low[i]),
                          float(bars.close[i]), float(bars.volume[i]))
            rows.append(kline_row(bar, interval, per_bar))
        else:
            assert partial is not None
            rows.append(kline_row(partial, interval, max(1, state.k + 1)))
    return rows


def ticker_24h(market: Market, state: SymbolState, now: int) -> dict[str, Any]:
    base = state.tape.history[market.interval]
    now_open = current_open(state)
    lo = int(np.searchsorted(base.open_time, now - DAY))
    hi = int(np.searchsorted(base.open_time, now_open))
    partial = state.partial(market.interval)
    opens = float(base.open[lo]) if lo < hi else (partial.open if partial else state.price)
    highs = [float(base.high[lo:hi].max())] if lo < hi else []
    lows = [float(base.low[lo:hi].min())] if lo < hi else []
    volume = float(base.volume[lo:hi].sum())
    if partial is not None:
        highs.append(partial.high)
        lows.append(partial.low)
        volume += partial.volume
    high = max(highs) if highs else state.price
    low = min(lows) if lows else state.price
    dp = state.price_dp
    change = state.price - opens
    count = max(1, (hi - lo) * (market.ticks + 1) + state.k + 1)
    return {"symbol": state.symbol, "priceChange": f"{change:.{dp}f}",
            "priceChangePercent": f"{(change / opens * 100) if opens else 0:.3f}",
            "weightedAvgPrice": f"{(high + low + state.price) / 3:.{dp}f}", "lastPrice": f"{state.price:.{dp}f}",
            "lastQty": num(state.step_qty), "openPrice": num(opens), "highPrice": num(high), "lowPrice": num(low),
            "volume": f"{volume:.3f}", "quoteVolume": f"{volume * (high + low) / 2:.2f}",
            "openTime": now - DAY, "closeTime": now, "firstId": max(1, state.agg_id - count + 1),
            "lastId": state.agg_id, "count": count}


def next_funding(state: SymbolState, now: int) -> tuple[int, float]:
    upcoming = state.tape.next_funding(now)
    if upcoming is not None:
        return upcoming
    return (now // EIGHT_HOURS + 1) * EIGHT_HOURS, 0.0


def premium_index(state: SymbolState, now: int) -> dict[str, Any]:
    when, rate = next_funding(state, now)
    return {"symbol": state.symbol, "markPrice": f"{state.mark:.8f}", "indexPrice": f"{state.price:.8f}",
            "estimatedSettlePrice": f"{state.mark:.8f}", "lastFundingRate": f"{rate:.8f}",
            "interestRate": "0.00010000", "nextFundingTime": when, "time": now}


def depth(state: SymbolState, limit: int, now: int) -> dict[str, Any]:
    """A synthetic book: `limit` levels a tick apart on each side of the one-tick spread, sizes
    growing away from the touch (deterministic)."""
    inst = state.spec.instrument
    tick = inst.tick_size
    bid = Decimal(repr(state.price))
    qty_dp = decimals(inst.step_size)
    unit = max(float(inst.step_size), round(state.step_qty, qty_dp) or float(inst.step_size))
    bids = [[fixed(bid - tick * i, state.price_dp), f"{unit * (1 + i):.{qty_dp}f}"] for i in range(limit)]
    asks = [[fixed(bid + tick * (i + 1), state.price_dp), f"{unit * (1 + i):.{qty_dp}f}"] for i in range(limit)]
    return {"lastUpdateId": state.book_id, "E": now, "T": now, "bids": bids, "asks": asks}


def book_ticker(state: SymbolState, now: int) -> dict[str, Any]:
    inst = state.spec.instrument
    qty = f"{max(float(inst.step_size), state.step_qty):.{decimals(inst.step_size)}f}"
    bid = Decimal(repr(state.price))
    return {"symbol": state.symbol, "bidPrice": fixed(bid, state.price_dp), "bidQty": qty,
            "askPrice": fixed(bid + inst.tick_size, state.price_dp), "askQty": qty, "time": now,
            "lastUpdateId": state.book_id}
