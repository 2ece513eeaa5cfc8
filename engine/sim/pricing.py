"""Prices the exchange core trades against: the current quote per symbol, the fee schedule and a
deterministic slippage model for orders that take liquidity.

The book is one tick wide around the replayed trade price: bid = last, ask = last + tick. A taker
buys at the ask plus an impact, sells at the bid minus it:
    impact = coefficient x range x sqrt(quantity / volume)   (capped at range)
where range (high - low) and volume are those of the last *closed* bar, so no future data leaks in.
The impact is rounded to the tick away from the taker."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from engine.core.instrument import Instrument

ZERO = Decimal(0)
MONEY = Decimal("0.00000001")


def money(value: Decimal) -> Decimal:
    """USDT amounts are kept to 8 decimals (Binance's commission and balance precision)."""
    return value.quantize(MONEY, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Quote:
    symbol: str
    last: Decimal
    mark: Decimal
    bid: Decimal
    ask: Decimal
    time: int
    bar_range: Decimal = ZERO       # high - low of the last closed bar
    bar_volume: Decimal = ZERO      # base volume of the last closed bar
    step_volume: Decimal = ZERO     # volume traded at this path step: caps resting fills

    @classmethod
    def at(cls, inst: Instrument, last: Decimal, mark: Decimal, time: int, **extra: Decimal) -> Quote:
        return cls(inst.symbol, last, mark, last, last + inst.tick_size, time, **extra)


@dataclass(frozen=True)
class FeeSchedule:
    maker: Decimal = Decimal("0.0002")
    taker: Decimal = Decimal("0.0005")

    def commission(self, quantity: Decimal, price: Decimal, maker: bool) -> Decimal:
        return money(quantity * price * (self.maker if maker else self.taker))


@dataclass(frozen=True)
class SlippageModel:
    coefficient: Decimal = Decimal("0.1")

    def taker_price(self, side: str, quantity: Decimal, quote: Quote, inst: Instrument) -> Decimal:
        base = quote.ask if side == "BUY" else quote.bid
        impact = ZERO
        if self.coefficient and quote.bar_range > 0:
            share = quantity / quote.bar_volume if quote.bar_volume > 0 else Decimal(1)
            impact = min(quote.bar_range, self.coefficient * quote.bar_range * share.sqrt())
        if side == "BUY":
            return inst.round_price(base + impact, direction="up")
        return max(inst.tick_size, inst.round_price(base - impact, direction="down"))
