"""Market stream payloads in Binance's shapes (spec §6): kline, aggTrade, bookTicker, markPriceUpdate."""

from __future__ import annotations

from typing import Any

from engine.core.intervals import INTERVAL_MS
from engine.sim.instruments import decimals
from engine.sim.market import Partial, SymbolState, Tick
from engine.sim.numbers import num


def kline(state: SymbolState, interval: str, bar: Partial, closed: bool, time: int, trades: int) -> dict[str, Any]:
    typical = (bar.open + bar.high + bar.low + bar.close) / 4
    last = state.agg_id
    return {"e": "kline", "E": time, "s": state.symbol, "k": {
        "t": bar.open_time, "T": bar.open_time + INTERVAL_MS[interval] - 1, "s": state.symbol, "i": interval,
        "f": max(1, last - trades + 1), "L": last, "o": num(bar.open), "c": num(bar.close), "h": num(bar.high),
        "l": num(bar.low), "v": num(bar.volume), "n": trades, "x": closed, "q": f"{bar.volume * typical:.4f}",
        "V": num(round(bar.volume / 2, 8)), "Q": f"{bar.volume / 2 * typical:.4f}", "B": "0"}}


def agg_trade(state: SymbolState, tick: Tick) -> dict[str, Any]:
    dp = decimals(state.spec.instrument.step_size)
    qty = max(float(state.spec.instrument.step_size), tick.qty)
    return {"e": "aggTrade", "E": tick.time, "a": state.agg_id, "s": state.symbol, "p": f"{tick.price:.{state.price_dp}f}",
            "q": f"{qty:.{dp}f}", "f": state.agg_id * 10, "l": state.agg_id * 10 + 9, "T": tick.time,
            "m": tick.buyer_maker}


def trade(state: SymbolState, tick: Tick) -> dict[str, Any]:
    dp = decimals(state.spec.instrument.step_size)
    qty = max(float(state.spec.instrument.step_size), tick.qty)
    return {"e": "trade", "E": tick.time, "T": tick.time, "s": state.symbol, "t": state.agg_id * 10,
            "p": f"{tick.price:.{state.price_dp}f}", "q": f"{qty:.{dp}f}", "X": "MARKET", "m": tick.buyer_maker}


def ticker(rest: dict[str, Any], time: int, mini: bool) -> dict[str, Any]:
    """24hrTicker / 24hrMiniTicker from the REST ticker/24hr object."""
    event = {"e": "24hrMiniTicker" if mini else "24hrTicker", "E": time, "s": rest["symbol"], "c": rest["lastPrice"],
             "o": rest["openPrice"], "h": rest["highPrice"], "l": rest["lowPrice"], "v": rest["volume"],
             "q": rest["quoteVolume"]}
    if not mini:
        event.update(p=rest["priceChange"], P=rest["priceChangePercent"], w=rest["weightedAvgPrice"],
                     Q=rest["lastQty"], O=rest["openTime"], C=rest["closeTime"], F=rest["firstId"],
                     L=rest["lastId"], n=rest["count"])
    return event


def book_ticker(state: SymbolState, tick: Tick) -> dict[str, Any]:
    inst = state.spec.instrument
    dp = state.price_dp
    qty = f"{max(float(inst.step_size), tick.qty):.{decimals(inst.step_size)}f}"
    return {"e": "bookTicker", "u": state.book_id, "E": tick.time, "T": tick.time, "s": state.symbol,
            "b": f"{tick.price:.{dp}f}", "B": qty, "a": f"{tick.price + float(inst.tick_size):.{dp}f}", "A": qty}


def mark_price(state: SymbolState, time: int, funding_rate: float, funding_time: int) -> dict[str, Any]:
    return {"e": "markPriceUpdate", "E": time, "s": state.symbol, "p": f"{state.mark:.8f}",
            "i": f"{state.price:.8f}", "P": f"{state.mark:.8f}", "r": f"{funding_rate:.8f}", "T": funding_time}
