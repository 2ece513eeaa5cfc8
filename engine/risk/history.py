"""The kill switch rebuilt from what the store remembers, so every process agrees on it.

The switch is a pure function of equity observations and operator commands in exchange-time
order. The engine feeds it live; after a restart, `slt risk`, or a scheduled flow rebuild the
same state from the `equity_snapshots` table and the operator commands recorded as health events
(component `risk.kill_switch`, status `trip` or `reset`). The book's equity is the sum over
accounts of each account's latest equity, observed whenever any account's snapshot arrives.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from engine.core.types import EquitySnapshot, HealthEvent
from engine.risk.kill_switch import KillSwitch

COMPONENT = "risk.kill_switch"


class Command(StrEnum):
    TRIP = "trip"
    RESET = "reset"


@dataclass(frozen=True)
class BookEquity:
    at_ms: int
    equity: Decimal


def book_equity(snapshots: Iterable[EquitySnapshot]) -> list[BookEquity]:
    """Summed equity of all accounts after each snapshot (latest value per account), time ordered;
    snapshots taken at the same exchange time are summed together."""
    latest: dict[str, Decimal] = {}
    out: list[BookEquity] = []
    for snap in sorted(snapshots, key=lambda s: (s.event_time, s.account)):
        latest[snap.account] = snap.equity
        total = sum(latest.values(), Decimal(0))
        if out and out[-1].at_ms == snap.event_time:
            out[-1] = BookEquity(snap.event_time, total)
        else:
            out.append(BookEquity(snap.event_time, total))
    return out


def command_event(command: Command, at_ms: int, reason: str, received_ms: int) -> HealthEvent:
    """An operator's trip or reset, as it is recorded in the store."""
    return HealthEvent(f"{COMPONENT}:{command}:{at_ms}:{received_ms}", COMPONENT, str(command), reason,
                       event_time=at_ms, received_time=received_ms)


def replay(limit: Decimal, equity: Iterable[BookEquity], events: Iterable[HealthEvent]) -> KillSwitch:
    """A kill switch fed the whole history, commands and observations interleaved by time."""
    switch = KillSwitch(limit)
    # commands first at equal exchange times, and in the order they were given (received time)
    timeline: list[tuple[int, int, int, BookEquity | HealthEvent]] = [(e.at_ms, 1, 0, e) for e in equity]
    timeline += [(h.event_time, 0, h.received_time, h) for h in events if h.component == COMPONENT]
    for at_ms, _, _, item in sorted(timeline, key=lambda t: t[:3]):
        if isinstance(item, BookEquity):
            switch.observe(item.equity, at_ms)
        elif item.status == Command.TRIP:
            switch.trip(item.message, at_ms)
        elif item.status == Command.RESET:
            switch.reset(at_ms)
    return switch
