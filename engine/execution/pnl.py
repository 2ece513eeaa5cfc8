"""Unrealised PnL you can trust: the mark price first, then fallbacks, with cross-checks.

Binance values positions at the mark price, so that is the primary source (the markPrice stream
or `premiumIndex` over REST). When it is stale the last trade price (aggTrade stream or ticker)
stands in, then the websocket price (the close of the in-progress kline). Every quote is kept
with its exchange time; a source is *fresh* while its last quote is younger than `max_age_ms`.

Checks a user can read in the health report:
- consistency: the largest relative difference between fresh sources of one symbol; beyond
  `divergence_threshold` (default 0.5 %) the symbol is flagged, which usually means one feed is
  stuck or wrong;
- a health score per source in [0, 1]: the share of symbols it currently prices freshly, minus
  a penalty for the errors it raised recently.

Unrealised PnL = (price − entry price) × signed quantity, exact in `Decimal`, as Binance computes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from engine.core.types import Position


class PriceSource(StrEnum):
    MARK = "mark"
    LAST_TRADE = "last_trade"
    WEBSOCKET = "websocket"


FALLBACK_ORDER = (PriceSource.MARK, PriceSource.LAST_TRADE, PriceSource.WEBSOCKET)


@dataclass(frozen=True)
class Quote:
    symbol: str
    price: Decimal
    source: PriceSource
    time: int


@dataclass(frozen=True)
class Valuation:
    """A position valued at one quote."""

    symbol: str
    quantity: Decimal
    entry_price: Decimal
    quote: Quote | None
    unrealized_pnl: Decimal

    @property
    def source(self) -> PriceSource | None:
        return self.quote.source if self.quote else None


@dataclass(frozen=True)
class Consistency:
    symbol: str
    prices: dict[PriceSource, Decimal]
    max_divergence: Decimal
    flagged: bool


@dataclass
class _SourceStats:
    errors: list[int] = field(default_factory=list)  # exchange times of recent errors


class PnlCalculator:
    def __init__(self, *, max_age_ms: int = 10_000, divergence_threshold: Decimal = Decimal("0.005"),
                 error_window_ms: int = 300_000) -> None:
        if max_age_ms <= 0:
            raise ValueError(f"max_age_ms must be positive, got {max_age_ms}")
        self.max_age_ms = max_age_ms
        self.divergence_threshold = divergence_threshold
        self.error_window_ms = error_window_ms
        self._quotes: dict[tuple[str, PriceSource], Quote] = {}
        self._stats = {source: _SourceStats() for source in PriceSource}

    def update(self, symbol: str, source: PriceSource, price: Decimal, time: int) -> None:
        """A new price from one source; older-than-held quotes are ignored."""
        if not (price.is_finite() and price > 0):
            self.error(source, time)
            raise ValueError(f"{source} price for {symbol} must be a positive number, got {price}")
        held = self._quotes.get((symbol, source))
        if held is None or time >= held.time:
            self._quotes[(symbol, source)] = Quote(symbol, price, source, time)

    def error(self, source: PriceSource, time: int) -> None:
        """Record that a source failed (a REST error, a bad frame), for its health score."""
        errors = self._stats[source].errors
        errors.append(time)
        if len(errors) > 1000:
            del errors[:500]

    def quote(self, symbol: str, now: int) -> Quote | None:
        """The best fresh quote, in fallback order; the freshest stale one if none is fresh."""
        for source in FALLBACK_ORDER:
            q = self._quotes.get((symbol, source))
            if q is not None and now - q.time <= self.max_age_ms:
                return q
        stale = [q for s in FALLBACK_ORDER if (q := self._quotes.get((symbol, s))) is not None]
        return max(stale, key=lambda q: q.time) if stale else None

    def value(self, position: Position, now: int) -> Valuation:
        q = self.quote(position.symbol, now)
        pnl = (q.price - position.entry_price) * position.quantity if q and position.quantity else Decimal(0)
        return Valuation(position.symbol, position.quantity, position.entry_price, q, pnl)

    def consistency(self, symbol: str, now: int) -> Consistency:
        prices = {s: q.price for s in FALLBACK_ORDER
                  if (q := self._quotes.get((symbol, s))) is not None and now - q.time <= self.max_age_ms}
        if len(prices) < 2:
            return Consistency(symbol, prices, Decimal(0), False)
        lo, hi = min(prices.values()), max(prices.values())
        divergence = (hi - lo) / lo
        return Consistency(symbol, prices, divergence, divergence > self.divergence_threshold)

    def source_health(self, symbols: list[str], now: int) -> dict[PriceSource, float]:
        """Per source: share of `symbols` it prices freshly, minus 0.1 per recent error (floor 0)."""
        scores: dict[PriceSource, float] = {}
        for source in PriceSource:
            fresh = sum(1 for s in symbols if (q := self._quotes.get((s, source))) is not None
                        and now - q.time <= self.max_age_ms)
            recent = sum(1 for t in self._stats[source].errors if now - t <= self.error_window_ms)
            coverage = fresh / len(symbols) if symbols else 0.0
            scores[source] = max(0.0, coverage - 0.1 * recent)
        return scores
