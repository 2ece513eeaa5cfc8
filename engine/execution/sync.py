"""Keeping the books in step with the exchange while trading: user-data events as they come, REST
polls when the stream is silent or gone, funding as it settles, and periodic snapshots and checks.

Every path ends in the same idempotent calls of the order manager (`on_order`, `on_fill`,
`on_funding`), so an event seen on the stream and again in a poll changes nothing the second time.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

from engine.core.clock import ExchangeClock, wall_ms
from engine.core.errors import ExchangeError, OrderNotFound
from engine.core.types import ZERO, HealthEvent, Position
from engine.core.user_events import (
    AccountUpdate,
    AlgoUpdate,
    OrderUpdate,
    StreamExpired,
    UserEvent,
)
from engine.execution.manager import OrderManager
from engine.execution.portfolio import Portfolio
from engine.execution.ports import VenuePort
from engine.execution.reconcile import adopt_position

log = logging.getLogger("engine.execution")
FILL_OVERLAP_MS = 60_000  # polls ask for fills from a minute before the last one seen: ids dedupe


class AccountSync:
    def __init__(self, manager: OrderManager, venue: VenuePort, portfolio: Portfolio, clock: ExchangeClock, *,
                 check_every_s: float = 30.0) -> None:
        self.manager = manager
        self.venue = venue
        self.portfolio = portfolio
        self.clock = clock
        self.check_every_s = check_every_s
        self.fills_since: dict[str, int] = {}
        self.funding_since: int | None = None
        self.funding_due = False
        self.problems: list[str] = []
        self._last_check = 0.0
        self._held: list[UserEvent] | None = []  # events that arrive before the books are reconciled
        self._tasks: set[asyncio.Task[None]] = set()
        self._verifying: set[str] = set()
        self.ready = asyncio.Event()

    def release(self) -> int:
        """The books are reconciled: apply the events held meanwhile, then handle events as they come."""
        held, self._held = self._held or [], None
        for event in held:
            self._apply(event)
        self.ready.set()
        return len(held)

    # ---- the user-data stream -----------------------------------------------------------------
    def on_user_event(self, event: UserEvent) -> None:
        if self._held is not None:
            self._held.append(event)
        else:
            self._apply(event)

    def _apply(self, event: UserEvent) -> None:
        if isinstance(event, OrderUpdate):
            self.clock.observe(event.order.event_time)
            self.manager.on_order(event.order)
            if event.fill is not None:
                self.manager.on_fill(event.fill)
        elif isinstance(event, AlgoUpdate):
            self.clock.observe(event.order.event_time)
            if event.algo_status in ("EXPIRED", "REJECTED") and event.reason:
                log.warning("conditional order %s %s: %s", event.order.client_order_id, event.algo_status.lower(),
                            event.reason)
            self.manager.on_order(event.order)
        elif isinstance(event, AccountUpdate):
            self.clock.observe(event.event_time)
            if event.wallet_balance is not None:
                self.portfolio.on_wallet(event.wallet_balance)
            for position in event.positions:
                self._venue_position(position)
            if event.reason == "FUNDING_FEE" and not self.funding_due:
                self.funding_due = True  # the stream does not say which symbol paid: ask the income history
                task = asyncio.get_running_loop().create_task(self._funding_soon(), name="funding poll")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        elif isinstance(event, StreamExpired):
            log.info("listen key expired at %d", event.event_time)

    def _venue_position(self, position: Position) -> None:
        book = self.manager.books.get(position.symbol)
        if book is not None:
            book.venue_position = position

    # ---- REST ----------------------------------------------------------------------------------
    async def poll(self, reason: str) -> None:
        """Open orders, our working orders by client id, fills since the last seen, funding if due."""
        await self.ready.wait()
        log.debug("polling the exchange (%s)", reason)
        open_orders = [o for symbol in self.manager.books for o in await self.venue.fetch_open_orders(symbol)]
        listed = {o.client_order_id for o in open_orders}
        for order in open_orders:
            self.clock.observe(order.event_time)
            self.manager.on_order(order)
        for book in self.manager.books.values():
            for order in list(book.orders.values()):
                if order.status.is_open and order.client_order_id not in listed:
                    try:
                        found = await self.manager.fetch_state(order)
                    except OrderNotFound:
                        continue  # UNKNOWN ones are settled by the manager's own resolve
                    self.manager.on_order(found)
        await self.poll_fills()
        if self.funding_due or reason == "requested":
            await self.poll_funding()

    async def poll_fills(self) -> None:
        for symbol, book in self.manager.books.items():
            since = self.fills_since.get(symbol)
            last = book.ledger.last_fill_time
            start = max(since or 0, last - FILL_OVERLAP_MS) if last else since
            fills = await self.venue.fetch_fills(symbol, start)
            await self.manager.ingest_fills(fills)

    async def poll_funding(self) -> None:
        since = self.funding_since
        asked_at = self.clock.now_ms()
        payments = await self.venue.fetch_funding(since)
        self.manager.on_funding(payments)
        self.manager.funding.read_to(self.manager.books, asked_at)
        if payments:
            self.funding_since = max(p.event_time for p in payments)
        self.funding_due = False

    def verify(self, symbol: str) -> None:
        """Put a doubted position to the exchange (once at a time per symbol)."""
        if symbol in self._verifying:
            return
        self._verifying.add(symbol)
        task = asyncio.get_running_loop().create_task(self._verify(symbol), name=f"verify {symbol}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _verify(self, symbol: str) -> None:
        book = self.manager.books[symbol]
        log.warning("%s: verifying the position with the exchange (%s)", symbol, book.doubt)
        try:
            await self.ready.wait()
            for attempt in range(5):
                try:
                    await self.poll_fills()  # a fill in flight is the usual reason
                    positions = await self.venue.fetch_positions()
                    break
                except ExchangeError as exc:
                    log.warning("%s: verifying the position failed (%s), attempt %d", symbol, exc, attempt + 1)
                    await self.clock.sleep(1.0 + attempt)
            else:
                return
            now = self.clock.now_ms()
            held = next((p for p in positions if p.symbol == symbol), None) or \
                Position(book.account, symbol, ZERO, ZERO, event_time=now)
            book.venue_position = held
            if book.ledger.position != held.quantity:
                log.error("%s: our fills give a position of %s, the exchange holds %s: adopting the exchange's",
                          symbol, book.ledger.position, held.quantity)
                self.manager.record(*adopt_position(book, held, now, wall_ms()))
            book.doubt = ""
        finally:
            self._verifying.discard(symbol)
            self.manager.step(symbol)

    async def _funding_soon(self) -> None:
        try:
            await self.poll_funding()
        except ExchangeError as exc:
            log.warning("funding poll failed (%s); the next REST poll asks again", exc)

    async def check(self, *, force: bool = False) -> list[str]:
        """Compare our positions and unrealised PnL with the exchange's (every `check_every_s`)."""
        if not force and self.clock.monotonic() - self._last_check < self.check_every_s:
            return []
        self._last_check = self.clock.monotonic()
        try:
            equity = await self.venue.fetch_equity()
            positions = await self.venue.fetch_positions()
        except ExchangeError as exc:
            log.warning("consistency check skipped: %s", exc)
            return []
        self.portfolio.on_equity(equity)
        now = self.clock.now_ms()
        for position in positions:
            self._venue_position(position)
            if position.mark_price > 0:
                self.portfolio.observe_mark(position.symbol, position.mark_price, max(now, position.event_time))
        holdings = [b.holding() for b in self.manager.books.values()]
        problems = self.portfolio.check(holdings, positions, now)
        for problem in problems:
            log.warning("consistency: %s", problem)
            self.manager.record(HealthEvent(f"{self.manager.account}:pnl:{now}:{_digest(problem)}", "pnl",
                                             "divergence", problem, event_time=now, received_time=wall_ms()))
        if any("position" in p for p in problems):
            await self.poll_fills()  # a missed fill is the usual cause: fetch what we lack
        self.problems = problems
        return problems


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()
