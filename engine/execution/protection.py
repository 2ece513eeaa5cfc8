"""Sizes and protective prices (pure).

Entry size: a fixed fraction of equity as margin, times the leverage:
    notional = equity x `equity_fraction` x leverage,  quantity = notional / reference price
with leverage = min(`leverage`, the instrument's maximum). The risk manager then applies the
regime's caps and the exchange's lot rules (`RiskManager.decide`), so this is only the request.

Protective orders, from the entry's average fill price and the signal's ATR:
    long:  stop-loss = entry - `stop_atr` x ATR,  take-profit = entry + `take_atr` x ATR
    short: stop-loss = entry + `stop_atr` x ATR,  take-profit = entry - `take_atr` x ATR
Defaults 1.5 x ATR and 3 x ATR (reward twice the risk). Prices go on the tick grid away from the
entry (a stop never ends up tighter than asked, a target never nearer), and at least one tick
from it. Both are reduce-only, for the position's quantity, triggered on the last price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine.core.instrument import Instrument
from engine.core.types import ZERO, Side


@dataclass(frozen=True)
class ProtectionRule:
    stop_atr: Decimal = Decimal("1.5")
    take_atr: Decimal = Decimal("3")

    def __post_init__(self) -> None:
        if not (self.stop_atr > 0 and self.take_atr > 0):
            raise ValueError(f"ATR multiples must be > 0, got stop {self.stop_atr}, take {self.take_atr}")

    def prices(self, side: Side, entry: Decimal, atr: float, instrument: Instrument) -> tuple[Decimal, Decimal]:
        """(stop-loss, take-profit) trigger prices for a position opened on `side` at `entry`."""
        if not (entry > 0 and atr > 0):
            raise ValueError(f"protective prices need entry > 0 and ATR > 0, got {entry} and {atr}")
        distance = Decimal(repr(atr))
        tick = instrument.tick_size
        if side is Side.BUY:
            stop = instrument.round_price(entry - self.stop_atr * distance, direction="down")
            take = instrument.round_price(entry + self.take_atr * distance, direction="up")
            stop, take = min(stop, entry - tick), max(take, entry + tick)
        else:
            stop = instrument.round_price(entry + self.stop_atr * distance, direction="up")
            take = instrument.round_price(entry - self.take_atr * distance, direction="down")
            stop, take = max(stop, entry + tick), min(take, entry - tick)
        return max(stop, instrument.tick_size), max(take, instrument.tick_size)


@dataclass(frozen=True)
class EntrySizing:
    equity_fraction: Decimal = Decimal("0.05")
    leverage: int = 3

    def __post_init__(self) -> None:
        if not (0 < self.equity_fraction <= 1) or self.leverage < 1:
            raise ValueError(f"equity fraction must be in (0, 1] and leverage >= 1, got "
                             f"{self.equity_fraction} and {self.leverage}")

    def quantity(self, equity: Decimal, price: Decimal, max_leverage: int | None = None) -> tuple[Decimal, int]:
        """(base quantity, leverage) before the risk manager's caps and lot rounding."""
        leverage = min(self.leverage, max_leverage) if max_leverage else self.leverage
        if equity <= 0 or price <= 0:
            return ZERO, leverage
        return equity * self.equity_fraction * leverage / price, leverage
