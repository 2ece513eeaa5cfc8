"""Before trading: read the exchange, reconcile it with the store (`reconcile.py`, pure), record
what the store lacks, load the books, cancel orphans, and log what happened.

The store's side arrives as `StoredState` (read by the composition root through
`engine.store.state`); the exchange's is read here through the venue port.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import msgspec

from engine.core.clock import wall_ms
from engine.core.errors import OrderNotFound
from engine.core.ids import is_ours
from engine.core.types import Fill, FundingPayment, Order, SignalRecord
from engine.execution.book import Cancel
from engine.execution.manager import KEEP_MS, OrderManager
from engine.execution.reconcile import (
    ExchangeView,
    Reconciliation,
    StoreView,
    rebuild,
    reconcile,
)
from engine.execution.sync import FILL_OVERLAP_MS, AccountSync

log = logging.getLogger("engine.reconcile")
PAGE = 1000


@dataclass(frozen=True)
class StoredState:
    """What the store holds for one account."""

    view: StoreView
    fills: tuple[Fill, ...]
    funding: tuple[FundingPayment, ...]
    signals: tuple[SignalRecord, ...]
    closed_trades: int
    regimes: dict[str, str] = field(default_factory=dict)  # signal id -> the regime its entry was decided under


async def reconcile_account(manager: OrderManager, sync: AccountSync, stored: StoredState, *,
                            interval_ms: int) -> Reconciliation:
    venue, books, now = manager.venue, manager.books, manager.clock.now_ms()
    open_orders = [o for symbol in books for o in await venue.fetch_open_orders(symbol)]  # 1 weight each, not 40
    positions = await venue.fetch_positions()
    listed = {o.client_order_id for o in open_orders}
    looked_up: dict[str, Order | None] = {}
    for order in stored.view.orders:
        if is_ours(order.client_order_id) and not order.status.is_final and order.client_order_id not in listed \
                and order.symbol in books:
            try:
                looked_up[order.client_order_id] = await manager.fetch_state(order)
            except OrderNotFound:
                looked_up[order.client_order_id] = None
    fills = await _recent_fills(manager, stored)
    funding_since = _funding_since(stored)
    funding = await venue.fetch_funding(funding_since) if funding_since is not None else []
    exchange = ExchangeView(tuple(open_orders), tuple(positions), tuple(fills), tuple(funding), looked_up)
    result = reconcile(stored.view, exchange, now_ms=now, interval_ms=interval_ms)

    for order in result.orders.values():
        book = books.get(order.symbol)
        if book is not None:
            book.orders[order.client_order_id] = order
            if order.exchange_order_id:
                book.by_exchange_id[order.exchange_order_id] = order.client_order_id
    for signal in stored.signals:
        if signal.symbol in books:
            books[signal.symbol].signals[signal.signal_id] = signal
            if signal.signal_id in stored.regimes:
                books[signal.symbol].regimes.setdefault(signal.signal_id, stored.regimes[signal.signal_id])
    named = await _name_fills(manager, [f for f in fills if f.record_id not in stored.view.fill_ids])
    result.record = [r for r in result.record if not isinstance(r, Fill)] + named
    manager.funding.add((*stored.funding, *funding))
    everything = {f.record_id: f for f in (*stored.fills, *named)}
    trades, notes = rebuild(books, everything.values(), manager.funding.payments.values(), stored.view, positions,
                            now_ms=now, received_ms=wall_ms())
    result.record += trades
    result.trades = notes
    for book in books.values():
        book.prune(now - KEEP_MS)
    if result.record:
        await manager.recorder.record(*result.record)
    for position in positions:
        if position.symbol in books:
            books[position.symbol].venue_position = position
    sync.funding_since = max((p.event_time for p in manager.funding.payments.values()), default=funding_since)
    for book in books.values():
        sync.fills_since[book.symbol] = book.ledger.last_fill_time
    for order, why in result.cancel:
        book = books.get(order.symbol)
        if book is not None:
            manager.run_command(book, Cancel(order, f"reconciliation: {why}"))
    _log(result)
    return result


async def _recent_fills(manager: OrderManager, stored: StoredState) -> list[Fill]:
    """Fills since a minute before the last stored one of each symbol (or our first order there)."""
    found: list[Fill] = []
    for symbol in manager.books:
        filled = [f.event_time for f in stored.fills if f.symbol == symbol]
        ordered = [o.event_time for o in stored.view.orders if o.symbol == symbol and is_ours(o.client_order_id)]
        if not filled and not ordered:
            continue  # never traded here: an open position is adopted as it stands
        since = (max(filled) if filled else min(ordered)) - FILL_OVERLAP_MS
        while True:
            page = await manager.venue.fetch_fills(symbol, since, PAGE)
            found += page
            if len(page) < PAGE:
                break
            since = max(f.event_time for f in page)
    return found


def _funding_since(stored: StoredState) -> int | None:
    if stored.funding:
        return max(p.event_time for p in stored.funding) - FILL_OVERLAP_MS
    times = [o.event_time for o in stored.view.orders if is_ours(o.client_order_id)]
    return min(times) - FILL_OVERLAP_MS if times else None


async def _name_fills(manager: OrderManager, fills: list[Fill]) -> list[Fill]:
    """REST fills carry the exchange's order id only: add our client id (asking the exchange if needed)."""
    named = []
    for fill in fills:
        book = manager.books.get(fill.symbol)
        cid = fill.client_order_id or (book.by_exchange_id.get(fill.exchange_order_id) if book else None)
        if cid is None and book is not None:
            order = await manager.venue.fetch_order_by_id(fill.symbol, fill.exchange_order_id)
            cid = order.client_order_id
            book.by_exchange_id[fill.exchange_order_id] = cid
        named.append(msgspec.structs.replace(fill, client_order_id=cid or ""))
    return named


def _log(result: Reconciliation) -> None:
    for order in result.foreign:
        log.info("reconciliation: order %s on %s was not placed by this engine: left alone", order.client_order_id,
                 order.symbol)
    for order, why in result.cancel:
        log.info("reconciliation: cancelling %s on %s: %s", order.client_order_id, order.symbol, why)
    for order in result.unsent:
        log.info("reconciliation: %s on %s was recorded but never reached the exchange", order.client_order_id,
                 order.symbol)
    for note in result.trades:
        log.info("reconciliation: %s", note)
    log.info("reconciliation: %s", result.summary())

