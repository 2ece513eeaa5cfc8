"""The account's value on exchange time (pure): wallet from the exchange, positions from the books,
prices from `PnlCalculator` (mark price first, then last trade, then the websocket price).

- `snapshot(now)` values every position and the account: `Position` records with the mark used
  and the unrealised PnL, and an `EquitySnapshot` (equity = wallet + unrealised PnL), for the store.
- `check(exchange_positions, now)` compares our unrealised PnL with the exchange's own
  (`positionRisk`) and our price sources with each other; a gap beyond the threshold is a problem
  named in the result (the engine logs it and records a health event).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from engine.core.types import ZERO, EquitySnapshot, Position
from engine.execution.pnl import PnlCalculator, PriceSource


@dataclass
class Holding:
    """What the books say about one symbol's position (quantity, entry) and the exchange's entry."""

    symbol: str
    quantity: Decimal
    entry_price: Decimal
    leverage: int = 1


@dataclass
class Portfolio:
    account: str
    pnl: PnlCalculator
    snapshot_every_ms: int = 60_000
    tolerance: Decimal = Decimal("0.01")          # absolute uPnL gap (quote currency) before it is a problem
    wallet: Decimal | None = None
    available: Decimal = ZERO
    last_snapshot_ms: int = 0
    recorded_flat: set[str] = field(default_factory=set)

    def on_wallet(self, wallet: Decimal, available: Decimal | None = None) -> None:
        self.wallet = wallet
        if available is not None:
            self.available = available

    def on_equity(self, snapshot: EquitySnapshot) -> None:
        self.on_wallet(snapshot.wallet_balance, snapshot.available_balance)

    def due(self, now_ms: int) -> bool:
        return now_ms - self.last_snapshot_ms >= self.snapshot_every_ms

    def value(self, holding: Holding, now_ms: int, received_ms: int) -> Position:
        valuation = self.pnl.value(Position(self.account, holding.symbol, holding.quantity, holding.entry_price),
                                   now_ms)
        mark = valuation.quote.price if valuation.quote is not None else ZERO
        return Position(self.account, holding.symbol, holding.quantity, holding.entry_price, mark,
                        valuation.unrealized_pnl, holding.leverage, event_time=now_ms, received_time=received_ms)

    def equity(self, holdings: list[Holding], now_ms: int) -> Decimal | None:
        if self.wallet is None:
            return None
        return self.wallet + sum((self.value(h, now_ms, 0).unrealized_pnl for h in holdings if h.quantity), ZERO)

    def snapshot(self, holdings: list[Holding], now_ms: int, received_ms: int) -> list[Position | EquitySnapshot]:
        """Position records (open ones, and a closed one once) and the equity snapshot, if the wallet is known.

        A second snapshot at the same exchange time (the final one at a stop, when exchange time has not moved
        since the last periodic one) is stamped 1 ms later: its record ids would otherwise equal the earlier
        snapshot's, and the store, which writes a record id once, would keep the stale one."""
        if now_ms <= self.last_snapshot_ms:
            now_ms = self.last_snapshot_ms + 1
        self.last_snapshot_ms = now_ms
        records: list[Position | EquitySnapshot] = []
        unrealized = ZERO
        for holding in holdings:
            if holding.quantity == 0:
                if holding.symbol in self.recorded_flat:
                    continue
                self.recorded_flat.add(holding.symbol)
            else:
                self.recorded_flat.discard(holding.symbol)
            position = self.value(holding, now_ms, received_ms)
            unrealized += position.unrealized_pnl
            records.append(position)
        if self.wallet is not None:
            records.append(EquitySnapshot(self.account, self.wallet, unrealized, self.available, now_ms, received_ms))
        return records

    def check(self, holdings: list[Holding], exchange: list[Position], now_ms: int) -> list[str]:
        """Problems: our position or unrealised PnL differs from the exchange's; price sources disagree."""
        problems = []
        theirs = {p.symbol: p for p in exchange}
        for holding in holdings:
            other = theirs.get(holding.symbol)
            quantity = other.quantity if other is not None else ZERO
            if quantity != holding.quantity:
                problems.append(f"{holding.symbol}: position {holding.quantity} here, {quantity} on the exchange")
                continue
            if other is None or quantity == 0 or other.mark_price <= 0:
                continue
            ours = (other.mark_price - holding.entry_price) * quantity
            if abs(ours - other.unrealized_pnl) > self.tolerance:
                problems.append(f"{holding.symbol}: unrealised PnL {ours:.8f} at the exchange's mark "
                                f"{other.mark_price}, exchange says {other.unrealized_pnl}")
        for holding in holdings:
            verdict = self.pnl.consistency(holding.symbol, now_ms)
            if verdict.flagged:
                shown = ", ".join(f"{s}={p}" for s, p in verdict.prices.items())
                problems.append(f"{holding.symbol}: price sources diverge by {verdict.max_divergence:.4%} ({shown})")
        return problems

    def price(self, symbol: str, now_ms: int) -> Decimal | None:
        quote = self.pnl.quote(symbol, now_ms)
        return quote.price if quote is not None else None

    def observe_mark(self, symbol: str, price: Decimal, time_ms: int) -> None:
        self.pnl.update(symbol, PriceSource.MARK, price, time_ms)
