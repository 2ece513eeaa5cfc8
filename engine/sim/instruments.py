"""The symbols the simulator lists: Binance's trading rules (`Instrument`) plus the risk numbers the
exchange core needs (leverage cap, maintenance margin rate).

BTCUSDT, ETHUSDT and XRPUSDT carry Binance's real filters; any other symbol found in the data gets
rules derived from its price level (documented in the README), so new data files just work."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from engine.core.instrument import Instrument

D = Decimal


@dataclass(frozen=True)
class SymbolSpec:
    instrument: Instrument
    price_precision: int
    quantity_precision: int
    max_leverage: int = 125
    maint_margin_rate: Decimal = D("0.004")   # first bracket only (one bracket per symbol here)
    onboard_ms: int = 1569398400000
    max_open_orders: int = 200

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    @property
    def base_asset(self) -> str:
        return self.instrument.base_asset


def _instrument(symbol: str, base: str, tick: str, min_price: str, max_price: str, step: str, min_qty: str,
                max_qty: str, market_max: str, notional: str) -> Instrument:
    return Instrument(symbol, base, "USDT", tick_size=D(tick), min_price=D(min_price), max_price=D(max_price),
                      step_size=D(step), min_qty=D(min_qty), max_qty=D(max_qty), market_step_size=D(step),
                      market_min_qty=D(min_qty), market_max_qty=D(market_max), min_notional=D(notional))


KNOWN: dict[str, SymbolSpec] = {
    "BTCUSDT": SymbolSpec(_instrument("BTCUSDT", "BTC", "0.10", "0.10", "4529764", "0.001", "0.001", "1000", "120", "100"),
                          price_precision=2, quantity_precision=3, max_leverage=125,
                          maint_margin_rate=D("0.004"), onboard_ms=1569398400000),
    "ETHUSDT": SymbolSpec(_instrument("ETHUSDT", "ETH", "0.01", "0.01", "306177", "0.001", "0.001", "10000", "2000", "20"),
                          price_precision=2, quantity_precision=3, max_leverage=125,
                          maint_margin_rate=D("0.005"), onboard_ms=1569398400000),
    "XRPUSDT": SymbolSpec(_instrument("XRPUSDT", "XRP", "0.0001", "0.0001", "100000", "0.1", "0.1", "10000000", "2000000", "5"),
                          price_precision=4, quantity_precision=1, max_leverage=75,
                          maint_margin_rate=D("0.005"), onboard_ms=1578268800000),
}


def spec_for(symbol: str, typical_price: float) -> SymbolSpec:
    """Binance's spec when known, else rules scaled to the price: ~5 significant price digits and a
    lot worth roughly 1-10 USDT."""
    if symbol in KNOWN:
        return KNOWN[symbol]
    if not math.isfinite(typical_price) or typical_price <= 0:
        raise ValueError(f"{symbol}: cannot derive trading rules from price {typical_price!r}")
    magnitude = math.floor(math.log10(typical_price))
    price_dp = max(0, 4 - magnitude)
    qty_dp = max(0, min(8, magnitude + 1))
    tick = D(1).scaleb(-price_dp)
    step = D(1).scaleb(-qty_dp)
    base = symbol[:-4] if symbol.endswith("USDT") else symbol
    inst = Instrument(symbol, base, "USDT", tick_size=tick, min_price=tick, max_price=D(10) ** (magnitude + 4),
                      step_size=step, min_qty=step, max_qty=step * 10**8, market_step_size=step,
                      market_min_qty=step, market_max_qty=step * 10**7, min_notional=D(5))
    return SymbolSpec(inst, price_precision=price_dp, quantity_precision=qty_dp, max_leverage=50,
                      maint_margin_rate=D("0.01"))


def decimals(step: Decimal) -> int:
    """Number of decimal places of a tick or lot size (0.10 -> 1, 0.001 -> 3, 1 -> 0)."""
    return max(0, -step.normalize().as_tuple().exponent)  # type: ignore[operator]
