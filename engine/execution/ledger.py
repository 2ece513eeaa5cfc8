"""Round trips from fills (pure): the exact fold that turns one symbol's executions into trades.

A trade starts when the position leaves zero and ends when it is back at zero. Every fill in
between belongs to it, whichever order made it (entry, stop, take-profit, exit, liquidation, a
manual order). Its numbers are the exchange's own, summed exactly in `Decimal`:

- realised PnL = the sum of the fills' `realizedPnl`;
- fees = the sum of every fill's commission, entry and exit;
- entry price and quantity = the volume-weighted price and total quantity of the opening order's
  fills; exit price = the volume-weighted price of the fills that reduced the position.

The trade is named after the signal of the order that opened it (`trade_id(signal, account)`), so
re-folding the same fills after a restart yields the same trade ids and the same records. A fill
that crosses zero (an order that is not reduce-only, larger than the position) closes the trade
and opens the next one with the remainder; the whole commission stays with the closing trade.
Fills are applied once each (by trade id); a repeat changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from engine.core.ids import trade_id as make_trade_id
from engine.core.types import ZERO, ExitReason, Fill, Side
from engine.execution.orders import exit_reason


@dataclass
class OpenTrade:
    trade_id: str
    signal_id: str
    side: Side
    entry_cid: str
    opened_at: int
    entry_qty: Decimal = ZERO
    entry_cost: Decimal = ZERO
    entry_fee: Decimal = ZERO
    size: Decimal = ZERO               # largest absolute position reached
    realized: Decimal = ZERO
    fees: Decimal = ZERO
    exit_qty: Decimal = ZERO
    exit_cost: Decimal = ZERO
    last_cid: str = ""
    fill_ids: set[str] = field(default_factory=set)
    entry_recorded: bool = False

    @property
    def entry_price(self) -> Decimal:
        return self.entry_cost / self.entry_qty if self.entry_qty else ZERO


@dataclass(frozen=True)
class ClosedTrade:
    trade: OpenTrade
    closed_at: int
    reason: ExitReason

    @property
    def exit_price(self) -> Decimal:
        t = self.trade
        return t.exit_cost / t.exit_qty if t.exit_qty else ZERO


@dataclass(frozen=True)
class Opened:
    trade: OpenTrade


LedgerEvent = Opened | ClosedTrade
SignalOf = Callable[[str], str | None]  # client id -> signal id of our order, None if unknown


class TradeLedger:
    """One symbol on one account. `signal_of` names the trade after the opening order's signal."""

    def __init__(self, account: str, symbol: str, signal_of: SignalOf) -> None:
        self.account = account
        self.symbol = symbol
        self.signal_of = signal_of
        self.position = ZERO
        self.trade: OpenTrade | None = None
        self.seen: dict[str, int] = {}  # trade ids folded in -> their time (pruned: see `forget`)
        self.last_fill_time = 0

    def apply(self, fill: Fill) -> list[LedgerEvent]:
        """Fold one fill in; the trades it opened or closed."""
        if fill.trade_id in self.seen or fill.symbol != self.symbol or fill.account != self.account:
            return []
        self.seen[fill.trade_id] = fill.event_time
        self.last_fill_time = max(self.last_fill_time, fill.event_time)
        signed = fill.quantity * fill.side.sign
        events: list[LedgerEvent] = []
        if self.position == 0:
            events.append(self._open(fill, fill.quantity))
            self.position = signed
            return events
        trade = self.trade
        assert trade is not None
        trade.fill_ids.add(fill.trade_id)
        trade.realized += fill.realized_pnl
        trade.fees += fill.fee
        if (self.position > 0) == (signed > 0):  # adds to the position
            if fill.client_order_id == trade.entry_cid:
                trade.entry_qty += fill.quantity
                trade.entry_cost += fill.notional
                trade.entry_fee += fill.fee
            self.position += signed
            trade.size = max(trade.size, abs(self.position))
            return events
        closing = min(fill.quantity, abs(self.position))
        trade.exit_qty += closing
        trade.exit_cost += closing * fill.price
        trade.last_cid = fill.client_order_id
        self.position += signed
        if self.position == 0 or (self.position > 0) == (signed > 0):
            events.append(ClosedTrade(trade, fill.event_time, exit_reason(fill.client_order_id)))
            self.trade = None
            if self.position != 0:  # crossed zero: the rest opens the next trade, without the commission
                rest = abs(self.position)
                events.append(self._open(fill, rest, fee=ZERO))
        return events

    def _open(self, fill: Fill, quantity: Decimal, fee: Decimal | None = None) -> Opened:
        signal = self.signal_of(fill.client_order_id) if fill.client_order_id else None
        key = signal or f"order:{fill.exchange_order_id}"
        paid = fill.fee if fee is None else fee
        trade = OpenTrade(make_trade_id(key, self.account), signal or "", fill.side, fill.client_order_id,
                          fill.event_time, entry_qty=quantity, entry_cost=quantity * fill.price, entry_fee=paid,
                          size=quantity, realized=fill.realized_pnl if fee is None else ZERO, fees=paid,
                          fill_ids={fill.trade_id})
        self.trade = trade
        return Opened(trade)

    def adopt(self, trade: OpenTrade | None, position: Decimal) -> None:
        """Take the exchange's position when the fills do not explain it: a trade of its own, or flat
        (the closing fills of the open trade could not be found; its exit stays unrecorded)."""
        self.trade = trade
        self.position = position
        if trade is not None:
            self.seen.update(dict.fromkeys(trade.fill_ids, trade.opened_at))

    def forget(self, before_ms: int, keep_ms: int = 3_600_000) -> None:
        """Drop the ids of fills older than `before_ms`, except the last `keep_ms` before the newest
        fill: a poll asks from the newest fill seen, however old it is, and must recognise it."""
        cutoff = min(before_ms, self.last_fill_time - keep_ms)
        current = self.trade.fill_ids if self.trade is not None else set()
        self.seen = {t: at for t, at in self.seen.items() if at >= cutoff or t in current}
