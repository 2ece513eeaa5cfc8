"""What we know about funding settlements (pure): the payments seen, the settlement times the
exchange announced, and up to when the income history was read, so that a closed trade asks the
exchange for its funding only when a settlement may have happened while it was open.

The mark price carries the next settlement time (`T` of markPrice, `nextFundingTime` of
premiumIndex). From the first one seen for a symbol, every later settlement time is known; a
trade that opened before that is always asked for."""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from engine.core.types import ZERO, FundingPayment


@dataclass
class FundingLedger:
    """Change it through its methods: besides the public fields it keeps each symbol's settlement
    times sorted and its payments in arrival order with their times, so the two questions a closed
    trade asks (`must_ask`, `total`) are bisections instead of scans of everything held: over a
    long run (a backtest of years, an engine up for months) the scans grew with every payment."""

    payments: dict[str, FundingPayment] = field(default_factory=dict)   # by record id
    times: dict[str, set[int]] = field(default_factory=dict)             # announced settlement times
    known_since: dict[str, int] = field(default_factory=dict)            # from when the schedule is known
    checked: dict[str, int] = field(default_factory=dict)                # income read up to this time
    _sorted: dict[str, list[int]] = field(default_factory=dict, repr=False)        # symbol -> sorted times
    _ids: dict[str, list[str]] = field(default_factory=dict, repr=False)           # symbol -> record ids, arrival order
    _paid_at: dict[str, list[int]] = field(default_factory=dict, repr=False)       # ... and their event times
    _unordered: set[str] = field(default_factory=set, repr=False)                  # symbols whose times went back
    _scan: bool = field(default=False, repr=False)                                 # one batch repeated a record id

    def announce(self, symbol: str, settles_at: int, seen_at: int) -> None:
        times = self.times.setdefault(symbol, set())
        if settles_at not in times:
            times.add(settles_at)
            insort(self._sorted.setdefault(symbol, []), settles_at)
            self.known_since.setdefault(symbol, seen_at)

    def add(self, payments: Iterable[FundingPayment]) -> list[FundingPayment]:
        """Keep new payments; the ones not seen before."""
        new = [p for p in payments if p.record_id not in self.payments]
        for payment in new:
            if payment.record_id in self.payments:
                self._scan = True        # the same record twice in one batch: the dict keeps one, scan it
            else:
                ids, paid = self._ids.setdefault(payment.symbol, []), self._paid_at.setdefault(payment.symbol, [])
                if paid and payment.event_time < paid[-1]:
                    self._unordered.add(payment.symbol)
                ids.append(payment.record_id)
                paid.append(payment.event_time)
            self.payments[payment.record_id] = payment
        return new

    def read_to(self, symbols: Iterable[str], at_ms: int) -> None:
        """The income history of `symbols` was read up to `at_ms`. Enough for what comes next even when
        the read started later than the last one ended: one symbol's trades never overlap, so a later
        trade's window lies after this read."""
        for symbol in symbols:
            self.checked[symbol] = max(self.checked.get(symbol, 0), at_ms)

    def must_ask(self, symbol: str, start: int, end: int) -> bool:
        """Could a settlement between `start` and `end` be missing from the payments we hold?"""
        since = self.known_since.get(symbol)
        if since is None or start < since:
            return True  # the schedule before we listened is not known
        checked = self.checked.get(symbol, 0)
        times = self._sorted.get(symbol, [])
        i = max(bisect_left(times, start), bisect_right(times, checked))   # the first t >= start, t > checked
        return i < len(times) and times[i] <= end

    def total(self, symbol: str, start: int, end: int, account: str | None = None) -> Decimal:
        if self._scan:
            rows: Iterable[FundingPayment] = self.payments.values()
        else:
            ids = self._ids.get(symbol, [])
            if symbol not in self._unordered:
                paid = self._paid_at[symbol] if ids else []
                ids = ids[bisect_left(paid, start):bisect_right(paid, end)]
            rows = (self.payments[i] for i in ids)
        return sum((p.amount for p in rows if p.symbol == symbol and start <= p.event_time <= end
                    and (account is None or p.account == account)), ZERO)
