"""One symbol on one account: what we know (orders, fills, the open trade) and what to do next
(pure). The driver (`engine.execution.manager`) feeds it exchange reports and executes the
commands `plan()` returns; `plan()` is level-triggered, so calling it again after a lost answer,
a restart or a duplicate event yields the same commands, never a second order.

Rules, in the order `plan()` applies them:
1. An order whose submission went unanswered (UNKNOWN) is asked for by client id (`Resolve`).
2. A recorded order not yet sent (PENDING) is sent if it still makes sense, else abandoned:
   an entry only while flat, with nothing else working and its signal from the latest candle;
   an exit or a protective order only while a position it can reduce is open.
3. One position per symbol (one-way mode). An admitted signal while flat opens one (leg E, a
   market order). A signal in the position's direction is ignored. An opposite signal closes the
   position (leg X, a reduce-only market order for the whole position) and, once flat and the
   protective orders are cancelled, enters the other way (close and reverse) if it is still the
   latest candle's signal.
4. An open position whose entry is settled has a stop-loss (S) and a take-profit (T) on the
   exchange; a missing one is placed (next generation if the first was used up).
5. Flat: every working stop, take-profit and exit is cancelled (the other leg after one fills).
   Protective orders of an earlier trade are cancelled whatever the position.
6. In doubt (the exchange refused a reduce-only order: it sees no position to reduce; or protective
   orders keep failing): nothing new is sent for the symbol until the position is verified against
   the exchange (`AccountSync.verify`), which adopts the exchange's position if it differs.
7. The operator's close-all (`close()`) closes the position at market (leg C) and forgets the
   wanted signal. On a flat book with an entry in flight, the entry is abandoned if not sent yet,
   and closed at market if it fills after all.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from engine.core.instrument import Instrument
from engine.core.types import ZERO, Fill, Order, OrderStatus, OrderType, Position, Side, SignalRecord, TradeEntry
from engine.execution.ledger import LedgerEvent, OpenTrade, TradeLedger
from engine.execution.orders import EXITS, Leg, is_working, leg_of, merge, order_id
from engine.execution.portfolio import Holding
from engine.execution.protection import ProtectionRule

log = logging.getLogger("engine.execution")


@dataclass(frozen=True)
class Place:
    order: Order
    why: str


@dataclass(frozen=True)
class Cancel:
    order: Order
    why: str


@dataclass(frozen=True)
class Resolve:
    order: Order


@dataclass(frozen=True)
class Abandon:
    order: Order
    why: str


Command = Place | Cancel | Resolve | Abandon
MAX_GENERATIONS = 5  # protective orders of one trade; past that the position is put in doubt
Enter = Callable[[SignalRecord], Order | None]   # sizes an entry for a signal (None: risk said no)


@dataclass
class Book:
    account: str
    symbol: str
    instrument: Instrument
    rule: ProtectionRule
    orders: dict[str, Order] = field(default_factory=dict)
    by_exchange_id: dict[str, str] = field(default_factory=dict)
    signals: dict[str, SignalRecord] = field(default_factory=dict)
    regimes: dict[str, str] = field(default_factory=dict)
    applied: dict[str, Decimal] = field(default_factory=dict)   # client id -> quantity of its fills folded in
    wanted: SignalRecord | None = None                          # admitted signal to follow
    atr: float = math.nan                                       # latest ATR (positions without a signal)
    venue_position: Position | None = None                      # the exchange's latest word on the position
    forgotten: set[str] = field(default_factory=set)            # pruned, settled orders: late reports ignored
    doubt: str = ""                                             # why the position must be checked first
    gave_up: set[tuple[str, Leg]] = field(default_factory=set)  # protective legs that kept failing
    leverage: int = 1                                           # as set on the exchange
    entry_leverage: dict[str, int] = field(default_factory=dict)  # entry client id -> leverage it must go at
    closing: str | None = None                                  # a close-all that found only an entry in flight
    ledger: TradeLedger = field(init=False)

    def __post_init__(self) -> None:
        self.ledger = TradeLedger(self.account, self.symbol, self.signal_of)

    # ---- facts ----------------------------------------------------------------------------------
    def signal_of(self, cid: str) -> str | None:
        order = self.orders.get(cid)
        return order.signal_id or None if order is not None else None

    def on_order(self, report: Order) -> Order | None:
        """Adopt an order report; the new state if it changed anything."""
        if report.client_order_id in self.forgotten:
            return None
        merged = merge(self.orders.get(report.client_order_id), report)
        if merged is not None:
            self.orders[merged.client_order_id] = merged
            if merged.exchange_order_id:
                self.by_exchange_id[merged.exchange_order_id] = merged.client_order_id
        return merged

    def on_fill(self, fill: Fill) -> list[LedgerEvent]:
        if fill.trade_id in self.ledger.seen:
            return []
        events = self.ledger.apply(fill)
        self.applied[fill.client_order_id] = self.applied.get(fill.client_order_id, ZERO) + fill.quantity
        return events

    @property
    def position(self) -> Decimal:
        """Signed position: folded fills plus fills an order report announced before the fill itself."""
        unconfirmed = ZERO
        for cid, order in self.orders.items():
            extra = order.filled_quantity - self.applied.get(cid, ZERO)
            if extra > 0:
                unconfirmed += extra * order.side.sign
        return self.ledger.position + unconfirmed

    def holding(self) -> Holding:
        """Quantity from the books; entry price as the exchange states it when it agrees on the quantity,
        else the open trade's, else (opened from flat, the order report ahead of its fill) the report's
        average fill price: an open position is never valued against an entry price of 0."""
        quantity = self.position
        venue = self.venue_position
        if venue is not None and venue.quantity == quantity and venue.entry_price > 0:
            entry = venue.entry_price
        else:
            trade = self.ledger.trade
            entry = trade.entry_price if trade is not None else self._announced_price()
        return Holding(self.symbol, quantity, entry, self.leverage)

    def _announced_price(self) -> Decimal:
        """Average price of the fills order reports announced but the fills themselves have not brought yet."""
        size = value = ZERO
        for cid, order in self.orders.items():
            extra = order.filled_quantity - self.applied.get(cid, ZERO)
            if extra > 0 and order.average_price:
                size += extra
                value += extra * order.average_price
        return value / size if size else ZERO

    def working(self, leg: Leg | None = None) -> list[Order]:
        return [o for o in self.orders.values() if is_working(o) and (leg is None or leg_of(o.client_order_id) is leg)]

    def trade_key(self, trade: OpenTrade) -> str:
        """What a trade's protective client ids derive from: its signal, or the trade itself."""
        return trade.signal_id or f"trade:{trade.trade_id}"

    def entry_settled(self) -> bool:
        return not self.working(Leg.ENTRY) and all(
            self.applied.get(o.client_order_id, ZERO) >= o.filled_quantity
            for o in self.orders.values() if leg_of(o.client_order_id) is Leg.ENTRY)

    # ---- decisions ----------------------------------------------------------------------------
    def on_signal(self, signal: SignalRecord) -> str:
        """Take an admitted signal; what it will lead to (for the log)."""
        position = self.position
        if self.working(Leg.ENTRY):
            return "ignored: an entry is already working"
        if position != 0 and (position > 0) == (signal.side is Side.BUY):
            return f"ignored: already {'long' if position > 0 else 'short'} {abs(position)}"
        self.wanted = signal
        self.signals[signal.signal_id] = signal
        return "enter" if position == 0 else f"close the {'long' if position > 0 else 'short'} and reverse"

    def plan(self, now_ms: int, fresh: Callable[[SignalRecord], bool], enter: Enter) -> list[Command]:
        """What to do now (see the module docstring); pure apart from creating new orders."""
        commands: list[Command] = []
        position = self.position
        if self.doubt:  # the exchange disagreed with our position: nothing new until it is verified
            return [Resolve(o) for o in self.working() if o.status is OrderStatus.UNKNOWN]
        if self.closing is not None and position != 0:
            self.close(self.closing, now_ms)  # the entry in flight filled after all: close it now
        elif self.closing is not None and not self.working(Leg.ENTRY):
            self.closing = None
        for order in self.working():
            if order.status is OrderStatus.UNKNOWN:
                commands.append(Resolve(order))
            elif order.status is OrderStatus.PENDING:
                why = self._refuse(order, position, fresh)
                commands.append(Abandon(order, why) if why else Place(order, "recorded, not yet sent"))
        trade = self.ledger.trade
        key = self.trade_key(trade) if trade is not None and position != 0 else None
        for order in self.working(Leg.STOP) + self.working(Leg.TAKE) + self.working(Leg.EXIT) + self.working(Leg.CLOSE):
            if order.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED):
                if position == 0:
                    commands.append(Cancel(order, "the position is closed"))
                elif leg_of(order.client_order_id) not in EXITS and order.signal_id != key:
                    commands.append(Cancel(order, "protects an earlier trade"))
        if trade is not None and key is not None and self.entry_settled() and not self.working(Leg.CLOSE):
            commands += self._protect(trade, key, position, now_ms)
        commands += self._follow(position, now_ms, fresh, enter)
        return commands

    def close(self, command_id: str, now_ms: int) -> str:
        """The operator's close-all: forget the entry a signal wanted and close the position at market
        (reduce-only, leg C). The client id derives from the command, so a command applied twice (a
        restart in between) can never close twice; protective orders are cancelled once it is flat."""
        self.wanted = None
        position = self.position
        if position == 0:
            if self.working(Leg.ENTRY):  # not sent yet: abandoned; already sent: closed once it fills
                self.closing = command_id
                return "flat, an entry in flight will not stay open"
            return "flat"
        self.closing = None
        key = f"{command_id}:{self.symbol}"    # one order per symbol: ids are unique per account, not per symbol
        cid = order_id(key, Leg.CLOSE, self.account)
        if cid in self.orders:
            return "already closing"
        side = Side.SELL if position > 0 else Side.BUY
        self.orders[cid] = Order(cid, self.account, self.symbol, side, OrderType.MARKET, abs(position),
                                 reduce_only=True, signal_id=key, event_time=now_ms)
        return f"closing {'long' if position > 0 else 'short'} {abs(position)} at market"

    def _refuse(self, order: Order, position: Decimal, fresh: Callable[[SignalRecord], bool]) -> str:
        leg = leg_of(order.client_order_id)
        if leg is Leg.ENTRY:
            signal = self.signals.get(order.signal_id)
            if self.closing is not None:
                return "an operator close-all came first"
            if position != 0 or len(self.working()) > 1:
                return "no longer flat"
            if signal is None or not fresh(signal):
                return "its signal is older than one candle"
            return ""
        if position == 0 or (position > 0) == (order.side is Side.BUY):
            return "no position for it to reduce"
        return ""

    def _protect(self, trade: OpenTrade, key: str, position: Decimal, now_ms: int) -> list[Command]:
        out: list[Command] = []
        signal = self.signals.get(trade.signal_id)
        atr = signal.atr if signal is not None else self.atr
        if not (atr > 0) or trade.entry_price <= 0:
            return out
        stop, take = self.rule.prices(trade.side, trade.entry_price, atr, self.instrument)
        for leg, kind, trigger in ((Leg.STOP, OrderType.STOP_MARKET, stop), (Leg.TAKE, OrderType.TAKE_PROFIT_MARKET, take)):
            if any(o.signal_id == key for o in self.working(leg)):
                continue
            if (key, leg) in self.gave_up:
                continue
            generation = 0
            while order_id(key, leg, self.account, generation) in self.orders:
                generation += 1
            if generation >= MAX_GENERATIONS:  # they keep failing: verify the position once, then stop trying
                self.gave_up.add((key, leg))
                self.doubt = self.doubt or f"{generation} {leg.name.lower()} orders used up for trade {trade.trade_id}"
                continue
            cid = order_id(key, leg, self.account, generation)
            order = Order(cid, self.account, self.symbol, trade.side.opposite, kind, abs(position), stop_price=trigger,
                          reduce_only=True, signal_id=key, event_time=now_ms)
            self.orders[cid] = order
            out.append(Place(order, f"{'stop-loss' if leg is Leg.STOP else 'take-profit'} at {trigger}"))
        return out

    def _follow(self, position: Decimal, now_ms: int, fresh: Callable[[SignalRecord], bool],
                enter: Enter) -> list[Command]:
        wanted = self.wanted
        if wanted is None:
            return []
        if not fresh(wanted):
            self.wanted = None
            log.info("%s %s: signal %s dropped: a candle closed before the book could act on it",
                     self.account, self.symbol, wanted.signal_id)
            return []
        if position == 0:
            if self.working():
                return []  # cancels still in flight: enter once they are done
            self.wanted = None
            entry = enter(wanted)
            if entry is None:
                return []
            self.orders[entry.client_order_id] = entry
            return [Place(entry, f"signal {wanted.signal_id}")]
        if (position > 0) == (wanted.side is Side.BUY):
            self.wanted = None
            return []
        cid = order_id(wanted.signal_id, Leg.EXIT, self.account)
        if cid in self.orders:
            return []
        exit_ = Order(cid, self.account, self.symbol, wanted.side, OrderType.MARKET, abs(position), reduce_only=True,
                      signal_id=wanted.signal_id, event_time=now_ms)
        self.orders[cid] = exit_
        return [Place(exit_, f"opposite signal {wanted.signal_id}")]

    def prune(self, before_ms: int, keep: int = 64) -> int:
        """Forget finished orders the open trade does not need (its protective generations) that are
        older than `before_ms` or beyond the `keep` newest, and old fill ids: planning walks the
        orders, so the book stays small however long the engine runs."""
        trade = self.ledger.trade
        key = self.trade_key(trade) if trade is not None else None
        done = sorted((o.event_time, cid) for cid, o in self.orders.items() if o.status.is_final
                      and o.signal_id != key and self.applied.get(cid, ZERO) >= o.filled_quantity)
        old = [cid for n, (at, cid) in enumerate(reversed(done)) if at < before_ms or n >= keep]
        for cid in old:
            order = self.orders.pop(cid)
            self.applied.pop(cid, None)
            self.forgotten.add(cid)
            if order.exchange_order_id:
                self.by_exchange_id.pop(order.exchange_order_id, None)
            if self.wanted is None or self.wanted.signal_id != order.signal_id:
                self.signals.pop(order.signal_id, None)
        self.ledger.forget(before_ms)
        return len(old)

    # ---- trade records --------------------------------------------------------------------------
    def entry_record(self, received_ms: int, closed: OpenTrade | None = None) -> TradeEntry | None:
        """The open trade's entry once its opening order is done (or `closed`'s), if not recorded yet."""
        trade = closed or self.ledger.trade
        if trade is None or trade.entry_recorded:
            return None
        opener = self.orders.get(trade.entry_cid)
        if closed is None and opener is not None and not trade.exit_qty and (
                is_working(opener) or self.applied.get(opener.client_order_id, ZERO) < opener.filled_quantity):
            return None
        trade.entry_recorded = True
        signal = self.signals.get(trade.signal_id)
        stop = take = None
        atr = signal.atr if signal is not None else self.atr
        if atr > 0 and trade.entry_price > 0:
            stop, take = self.rule.prices(trade.side, trade.entry_price, atr, self.instrument)
        return TradeEntry(trade.trade_id, self.account, self.symbol, trade.side, trade.entry_qty, trade.entry_price,
                          trade.entry_fee, trade.signal_id, signal.confidence if signal else 0.0,
                          signal.win_probability if signal else 0.0, self.regimes.get(trade.signal_id, ""),
                          stop, take, trade.opened_at, received_ms)
