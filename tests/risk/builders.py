"""Hand-built candles and exchange rules shared by the risk and account tests."""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal as D

from engine.core.instrument import Instrument
from engine.core.types import Candle

HOUR = 3_600_000
T0 = 1_700_000_000_000 // HOUR * HOUR   # 2023-11-14 22:00 UTC, on the hour

BTC = Instrument("BTCUSDT", "BTC", "USDT", tick_size=D("0.10"), min_price=D("0.10"), max_price=D("4529764"),
                 step_size=D("0.001"), min_qty=D("0.001"), max_qty=D("1000"), market_step_size=D("0.001"),
                 market_min_qty=D("0.001"), market_max_qty=D("120"), min_notional=D("100"))
ETH = Instrument("ETHUSDT", "ETH", "USDT", tick_size=D("0.01"), min_price=D("0.01"), max_price=D("306177"),
                 step_size=D("0.001"), min_qty=D("0.001"), max_qty=D("10000"), market_step_size=D("0.001"),
                 market_min_qty=D("0.001"), market_max_qty=D("2000"), min_notional=D("20"))


def candles(closes: Sequence[float], *, start: int = T0, interval: str = "1h", symbol: str = "TEST",
            step_ms: int = HOUR) -> list[Candle]:
    """One candle per close, `step_ms` apart, opening at `start`."""
    return [Candle(symbol, interval, start + i * step_ms, start + (i + 1) * step_ms - 1, c, c, c, c, 1.0)
            for i, c in enumerate(closes)]


def geometric(first: float, last: float, steps: int = 24) -> list[float]:
    """`steps` + 1 closes moving from `first` to `last` by a constant log return."""
    r = math.log(last / first) / steps
    return [first * math.exp(r * i) for i in range(steps)] + [last]


def zigzag(amplitude: float, steps: int = 24, base: float = 100.0) -> list[float]:
    """Closes whose log returns alternate +amplitude, -amplitude (net change 0 over an even count)."""
    out, level = [base], math.log(base)
    for i in range(steps):
        level += amplitude if i % 2 == 0 else -amplitude
        out.append(math.exp(level))
    return out
