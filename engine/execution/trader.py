"""The trading loop's per-event logic: a closed candle becomes indicators, maybe a signal, maybe an
order on every trading account; prices move the PnL; time (the exchange's) triggers snapshots.

    candle -> regimes (RegimeWatch) -> IndicatorStream.update -> safe_evaluate(policy) -> Admission
           -> SignalRecord (recorded, admitted or not) -> each account's OrderManager.on_signal
           -> Book.plan -> orders (one task per order: the accounts' orders go out concurrently)

Every order meets `RiskManager.decide`. An entry when it is sized: `EntrySizing` gives the book's
request (a fixed fraction of the summed equity as margin, times `SLT_LEVERAGE` capped by the
regime's maximum, at the current price), `allotment.allot` splits it over the accounts, and each
part is decided with its account's own state (the regime's caps, the kill switch and the
exchange's rules may cut or refuse it; the reason is logged); a leverage the cap lowered is set on
the exchange before the entry goes. An exit or a protective order in `gate`, just before it is
sent: never blocked, limited to the position. Everything here is synchronous and cheap; order
calls run as the managers' tasks.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from decimal import Decimal

import msgspec

from engine.accounts import Strategy
from engine.core.clock import ExchangeClock, wall_ms
from engine.core.market import AggTrade, MarkPrice
from engine.core.types import (
    Candle,
    EquitySnapshot,
    Order,
    OrderType,
    Position,
    SignalRecord,
    TradeExit,
)
from engine.execution.allotment import Allotment, Seat, allot
from engine.execution.book import Book
from engine.execution.desk import Desk
from engine.execution.killswitch import KillSwitchKeeper
from engine.execution.manager import OrderManager
from engine.execution.orders import Leg, order_id
from engine.execution.pnl import PriceSource
from engine.execution.portfolio import Portfolio
from engine.execution.protection import EntrySizing
from engine.execution.regimes import RegimeWatch
from engine.indicators import CandleError, IndicatorStream
from engine.risk import AccountState, OrderRequest, RiskManager
from engine.signals import Admission, SignalPolicy, safe_evaluate
from engine.signals.features import FeatureBook

log = logging.getLogger("engine.trader")
KEEP_ALLOTMENTS = 256


class Trader:
    def __init__(self, *, streams: dict[str, IndicatorStream], policy: SignalPolicy, admission: Admission,
                 risk: RiskManager, sizing: EntrySizing, clock: ExchangeClock, desks: list[Desk],
                 distribution: Strategy | str = Strategy.WEIGHTED, regimes: RegimeWatch | None = None,
                 kill_switch: KillSwitchKeeper | None = None, closed_trades: int = 0,
                 model_available: bool = False, features: FeatureBook | None = None) -> None:
        """`desks`: one per account, sharing one PnlCalculator, their managers' hooks calling this trader
        (`engine.wiring` builds them so). `features`: the model's live feature rows (the policy reads
        them), advanced here on every closed candle and mark price."""
        if not desks:
            raise ValueError("Trader needs at least one desk")
        self.desks = list(desks)
        self.pnl = self.desks[0].portfolio.pnl
        self.streams = streams
        self.policy = policy
        self.admission = admission
        self.risk = risk
        self.sizing = sizing
        self.clock = clock
        self.distribution = Strategy(distribution)
        self.regimes = regimes
        self.kill_switch = kill_switch
        self.closed_trades = closed_trades
        self._model_available = model_available
        self.features = features
        self.candles = 0
        self.signals = 0
        self.admitted = 0
        self.policy_errors = 0
        self._allotments: OrderedDict[str, Allotment] = OrderedDict()

    @property
    def model_available(self) -> bool:
        """A model is served (the policy's slot holds one), or the caller said so."""
        slot = getattr(self.policy, "slot", None)
        return self._model_available or (slot is not None and slot.current is not None)

    @model_available.setter
    def model_available(self, value: bool) -> None:
        self._model_available = value

    @property
    def manager(self) -> OrderManager:
        """The first account's order manager (the only one without `SLT_ACCOUNTS`)."""
        return self.desks[0].manager

    @property
    def portfolio(self) -> Portfolio:
        return self.desks[0].portfolio

    def desk(self, account: str) -> Desk | None:
        return next((d for d in self.desks if d.account == account), None)

    def drop(self, desk: Desk) -> None:
        """Stop trading an account (it failed): its orders are not touched, new signals skip it."""
        if desk in self.desks and len(self.desks) > 1:
            self.desks.remove(desk)

    # ---- market events ------------------------------------------------------------------------
    def on_market(self, event: object) -> None:
        if isinstance(event, Candle):
            self.on_candle(event)
        elif isinstance(event, MarkPrice):
            self.clock.observe(event.event_time)
            self.pnl.update(event.symbol, PriceSource.MARK, event.mark_price, event.event_time)
            if self.features is not None:
                self.features.on_mark(event.symbol, float(event.mark_price), float(event.funding_rate),
                                      event.next_funding_time, event.event_time)
            if event.next_funding_time:
                for desk in self.desks:
                    desk.manager.funding.announce(event.symbol, event.next_funding_time, event.event_time)
        elif isinstance(event, AggTrade):
            self.clock.observe(event.event_time)
            self.pnl.update(event.symbol, PriceSource.LAST_TRADE, event.price, event.event_time)

    def on_candle(self, candle: Candle) -> SignalRecord | None:
        """One closed candle of a traded symbol; the signal it produced, if any."""
        stream = self.streams.get(candle.symbol)
        if stream is None or candle.interval != stream.interval or not candle.closed:
            return None
        self.clock.observe(max(candle.event_time, candle.close_time))
        if self.regimes is not None:
            self.regimes.on_candle(candle)   # the regime in force for this candle's signal
        try:
            indicators = stream.update(candle)
        except CandleError as exc:
            log.warning("candle %s %s %d skipped: %s", candle.symbol, candle.interval, candle.open_time, exc)
            return None
        self.candles += 1
        if self.features is not None:
            self.features.update(candle, indicators)
        if math.isfinite(indicators.atr) and indicators.atr > 0:
            for desk in self.desks:
                book = desk.manager.books.get(candle.symbol)
                if book is not None:
                    book.atr = indicators.atr
        self.pnl.update(candle.symbol, PriceSource.WEBSOCKET, Decimal(repr(candle.close)), candle.close_time)
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
                                  signal.event_time, wall_ms(), signal.model_version, signal.features)
            self.manager.record(record)
            if decision.admitted:
                self.admitted += 1
                outcomes = [(d.account, d.manager.on_signal(record)) for d in self.desks]
                shown = outcomes[0][1] if len(outcomes) == 1 else "; ".join(f"{a}: {o}" for a, o in outcomes)
                log.info("signal %s %s %s (confidence %.2f, win probability %.2f): %s", signal.symbol, signal.side,
                         signal.signal_id, signal.confidence, signal.win_probability, shown)
        self.snapshot_if_due()
        return record

    # ---- sizing ---------------------------------------------------------------------------------
    def enter(self, book: Book, signal: SignalRecord) -> Order | None:
        """The entry order of `book`'s account for `signal`, sized and approved by the risk manager, or None."""
        now = self.clock.now_ms()
        desk = self.desk(book.account)
        if desk is None:
            return None
        price = desk.portfolio.price(book.symbol, now) or Decimal(repr(signal.price))
        state = self.account_state(desk, now)
        if state is None:
            log.warning("no entry on %s for account %s: its equity is not known yet", book.symbol, book.account)
            return None
        leverage = self.leverage(book.symbol)
        quantity, why = self._allotment(book, signal, price).part(book.account)
        if quantity is None:
            log.info("no entry on %s for %s on account %s: %s", book.symbol, signal.signal_id, book.account, why)
            return None
        decision = self.risk.decide(OrderRequest(book.symbol, signal.side, quantity, price, leverage), state)
        if not decision.approved:
            log.info("no entry on %s for %s on account %s: %s", book.symbol, signal.signal_id, book.account,
                     decision.detail)
            return None
        book.regimes[signal.signal_id] = str(decision.regime)
        cid = order_id(signal.signal_id, Leg.ENTRY, book.account)
        if decision.leverage != book.leverage:
            book.entry_leverage[cid] = decision.leverage   # set on the exchange before the entry goes
        return Order(cid, book.account, book.symbol, signal.side, OrderType.MARKET, decision.quantity,
                     signal_id=signal.signal_id, event_time=now)

    def leverage(self, symbol: str) -> int:
        """The entry leverage: `SLT_LEVERAGE`, capped by the regime's maximum."""
        return min(self.sizing.leverage, self.risk.get_risk_parameters(symbol).max_leverage)

    def _allotment(self, book: Book, signal: SignalRecord, price: Decimal) -> Allotment:
        """The split of `signal`'s entry over the accounts, made once (when the first book enters)."""
        done = self._allotments.get(signal.signal_id)
        if done is not None:
            return done
        now = self.clock.now_ms()
        seats = []
        for desk in self.desks:
            state = self.account_state(desk, now)
            seats.append(Seat(desk.account, desk.weight, state.equity if state else None, desk.margin_used))
        equity = sum((s.equity for s in seats if s.equity is not None), Decimal(0))
        quantity, _ = self.sizing.quantity(equity, price, self.leverage(book.symbol))
        result = allot(quantity, seats, book.instrument, price, self.distribution)
        if len(self.desks) > 1:
            log.info("entry %s on %s: %s split %s (%s)", signal.signal_id, book.symbol, result.total, self.distribution,
                     ", ".join(f"{a} {q}" for a, q in result.parts.items()) or "no account")
        self._allotments[signal.signal_id] = result
        while len(self._allotments) > KEEP_ALLOTMENTS:
            self._allotments.popitem(last=False)
        return result

    def gate(self, book: Book, order: Order) -> Order | str:
        """An exit or protective order through the risk manager: never blocked by the regime or the
        kill switch, but limited to the open position and the exchange's rules (the reason if not)."""
        now = self.clock.now_ms()
        desk = self.desk(book.account)
        state = self.account_state(desk, now) if desk is not None else None
        if desk is None or state is None:
            return order  # equity unknown: an order that only reduces risk still goes
        price = order.stop_price or order.price or desk.portfolio.price(book.symbol, now) or book.holding().entry_price
        if not price or price <= 0:
            return order
        decision = self.risk.decide(OrderRequest(book.symbol, order.side, order.quantity, price, book.leverage,
                                                 order.type, reduce_only=True), state)
        if not decision.approved:
            return decision.detail
        return order if decision.quantity == order.quantity else msgspec.structs.replace(order, quantity=decision.quantity)

    def account_state(self, desk: Desk, now: int) -> AccountState | None:
        books = desk.manager.books.values()
        equity = desk.portfolio.equity([b.holding() for b in books], now)
        if equity is None or equity <= 0:
            return None
        positions, prices = [], {}
        for book in books:
            price = desk.portfolio.price(book.symbol, now)
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
        """Every account's positions and equity at one exchange time; the book's equity to the kill switch."""
        now = self.clock.now_ms()
        if not force and not self.desks[0].portfolio.due(now):
            return []
        records: list[Position | EquitySnapshot] = []
        for desk in self.desks:
            mine = desk.portfolio.snapshot([b.holding() for b in desk.manager.books.values()], now, wall_ms())
            if mine:
                desk.manager.record(*mine)
            records += mine
        equity = [r for r in records if isinstance(r, EquitySnapshot)]
        if self.kill_switch is not None:
            self.kill_switch.observe(equity, now)
        elif equity:
            self.risk.observe_equity(sum((e.equity for e in equity), Decimal(0)), now)
        return records

    def on_closed(self, exit_: TradeExit) -> None:
        desk = self.desk(exit_.account)
        if desk is not None:
            desk.closed_trades += 1
            self.closed_trades = max(self.closed_trades, desk.closed_trades)
        else:
            self.closed_trades += 1
