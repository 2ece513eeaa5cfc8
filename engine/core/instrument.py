"""Exchange trading rules for one symbol (Binance's PRICE_FILTER, LOT_SIZE, MARKET_LOT_SIZE,
MIN_NOTIONAL and PERCENT_PRICE filters) and the exact rounding every order size and price obeys."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_UP, Decimal

import msgspec


class Instrument(msgspec.Struct, frozen=True):
    symbol: str
    base_asset: str
    quote_asset: str
    tick_size: Decimal
    min_price: Decimal
    max_price: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    market_step_size: Decimal
    market_min_qty: Decimal
    market_max_qty: Decimal
    min_notional: Decimal
    percent_up: Decimal = Decimal("1.05")     # limit price at most mark * percent_up
    percent_down: Decimal = Decimal("0.95")   # ... and at least mark * percent_down

    def floor_quantity(self, quantity: Decimal, *, market: bool = False) -> Decimal:
        """Largest valid lot not above `quantity` (0 if below the minimum)."""
        step = self.market_step_size if market else self.step_size
        lots = (quantity / step).to_integral_value(rounding=ROUND_DOWN)
        value = (lots * step).quantize(step)
        return value if value >= (self.market_min_qty if market else self.min_qty) else Decimal(0) * step

    def round_price(self, price: Decimal, *, direction: str = "nearest") -> Decimal:
        """Price on the tick grid: `nearest`, `down` or `up`."""
        rounding = {"nearest": ROUND_HALF_EVEN, "down": ROUND_DOWN, "up": ROUND_UP}[direction]
        ticks = (price / self.tick_size).to_integral_value(rounding=rounding)
        return (ticks * self.tick_size).quantize(self.tick_size)

    def is_valid_quantity(self, quantity: Decimal, *, market: bool = False) -> bool:
        step = self.market_step_size if market else self.step_size
        lo = self.market_min_qty if market else self.min_qty
        hi = self.market_max_qty if market else self.max_qty
        return lo <= quantity <= hi and (quantity % step) == 0

    def is_valid_price(self, price: Decimal) -> bool:
        return self.min_price <= price <= self.max_price and (price % self.tick_size) == 0

    def meets_min_notional(self, quantity: Decimal, price: Decimal) -> bool:
        return quantity * price >= self.min_notional
