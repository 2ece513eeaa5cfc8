"""Reconciliation on start (pure): what the store believes against what the exchange holds.

Inputs are two views: the store's (our orders' latest states, the fills, funding and trades it
holds) and the exchange's (open plain and conditional orders, positions, recent fills and funding,
and the answer for every order the store thinks is still working but the exchange does not list).

The rules:
- Orders of ours the exchange lists or reports are adopted in the state it reports (recorded when
  the store lacks that state). A PENDING or UNKNOWN order the exchange has never seen stays
  PENDING: the planner sends it again under the same client id if it still makes sense, or
  abandons it (an entry from an older candle is abandoned).
- Orphans are cancelled: our stop-loss, take-profit or exit orders on a symbol with no position,
  and our unfilled entry orders older than one candle. Our protective orders for a live position
  are adopted. A position without protective orders gets them from the planner.
- Orders not placed by this system (`is_ours` is false) are left alone and logged.
- Fills and funding payments the store lacks are recorded; trades are re-derived from all fills
  (`rebuild`), and the entries and exits the store lacks are recorded.
- A position the fills do not explain (opened before the store knew the account, or by hand) is
  adopted as a trade of its own at the exchange's entry price, exit reason `reconciled` later.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

import msgspec

from engine.core.ids import is_ours
from engine.core.ids import trade_id as make_trade_id
from engine.core.types import ZERO, Fill, FundingPayment, Order, OrderStatus, Position, Record, Side, TradeExit
from engine.execution.book import Book
from engine.execution.ledger import ClosedTrade, OpenTrade
from engine.execution.orders import Leg, leg_of, merge


@dataclass(frozen=True)
class StoreView:
    orders: tuple[Order, ...]                 # latest state of each order of this account
    fill_ids: frozenset[str]                  # record ids of stored fills
    funding_ids: frozenset[str]
    entry_ids: frozenset[str]                 # trade ids with a stored entry
    exit_ids: frozenset[str]                  # ... and with a stored exit


@dataclass(frozen=True)
class ExchangeView:
    open_orders: tuple[Order, ...]
    positions: tuple[Position, ...]
    fills: tuple[Fill, ...]
    funding: tuple[FundingPayment, ...]
    looked_up: dict[str, Order | None]        # our working orders not listed open: the exchange's answer


@dataclass
class Reconciliation:
    orders: dict[str, Order] = field(default_factory=dict)      # ours, as the books start
    record: list[Record] = field(default_factory=list)           # what the store lacks
    cancel: list[tuple[Order, str]] = field(default_factory=list)
    adopted: list[Order] = field(default_factory=list)
    foreign: list[Order] = field(default_factory=list)
    unsent: list[Order] = field(default_factory=list)
    new_fills: int = 0
    new_funding: int = 0
    trades: list[str] = field(default_factory=list)             # notes about trades recorded or adopted

    def summary(self) -> str:
        return (f"{len(self.adopted)} open orders adopted, {len(self.cancel)} orphans to cancel, {len(self.foreign)} "
                f"orders not ours left alone, {len(self.unsent)} recorded but never sent, {self.new_fills} fills and "
                f"{self.new_funding} funding payments recorded, {len(self.trades)} trade records added")


def reconcile(store: StoreView, exchange: ExchangeView, *, now_ms: int, interval_ms: int) -> Reconciliation:
    """Merge the two views; what to record and what to cancel (trades come from `rebuild`)."""
    result = Reconciliation()
    known = {o.client_order_id: o for o in store.orders if is_ours(o.client_order_id)}
    result.orders = dict(known)
    held = {p.symbol: p.quantity for p in exchange.positions if p.quantity != 0}

    def adopt(report: Order) -> Order:
        current = result.orders.get(report.client_order_id)
        merged = merge(current, report if current is None else _keep_signal(report, current))
        if merged is not None:
            result.orders[merged.client_order_id] = merged
            result.record.append(merged)
            return merged
        return current if current is not None else report

    for order in exchange.open_orders:
        if not is_ours(order.client_order_id):
            result.foreign.append(order)
            continue
        state = adopt(order)
        why = _orphan(state, held.get(state.symbol, ZERO), now_ms, interval_ms)
        if why:
            result.cancel.append((state, why))
        else:
            result.adopted.append(state)
    listed = {o.client_order_id for o in exchange.open_orders}
    for cid, order in known.items():
        if cid in listed or order.status.is_final:
            continue
        answer = exchange.looked_up.get(cid, order)
        if answer is None:
            if order.status in (OrderStatus.PENDING, OrderStatus.UNKNOWN):
                result.orders[cid] = msgspec.structs.replace(order, status=OrderStatus.PENDING)
                result.unsent.append(order)
            continue
        adopt(answer)
    for fill in exchange.fills:
        if fill.record_id not in store.fill_ids:
            result.record.append(fill)
            result.new_fills += 1
    for payment in exchange.funding:
        if payment.record_id not in store.funding_ids:
            result.record.append(payment)
            result.new_funding += 1
    return result


def rebuild(books: dict[str, Book], fills: Iterable[Fill], funding: Iterable[FundingPayment], store: StoreView,
            positions: Iterable[Position], *, now_ms: int, received_ms: int) -> tuple[list[Record], list[str]]:
    """Fold every fill into its book (orders already loaded); the trade records the store lacks."""
    records: list[Record] = []
    notes: list[str] = []
    payments = list(funding)
    for fill in sorted(fills, key=lambda f: (f.event_time, _numeric(f.trade_id))):
        book = books.get(fill.symbol)
        if book is None:
            continue
        for event in book.on_fill(fill):
            if isinstance(event, ClosedTrade):
                entry = book.entry_record(received_ms, event.trade)
                if entry is not None and entry.trade_id not in store.entry_ids:
                    records.append(entry)
                if event.trade.trade_id not in store.exit_ids:
                    records.append(closing(book.account, book.symbol, event, payments, received_ms))
                    notes.append(f"{book.symbol}: trade {event.trade.trade_id} closed while we were away")
    for book in books.values():
        trade = book.ledger.trade
        if trade is not None and trade.trade_id in store.entry_ids:
            trade.entry_recorded = True
        entry = book.entry_record(received_ms)
        if entry is not None:
            records.append(entry)
            notes.append(f"{book.symbol}: entry of trade {entry.trade_id} recorded")
    held = {p.symbol: p for p in positions}
    for symbol, book in books.items():
        position = held.get(symbol) or Position(book.account, symbol, ZERO, ZERO, event_time=now_ms)
        book.venue_position = position
        if book.ledger.position != position.quantity:  # the exchange lists open positions only
            notes.append(f"{symbol}: fills give {book.ledger.position}, the exchange holds "
                         f"{position.quantity}; adopting the exchange's position")
            records += adopt_position(book, position, now_ms, received_ms)
    return records, notes


def adopt_position(book: Book, position: Position, now_ms: int, received_ms: int) -> list[Record]:
    """Make the exchange's position the book's (a trade of its own when it is not explained by fills)."""
    trade = None
    if position.quantity != 0:
        side = Side.BUY if position.quantity > 0 else Side.SELL
        key = f"reconciled:{book.symbol}:{now_ms}"
        trade = OpenTrade(make_trade_id(key, book.account), "", side, "", now_ms,
                          entry_qty=abs(position.quantity), entry_cost=abs(position.quantity) * position.entry_price,
                          size=abs(position.quantity))
    book.ledger.adopt(trade, position.quantity)
    for cid, order in book.orders.items():  # the exchange's position includes every fill reported so far
        book.applied[cid] = max(book.applied.get(cid, ZERO), order.filled_quantity)
    entry = book.entry_record(received_ms)
    return [entry] if entry is not None else []


def closing(account: str, symbol: str, closed: ClosedTrade, funding: list[FundingPayment],
            received_ms: int) -> TradeExit:
    """The exit record of a closed trade, with the funding settled on its symbol while it was open."""
    trade = closed.trade
    paid = sum((p.amount for p in funding if p.symbol == symbol and p.account == account
                and trade.opened_at <= p.event_time <= closed.closed_at), ZERO)
    return TradeExit(trade.trade_id, account, symbol, trade.size, closed.exit_price, trade.realized, trade.fees, paid,
                     closed.reason, closed.closed_at, received_ms)


def _orphan(order: Order, position: Decimal, now_ms: int, interval_ms: int) -> str:
    leg = leg_of(order.client_order_id)
    if leg in (Leg.STOP, Leg.TAKE, Leg.EXIT, Leg.CLOSE) and (position == 0 or (position > 0) == (order.side is Side.BUY)):
        return "reduces a position that is not open"
    if leg is Leg.ENTRY and order.filled_quantity == 0 and now_ms - order.event_time >= interval_ms:
        return "unfilled entry older than one candle"
    return ""


def _keep_signal(report: Order, current: Order) -> Order:
    return report if report.signal_id else msgspec.structs.replace(report, signal_id=current.signal_id)


def _numeric(trade_id: str) -> int:
    return int(trade_id) if trade_id.isdigit() else 0
