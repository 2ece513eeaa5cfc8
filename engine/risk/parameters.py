"""The original system's risk table: what each market regime allows.

| regime | risk multiplier | max leverage | position ratio | concurrent orders |
|---|---|---|---|---|
| NORMAL | 1.0 | 20x | 50% | 5 |
| HIGH_VOLATILITY | 0.6 | 10x | 30% | 3 |
| LOW_VOLATILITY | 1.2 | 25x | 60% | 6 |
| CRASH | 0.3 | 5x | 20% | 2 |
| RALLY | 0.8 | 15x | 40% | 4 |

How each column is applied to an order is stated in `engine.risk.sizing`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType

import msgspec

from engine.risk.regime import Regime


class RiskParameters(msgspec.Struct, frozen=True):
    regime: Regime
    risk_multiplier: Decimal      # scales the signal's requested quantity
    max_leverage: int             # cap on the leverage set for the order (and on exposure / equity)
    position_ratio: Decimal       # cap on gross exposure / equity after the order
    max_concurrent_orders: int    # cap on open positions + working entry orders, this one included

    def as_dict(self) -> dict[str, str | int]:
        return {"regime": str(self.regime), "risk_multiplier": str(self.risk_multiplier),
                "max_leverage": self.max_leverage, "position_ratio": str(self.position_ratio),
                "max_concurrent_orders": self.max_concurrent_orders}


def _row(regime: Regime, multiplier: str, leverage: int, ratio: str, orders: int) -> RiskParameters:
    return RiskParameters(regime, Decimal(multiplier), leverage, Decimal(ratio), orders)


RISK_TABLE: Mapping[Regime, RiskParameters] = MappingProxyType({
    Regime.NORMAL: _row(Regime.NORMAL, "1.0", 20, "0.50", 5),
    Regime.HIGH_VOLATILITY: _row(Regime.HIGH_VOLATILITY, "0.6", 10, "0.30", 3),
    Regime.LOW_VOLATILITY: _row(Regime.LOW_VOLATILITY, "1.2", 25, "0.60", 6),
    Regime.CRASH: _row(Regime.CRASH, "0.3", 5, "0.20", 2),
    Regime.RALLY: _row(Regime.RALLY, "0.8", 15, "0.40", 4),
})


def get_risk_parameters(regime: Regime, table: Mapping[Regime, RiskParameters] = RISK_TABLE) -> RiskParameters:
    """The row for a regime (the original's `get_risk_parameters()` for the current regime)."""
    return table[regime]


def most_conservative(regimes: Iterable[Regime], table: Mapping[Regime, RiskParameters] = RISK_TABLE,
                      default: Regime = Regime.NORMAL) -> Regime:
    """The strictest of several regimes (lowest leverage, then ratio, then concurrency, then multiplier):
    the book-wide view when symbols are in different regimes."""
    ordered = sorted(set(regimes), key=lambda r: (table[r].max_leverage, table[r].position_ratio,
                                                   table[r].max_concurrent_orders, table[r].risk_multiplier))
    return ordered[0] if ordered else default
