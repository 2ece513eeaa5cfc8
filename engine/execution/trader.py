"""The trading loop's per-event logic: a closed candle becomes indicators, maybe a signal, maybe an
order; prices move the PnL; time (the exchange's) triggers snapshots.

    candle -> IndicatorStream.update -> safe_evaluate(policy) -> Admission.decide
           -> SignalRecord (recorded, admitted or not) -> OrderManager.on_signal -> Book.plan -> orders

Every order meets `RiskManager.decide`: an entry when it is sized (`EntrySizing`: a fixed fraction
of equity as margin, times the leverage, gives the requested quantity at the current price; the
regime's caps and the exchange's rules may cut or refuse it, the reason is logged), an exit or a
protective order in `gate` just before it is sent (never blocked, limited to the position). Everything here is synchronous and
cheap; order calls run as the manager's tasks.
"""

from __future__ import annotations

import logging
import math
from decimal import Decimal

import msgspec

from engine.core.clock import ExchangeClock
from engine.core.market import AggTrade, MarkPrice
from engine.core.types import Candle, EquitySnapshot, Order, OrderType, Position, SignalRecord
from engine.execution.book import Book
from engine.execution.manager import OrderManager, wall_ms
from engine.execution.orders import Leg, order_id
from engine.execution.pnl import PriceSource
from engine.execution.portfolio import Portfolio
from engine.execution.protection import EntrySizing
from engine.indicators import CandleError, IndicatorStream
from engine.risk import AccountState, OrderRequest, RiskManager
from engine.signals import Admission, SignalPolicy, safe_evaluate

log = logging.getLogger("engine.trader")


class Trader:
    def __init__(self, *, manager: OrderManager, streams: dict[str, IndicatorStream], policy: SignalPolicy,
                 admission: Admission, risk: RiskManager, sizing: EntrySizing, portfolio: Portfolio,
                 clock: ExchangeClock, closed_trades: int = 0, model_available: bool = False) -> None:
        self.manager = manager
        self.streams = streams
        self.policy = policy
        self.admission = admission
        self.risk = risk
        self.sizing = sizing
        self.portfolio = portfolio
        self.clock = clock
        self.closed_trades = closed_trades
        self.model_available = model_available
        self.candles = 0
        self.signals = 0
        self.admitted = 0
        self.policy_errors = 0
        manager.enter = self.enter
        manager.gate = self.gate
        manager.on_closed = self.on_closed

    # ---- market events ------------------------------------------------------------------------
    def on_market(self, event: object) -> None:
        if isinstance(event, Candle):
            self.on_candle(event)
        elif isinstance(event, MarkPrice):
            self.clock.observe(event.event_time)
            self.portfolio.observe_mark(event.symbol, event.mark_price, event.event_time)
            if event.next_funding_time:
                self.manager.funding.announce(event.symbol, event.next_funding_time, event.event_time)
        elif isinstance(event, AggTrade):
            self.clock.observe(event.event_time)
            self.portfolio.pnl.update(event.symbol, PriceSource.LAST_TRADE, event.price, event.event_time)

    def on_candle(self, candle: Candle) -> SignalRecord | None:
        """One closed candle of a traded symbol; the signal it produced, if any."""
        stream = self.streams.get(candle.symbol)
        if stream is None or candle.interval != stream.interval or not candle.closed:
            return None
        self.clock.observe(max(candle.event_time, candle.close_time))
        try:
            indicators = stream.update(candle)
        except CandleError as exc:
            log.warning("candle %s %s %d skipped: %s", candle.symbol, candle.interval, candle.open_time, exc)
            return None
        self.candles += 1
        book = self.manager.books.get(candle.symbol)
        if book is not None and math.isfinite(indicators.atr) and indicators.atr > 0:
            book.atr = indicators.atr
        self.portfolio.pnl.update(candle.symbol, PriceSource.WEBSOCKET, Decimal(repr(candle.close)), candle.close_time)
        signal, error = safe_evaluate(self.policy, indicators, candle.close_time)
        if error is not None:
            self.policy_errors += 1
            log.warning("signal policy: %s", error)
        record = None
        if signal is not None:
            self.signals += 1
            decision = self.admission.decide(signal, self.closed_trades, model_available=self.model_available)
            record = SignalRecord(signal.signal_id, signal.policy, signal.symbol, signal.interval, signal.side,
                                  signal.confidence, signal.win_probability, signal.price, signal.atr,
                                  decision.admitted, decision.phase, decision.reason, signal.candle_open_time,
                                  signal.event_time, wall_ms())
            self.manager.record(record)
            if decision.admitted:
                self.admitted += 1
                outcome = self.manager.on_signal(record)
                log.info("signal %s %s %s (confidence %.2f, win probability %.2f): %s", signal.symbol, signal.side,
                         signal.signal_id, signal.confidence, signal.win_probability, outcome)
        self.snapshot_if_due()
        return record

    # ---- sizing ---------------------------------------------------------------------------------
    def enter(self, book: Book, signal: SignalRecord) -> Order | None:
        """The entry order for `signal`, sized and approved by the risk manager, or None."""
        now = self.clock.now_ms()
        price = self.portfolio.price(book.symbol, now) or Decimal(repr(signal.price))
        state = self.account_state(now)
        if state is None:
            log.warning("no entry on %s: the account's equity is not known yet", book.symbol)
            return None
        quantity, leverage = self.sizing.quantity(state.equity, price, book.leverage)
        decision = self.risk.decide(OrderRequest(book.symbol, signal.side, quantity, price, leverage), state)
        if not decision.approved:
            log.info("no entry on %s for %s: %s", book.symbol, signal.signal_id, decision.detail)
            return None
        book.regimes[signal.signal_id] = str(decision.regime)
        return Order(order_id(signal.signal_id, Leg.ENTRY, book.account), book.account, book.symbol, signal.side,
                     OrderType.MARKET, decision.quantity, signal_id=signal.signal_id, event_time=now)

    def gate(self, book: Book, order: Order) -> Order | str:
        """An exit or protective order through the risk manager: never blocked by the regime or the
        kill switch, but limited to the open position and the exchange's rules (the reason if not)."""
        now = self.clock.now_ms()
        state = self.account_state(now)
        if state is None:
            return order  # equity unknown: an order that only reduces risk still goes
        price = order.stop_price or order.price or self.portfolio.price(book.symbol, now) or book.holding().entry_price
        if not price or price <= 0:
            return order
        decision = self.risk.decide(OrderRequest(book.symbol, order.side, order.quantity, price, book.leverage,
                                                 order.type, reduce_only=True), state)
        if not decision.approved:
            return decision.detail
        return order if decision.quantity == order.quantity else msgspec.structs.replace(order, quantity=decision.quantity)

    def account_state(self, now: int) -> AccountState | None:
        books = self.manager.books.values()
        equity = self.portfolio.equity([b.holding() for b in books], now)
        if equity is None or equity <= 0:
            return None
        positions, prices = [], {}
        for book in books:
            price = self.portfolio.price(book.symbol, now)
            if price is not None:
                prices[book.symbol] = price
            holding = book.holding()
            if holding.quantity:
                positions.append(Position(book.account, book.symbol, holding.quantity, holding.entry_price,
                                          price or holding.entry_price))
        orders = tuple(o for b in books for o in b.working())
        return AccountState(equity, tuple(positions), orders, prices)

    # ---- time -----------------------------------------------------------------------------------
    def snapshot_if_due(self, *, force: bool = False) -> list[Position | EquitySnapshot]:
        now = self.clock.now_ms()
        if not force and not self.portfolio.due(now):
            return []
        records = self.portfolio.snapshot([b.holding() for b in self.manager.books.values()], now, wall_ms())
        if records:
            self.manager.record(*records)
        for record in records:
            if isinstance(record, EquitySnapshot):
                self.risk.observe_equity(record.equity, now)
        return records

    def on_closed(self, exit_: object) -> None:
        self.closed_trades += 1
