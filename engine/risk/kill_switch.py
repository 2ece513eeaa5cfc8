"""Kill switch: a maximum daily drawdown that stops new entries (exits stay allowed).

A pure state machine fed equity observations stamped with exchange time; it never reads a clock.
* The day is the UTC calendar day of the observation's timestamp. The day's peak starts at the first
  equity seen that day (or the last equity of the day before, carried over at midnight) and rises
  with every new high: daily drawdown = (day peak - equity) / day peak, so gains made earlier in the
  day are protected too.
* When the drawdown reaches the limit (>=, `SLT_MAX_DAILY_DRAWDOWN`, a fraction), the switch trips
  and records why. It re-arms at the next UTC midnight or on a manual `reset()`, which also restarts
  the day's peak from the current equity (otherwise the next observation would trip it again).
* An operator can `trip()` it by hand; a manual trip lasts until a manual reset, not just the day.
* Observations older than the last one, or from a day already closed, are ignored (counted).
Deposits and withdrawals move equity too: feed equity net of transfers, or reset after one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

import msgspec

from engine.core.errors import DataError

DAY_MS = 86_400_000


class TripKind(StrEnum):
    DRAWDOWN = "drawdown"
    MANUAL = "manual"


class Trip(msgspec.Struct, frozen=True):
    kind: TripKind
    at_ms: int
    reason: str
    equity: Decimal | None = None
    day_peak: Decimal | None = None
    drawdown: Decimal | None = None


class KillSwitchStatus(msgspec.Struct, frozen=True):
    entries_allowed: bool
    limit: Decimal
    day: str                        # UTC date the figures belong to ("" before any observation)
    day_peak: Decimal | None
    equity: Decimal | None
    drawdown: Decimal               # current daily drawdown, a fraction
    trip: Trip | None
    rearms_at_ms: int | None        # next UTC midnight for a drawdown trip; None if manual or not tripped
    ignored_observations: int

    def as_dict(self) -> dict[str, object]:
        return msgspec.to_builtins(self)


class KillSwitch:
    def __init__(self, max_daily_drawdown: Decimal | float | str = Decimal("0.05")) -> None:
        limit = Decimal(str(max_daily_drawdown))
        if not limit.is_finite() or not 0 < limit <= 1:
            raise ValueError(f"max daily drawdown must be a fraction in (0, 1], got {max_daily_drawdown}")
        self.limit = limit
        self._day: int | None = None
        self._peak: Decimal | None = None
        self._equity: Decimal | None = None
        self._last_ms: int | None = None
        self._trip: Trip | None = None
        self._ignored = 0

    def observe(self, equity: Decimal, at_ms: int) -> KillSwitchStatus:
        """Take one equity observation (exchange time); trips the switch when the limit is reached."""
        if not isinstance(equity, Decimal) or not equity.is_finite():
            raise DataError(f"kill switch: equity must be a finite Decimal, got {equity!r}")
        day = at_ms // DAY_MS
        if (self._last_ms is not None and at_ms < self._last_ms) or (self._day is not None and day < self._day):
            self._ignored += 1
            return self.status()
        self._roll(at_ms)
        self._equity, self._last_ms = equity, at_ms
        if self._peak is None or equity > self._peak:
            self._peak = equity
        drawdown = self._drawdown()
        if self._trip is None and drawdown >= self.limit:
            self._trip = Trip(TripKind.DRAWDOWN, at_ms, (
                f"daily drawdown {drawdown:.2%} reached the limit {self.limit:.2%}: equity {equity} "
                f"against today's peak {self._peak} ({_date(at_ms)} UTC)"), equity, self._peak, drawdown)
        return self.status()

    def allows_entries(self, at_ms: int) -> bool:
        """Whether a new entry may go at `at_ms` (re-arms first if a new UTC day has begun)."""
        self._roll(at_ms)
        return self._trip is None

    def trip(self, reason: str, at_ms: int) -> KillSwitchStatus:
        """Operator halt: blocks entries until `reset()`."""
        self._roll(at_ms)
        self._trip = Trip(TripKind.MANUAL, at_ms, f"manual: {reason}", self._equity, self._peak, self._drawdown())
        return self.status()

    def reset(self, at_ms: int, equity: Decimal | None = None) -> KillSwitchStatus:
        """Manual re-arm; today's peak restarts at `equity` (default: the last observed equity)."""
        self._roll(at_ms)
        self._trip = None
        if equity is not None:
            self._equity = equity
        self._peak = self._equity
        return self.status()

    def status(self) -> KillSwitchStatus:
        rearm = None
        if self._trip is not None and self._trip.kind is TripKind.DRAWDOWN and self._day is not None:
            rearm = (self._day + 1) * DAY_MS
        return KillSwitchStatus(
            entries_allowed=self._trip is None, limit=self.limit,
            day=_date(self._day * DAY_MS) if self._day is not None else "", day_peak=self._peak,
            equity=self._equity, drawdown=self._drawdown(), trip=self._trip, rearms_at_ms=rearm,
            ignored_observations=self._ignored)

    def _roll(self, at_ms: int) -> None:
        day = at_ms // DAY_MS
        if self._day is None:
            self._day = day
        elif day > self._day:
            self._day = day
            self._peak = self._equity        # the new day starts from the last known equity
            if self._trip is not None and self._trip.kind is TripKind.DRAWDOWN:
                self._trip = None

    def _drawdown(self) -> Decimal:
        if self._peak is None or self._equity is None:
            return Decimal(0)
        if self._peak <= 0:
            return Decimal(1) if self._equity <= self._peak else Decimal(0)
        return max(Decimal(0), (self._peak - self._equity) / self._peak)


def _date(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")
