"""The order manager: a thin async driver around the pure books (`engine.execution.book`).

Reports come in (order updates and fills from the user-data stream or REST polls, REST answers
to our own calls); each is merged into its symbol's book, recorded through the trade recorder and
followed by `plan()`, whose commands run here as tasks, one at a time per client id:

- Place: the order is recorded PENDING and *durable* (`record_now`: one fdatasync in this thread)
  before it is sent, so a crash between send and answer leaves a trace to resolve. A lost answer
  (`OrderStateUnknown`) makes it UNKNOWN.
  -4116 (the client id exists) means an earlier send landed: it is fetched, not resent.
  A definitive rejection makes it REJECTED, logged with the exchange's reason; the loop goes on.
- Resolve: an UNKNOWN order is asked for by client id (after `resolve_delay`, so a request still
  in flight can land). Found: adopted. Definitively absent: PENDING again, and `plan()` resends it
  under the same client id or abandons it.
- Cancel: protective orders are conditional (algo) orders until they trigger; "not open" means it
  already triggered, filled or expired, so it is resolved instead.

Closed trades are recorded with the funding paid or received while they were open, asked from the
exchange's income history for exactly that window (`TradeExit.funding`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from engine.core.clock import Clock, wall_ms
from engine.core.errors import (
    DuplicateClientOrderId,
    ExchangeError,
    OrderNotFound,
    OrderRejected,
    OrderStateUnknown,
    TemporaryExchangeError,
)
from engine.core.ids import is_ours
from engine.core.types import (
    Fill,
    FundingPayment,
    HealthEvent,
    Order,
    OrderStatus,
    OrderType,
    SignalRecord,
    TradeExit,
)
from engine.execution.book import Abandon, Book, Cancel, Command, Place, Resolve
from engine.execution.funding import FundingLedger
from engine.execution.ledger import ClosedTrade, LedgerEvent
from engine.execution.orders import Leg, is_conditional, leg_of, order_id, transition
from engine.execution.ports import Recordable, RecorderPort, VenuePort

log = logging.getLogger("engine.execution")
Gate = Callable[[Book, Order], Order | str]  # the risk check of an exit or protective order: as sized, or why not
KEEP_MS = 3_600_000  # finished orders and fill ids are kept an hour (exchange time) after they settle
Enter = Callable[[Book, SignalRecord], Order | None]


class OrderManager:
    def __init__(self, venue: VenuePort, recorder: RecorderPort, clock: Clock, books: dict[str, Book], *,
                 interval_ms: int, enter: Enter | None = None, gate: Gate | None = None,
                 on_closed: Callable[[TradeExit], None] | None = None, verify: Callable[[str], None] | None = None,
                 resolve_delay: float = 0.5, retry_delay: float = 1.0) -> None:
        """`enter` sizes an entry (the trader's), `gate` risk-checks exits and protective orders, `on_closed`
        counts closed trades, `verify` puts a doubted position to the exchange (the account sync's)."""
        self.venue = venue
        self.account = venue.account
        self.recorder = recorder
        self.clock = clock
        self.books = books
        self.enter: Enter = enter or (lambda _book, _signal: None)
        self.interval_ms = interval_ms
        self.resolve_delay = resolve_delay
        self.retry_delay = retry_delay
        self.on_closed = on_closed
        self.verify = verify
        self.gate: Gate = gate or (lambda _book, order: order)  # entries are sized by `enter`; the rest pass here
        self.accepting = True
        self.funding = FundingLedger()
        self.counts: dict[str, int] = {}
        self._in_flight: set[str] = set()
        self._cooling: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._foreign_logged: set[str] = set()

    # ---- reports in ---------------------------------------------------------------------------
    def on_order(self, report: Order) -> None:
        """An order report from anywhere (stream, poll, an answer); ours go into the books."""
        book = self.books.get(report.symbol)
        if not is_ours(report.client_order_id) or book is None:
            if report.client_order_id not in self._foreign_logged:
                self._foreign_logged.add(report.client_order_id)
                log.info("order %s on %s was not placed by this engine: left alone", report.client_order_id,
                         report.symbol)
            self.record(report)
            return
        merged = book.on_order(report)
        if merged is not None:
            self.record(merged)
            self._trade_records(book)
            self.step(book.symbol)

    def on_fill(self, fill: Fill) -> None:
        """A fill whose client id is known (stream fills carry it; `ingest_fills` resolves REST ones)."""
        book = self.books.get(fill.symbol)
        if book is None:
            self.record(fill)
            return
        if fill.trade_id in book.ledger.seen:
            return
        self.record(fill)
        self._trade_records(book, book.on_fill(fill))
        self.step(book.symbol)

    async def ingest_fills(self, fills: Iterable[Fill]) -> None:
        """Fills from REST (no client id): name their orders first, then apply in exchange order."""
        for fill in sorted(fills, key=lambda f: (f.event_time, _numeric(f.trade_id))):
            book = self.books.get(fill.symbol)
            if book is None or fill.trade_id in book.ledger.seen:
                continue
            if not fill.client_order_id:
                cid = book.by_exchange_id.get(fill.exchange_order_id)
                if cid is None:
                    order = await self.venue.fetch_order_by_id(fill.symbol, fill.exchange_order_id)
                    self.on_order(order)
                    cid = order.client_order_id
                fill = _with_cid(fill, cid)
            self.on_fill(fill)

    def on_funding(self, payments: Iterable[FundingPayment]) -> list[FundingPayment]:
        new = self.funding.add(payments)
        if new:
            self.record(*new)
        return new

    def on_signal(self, signal: SignalRecord) -> str:
        """An admitted signal: what the book makes of it (entry, close and reverse, or ignored)."""
        book = self.books.get(signal.symbol)
        if book is None:
            return f"ignored: {signal.symbol} is not traded here"
        if not self.accepting:
            return "ignored: shutting down"
        outcome = book.on_signal(signal)
        self.step(signal.symbol)
        return outcome

    # ---- planning and commands -----------------------------------------------------------------
    def run_command(self, book: Book, command: Command) -> bool:
        """Run one command now unless one for the same order is in flight; whether it started."""
        cid = command.order.client_order_id
        if cid in self._in_flight or self._cooling.get(cid, 0.0) > self.clock.monotonic():
            return False
        self._in_flight.add(cid)
        task = asyncio.get_running_loop().create_task(self._run(book, command), name=f"order {cid}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    def step(self, symbol: str) -> None:
        book = self.books[symbol]
        now = self.clock.now_ms()
        fresh = self._fresh if self.accepting else (lambda _signal: False)
        for command in book.plan(now, fresh, lambda signal: self.enter(book, signal)):
            self.run_command(book, command)
        if book.doubt and self.verify is not None:
            self.verify(symbol)

    def _fresh(self, signal: SignalRecord) -> bool:
        return self.clock.now_ms() - signal.event_time < self.interval_ms

    async def _run(self, book: Book, command: Command) -> None:
        cid = command.order.client_order_id
        try:
            if isinstance(command, Place):
                await self._place(book, command)
            elif isinstance(command, Resolve):
                await self._resolve(book, command.order)
            elif isinstance(command, Cancel):
                await self._cancel(book, command)
            else:
                self._abandon(book, command)
        except TemporaryExchangeError as exc:
            self._cool(cid, f"{type(command).__name__.lower()} {cid}: {exc}")
        except Exception:
            log.exception("%s of %s failed unexpectedly", type(command).__name__, cid)
            self._cool(cid, "unexpected error")
        finally:
            self._in_flight.discard(cid)
        self.step(book.symbol)

    async def _place(self, book: Book, command: Place) -> None:
        order = command.order
        if order.reduce_only:  # exits and protective orders meet the risk manager here (entries in `enter`)
            verdict = self.gate(book, order)
            if isinstance(verdict, str):
                self._abandon(book, Abandon(order, f"risk: {verdict}"))
                return
            order = book.orders[order.client_order_id] = verdict
        elif not await self._leverage(book, order):
            return
        if order.received_time == 0:
            order = book.orders[order.client_order_id] = msgspec.structs.replace(order, received_time=wall_ms())
        signal = book.signals.get(order.signal_id) if leg_of(order.client_order_id) is Leg.ENTRY else None
        # durable before it can exist on the exchange (with its signal: a restart needs both); written in
        # this thread, one fdatasync (~0.2 ms), rather than handed to the journal's writer and back
        self.recorder.record_now(*(r for r in (signal, order) if r is not None))
        self._count("sent")
        log.info("sending %s %s %s %s on %s (%s)", leg_name(order), order.side, order.quantity, order.type,
                 order.symbol, command.why)
        try:
            answer = await self.venue.create_order(order)
        except OrderStateUnknown as exc:
            self._count("unknown")
            log.warning("order %s: outcome unknown (%s); asking the exchange by client id", order.client_order_id, exc)
            self._local(book, transition(order, OrderStatus.UNKNOWN, self.clock.now_ms(), wall_ms()))
            await self.clock.sleep(self.resolve_delay)
            await self._resolve(book, book.orders[order.client_order_id])
            return
        except DuplicateClientOrderId:
            self._count("duplicate")
            log.warning("order %s exists already (an earlier send landed): fetching it", order.client_order_id)
            await self._resolve(book, order)
            return
        except OrderRejected as exc:
            self._reject(book, order, exc)
            return
        except TemporaryExchangeError:
            raise  # refused before it was processed (rate limit): stays PENDING, sent again after a pause
        except ExchangeError as exc:  # authentication, unknown symbol ...: this order cannot go
            self._reject(book, order, exc)
            return
        self.on_order(_with_signal(answer, order))

    async def _leverage(self, book: Book, order: Order) -> bool:
        """Set the leverage an entry must go at (the regime's cap moved it); False if it cannot go."""
        wanted = book.entry_leverage.pop(order.client_order_id, None)
        if wanted is None or wanted == book.leverage:
            return True
        try:
            await self.venue.set_leverage(book.symbol, wanted)
        except TemporaryExchangeError:
            book.entry_leverage[order.client_order_id] = wanted
            raise   # stays PENDING, tried again after a pause
        except ExchangeError as exc:
            self._abandon(book, Abandon(order, f"leverage {wanted} (risk cap) refused by the exchange: {exc}"))
            return False
        log.info("%s: leverage %d -> %d (the regime's cap on %s)", book.symbol, book.leverage, wanted,
                 order.client_order_id)
        book.leverage = wanted
        return True

    async def _resolve(self, book: Book, order: Order) -> None:
        self._count("resolved")
        try:
            found = await self.fetch_state(order)
        except OrderNotFound:
            known = book.orders.get(order.client_order_id, order)
            if known.status is OrderStatus.UNKNOWN:
                log.info("order %s never reached the exchange: it may be sent again under the same id",
                         order.client_order_id)
                book.on_order(transition(known, OrderStatus.PENDING, self.clock.now_ms(), wall_ms()))
            elif known.status.is_open:
                # We believed it resting, the exchange has no record of it (Binance forgets orders that
                # ended unfilled long ago; a reset test exchange forgets everything): it is not working.
                # Without this the plan would ask to cancel it again after every answer, forever.
                log.warning("order %s (%s on %s) is not on the exchange: it no longer works, marked expired",
                            order.client_order_id, leg_name(known), known.symbol)
                self._local(book, transition(known, OrderStatus.EXPIRED, self.clock.now_ms(), wall_ms()))
            return
        self.on_order(_with_signal(found, order))

    async def fetch_state(self, order: Order) -> Order:
        """The exchange's view of one of our orders; a triggered stop is the market order it sent."""
        if is_conditional(order) and not _triggered(order):
            algo = await self.venue.fetch_order(order.symbol, order.client_order_id, conditional=True)
            if algo.status is not OrderStatus.FILLED:  # waiting, cancelled, expired or rejected
                return algo
        return await self.venue.fetch_order(order.symbol, order.client_order_id)

    async def _cancel(self, book: Book, command: Cancel) -> None:
        order = command.order
        conditional = is_conditional(order) and not _triggered(order)
        log.info("cancelling %s %s on %s (%s)", leg_name(order), order.client_order_id, order.symbol, command.why)
        try:
            await self.venue.cancel_order(order.symbol, order.client_order_id, conditional=conditional)
        except OrderNotFound:
            await self._resolve(book, order)  # it triggered, filled or expired meanwhile
            return
        if conditional:
            self.on_order(transition(order, OrderStatus.CANCELED, self.clock.now_ms(), wall_ms()))
        else:
            await self._resolve(book, order)

    def _abandon(self, book: Book, command: Abandon) -> None:
        log.info("not sending %s %s on %s: %s", leg_name(command.order), command.order.client_order_id,
                 command.order.symbol, command.why)
        self._local(book, transition(command.order, OrderStatus.CANCELED, self.clock.now_ms(), wall_ms()))

    def _reject(self, book: Book, order: Order, exc: ExchangeError) -> None:
        self._count("rejected")
        race = exc.code == -2022  # a reduce-only order racing its position's close: expected now and then
        log.log(logging.WARNING if race else logging.ERROR, "order %s (%s %s %s %s on %s) rejected by the exchange: %s",
                order.client_order_id, leg_name(order), order.side, order.quantity, order.type, order.symbol, exc)
        self._local(book, transition(order, OrderStatus.REJECTED, self.clock.now_ms(), wall_ms()))
        now = self.clock.now_ms()
        self.record(HealthEvent(f"{self.account}:reject:{order.client_order_id}", "orders", "rejected",
                                 f"{order.symbol} {leg_name(order)} {order.client_order_id}: {exc}",
                                 event_time=now, received_time=wall_ms()))
        leg = leg_of(order.client_order_id)
        if exc.code == -2022:  # reduce-only refused: the exchange sees no position for it to reduce
            self.doubt(book, f"the exchange refused reduce-only {order.client_order_id}")
            return
        if leg in (Leg.STOP, Leg.TAKE) and exc.code == -2021:  # the price is already past the trigger
            position = book.position
            if position != 0:
                cid = order_id(order.client_order_id, Leg.EXIT, self.account)
                if cid not in book.orders:
                    log.warning("%s: price already past the %s; closing the position at market", order.symbol,
                                leg_name(order))
                    book.orders[cid] = Order(cid, self.account, order.symbol, order.side, OrderType.MARKET,
                                             abs(position), reduce_only=True, signal_id=order.signal_id,
                                             event_time=now)

    def doubt(self, book: Book, why: str) -> None:
        """Stop sending for `book` until its position is verified against the exchange."""
        if not book.doubt:
            log.warning("%s: position in doubt (%s); verifying it with the exchange", book.symbol, why)
        book.doubt = book.doubt or why
        if self.verify is not None:
            self.verify(book.symbol)

    def _local(self, book: Book, order: Order) -> None:
        merged = book.on_order(order)
        if merged is not None:
            self.record(merged)

    # ---- trades -----------------------------------------------------------------------------------
    def _trade_records(self, book: Book, events: list[LedgerEvent] = ()) -> None:  # type: ignore[assignment]
        """Entries once their opening order is done, exits (with funding) once flat."""
        for event in events:
            if isinstance(event, ClosedTrade):
                entry = book.entry_record(wall_ms(), event.trade)
                if entry is not None:
                    self.record(entry)
                self._spawn(self._close(book, event), f"close {event.trade.trade_id}")
                book.prune(self.clock.now_ms() - KEEP_MS)
        entry = book.entry_record(wall_ms())
        if entry is not None:
            self.record(entry)

    async def _close(self, book: Book, closed: ClosedTrade) -> None:
        trade = closed.trade
        # ask the income history only when a settlement may have happened while the trade was open
        for attempt in range(5):
            if not self.funding.must_ask(book.symbol, trade.opened_at, closed.closed_at):
                break
            try:
                asked_at = self.clock.now_ms()
                self.on_funding(await self.venue.fetch_funding(trade.opened_at, closed.closed_at, book.symbol))
                self.funding.read_to([book.symbol], min(asked_at, closed.closed_at))
                break
            except ExchangeError as exc:
                log.warning("funding of trade %s: %s (attempt %d)", trade.trade_id, exc, attempt + 1)
                await self.clock.sleep(self.retry_delay * (attempt + 1))
        funding = self.funding.total(book.symbol, trade.opened_at, closed.closed_at)
        exit_ = TradeExit(trade.trade_id, self.account, book.symbol, trade.size, closed.exit_price, trade.realized,
                          trade.fees, funding, closed.reason, closed.closed_at, wall_ms())
        self.record(exit_)
        log.info("trade %s on %s closed (%s): realised %s, fees %s, funding %s, net %s", trade.trade_id, book.symbol,
                 closed.reason, trade.realized, trade.fees, funding, exit_.net_pnl)
        if self.on_closed is not None:
            self.on_closed(exit_)

    # ---- plumbing ---------------------------------------------------------------------------------
    def record(self, *records: Recordable) -> None:
        ack = self.recorder.record(*records)
        add = getattr(ack, "add_done_callback", None)
        if add is not None:
            add(_log_failure)

    def _spawn(self, coroutine: object, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coroutine, name=name)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _cool(self, cid: str, why: str) -> None:
        log.warning("%s; trying again in %.1f s", why, self.retry_delay)
        self._cooling[cid] = self.clock.monotonic() + self.retry_delay
        loop = asyncio.get_running_loop()
        book_symbols = [s for s, b in self.books.items() if cid in b.orders]
        for symbol in book_symbols:
            loop.call_later(self.retry_delay + 0.01, self.step, symbol)

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    @property
    def busy(self) -> bool:
        """Whether order calls (or trade closings) are running."""
        return bool(self._tasks)

    async def drain(self, timeout: float = 10.0) -> bool:
        """Wait for every order call in flight; False if some are still running after `timeout` s."""
        deadline = self.clock.monotonic() + timeout
        while self._tasks and self.clock.monotonic() < deadline:
            await asyncio.wait(list(self._tasks), timeout=max(0.01, deadline - self.clock.monotonic()))
        return not self._tasks


def leg_name(order: Order) -> str:
    leg = leg_of(order.client_order_id)
    names = {Leg.ENTRY: "entry", Leg.STOP: "stop-loss", Leg.TAKE: "take-profit", Leg.EXIT: "exit", Leg.CLOSE: "close"}
    return names.get(leg, "order")  # type: ignore[arg-type]


def _triggered(order: Order) -> bool:
    """A conditional order that has become the market order it sent (a plain exchange id)."""
    return order.exchange_order_id is not None and not order.exchange_order_id.startswith("algo:")


def _with_signal(report: Order, sent: Order) -> Order:
    return msgspec.structs.replace(report, signal_id=report.signal_id or sent.signal_id)


def _with_cid(fill: Fill, cid: str) -> Fill:
    return msgspec.structs.replace(fill, client_order_id=cid)


def _numeric(trade_id: str) -> int:
    return int(trade_id) if trade_id.isdigit() else 0


def _log_failure(ack: Any) -> None:
    try:
        ack.result(0)
    except Exception as exc:  # noqa: BLE001 - reported, the journal keeps what it has
        log.error("recording failed: %s", exc)

