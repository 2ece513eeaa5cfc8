"""The kill switch rebuilt from what the store remembers, so every process agrees on it.

The switch is a pure function of equity observations and operator commands in exchange-time
order. The engine feeds it live; after a restart, `slt risk`, or a scheduled flow rebuild the
same state from the `equity_snapshots` table and the operator commands recorded as health events
(component `risk.kill_switch`, status `trip` or `reset`). The book's equity is the sum over
accounts of each account's latest equity, observed whenever any account's snapshot arrives.

A command takes effect when the running engine applies it (it polls the store), which is later
than when `slt risk` wrote it: the engine records an `applied` event at its exchange time, and
replay applies the command then, so a restarted engine and `slt risk` rebuild exactly the switch
the engine held. A command no engine has applied yet counts from the time it was given. The
engine also records its transitions (`tripped`, `rearmed`) for people and the health monitor;
replay ignores those.
"""

from __future__ import annotations

import json
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


class Note(StrEnum):
    """What the engine records about the switch (not commands: replay only reads `applied`)."""

    APPLIED = "applied"      # an operator command took effect (detail: {"command": <its event id>})
    TRIPPED = "tripped"
    REARMED = "rearmed"


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


def applied_event(command: HealthEvent, at_ms: int, received_ms: int) -> HealthEvent:
    """The engine's record that `command` took effect at exchange time `at_ms`."""
    return HealthEvent(f"{COMPONENT}:{Note.APPLIED}:{command.event_id}", COMPONENT, str(Note.APPLIED),
                       f"operator {command.status} applied: {command.message}",
                       json.dumps({"command": command.event_id}), event_time=at_ms, received_time=received_ms)


def is_command(event: HealthEvent) -> bool:
    return event.component == COMPONENT and event.status in (Command.TRIP, Command.RESET)


def applied_at(events: Iterable[HealthEvent]) -> dict[str, int]:
    """Command event id -> the exchange time the engine applied it."""
    out: dict[str, int] = {}
    for event in events:
        if event.component == COMPONENT and event.status == Note.APPLIED:
            try:
                out[str(json.loads(event.detail)["command"])] = event.event_time
            except (ValueError, KeyError, TypeError):
                continue  # an unreadable note: the command counts from when it was given
    return out


def replay(limit: Decimal, equity: Iterable[BookEquity], events: Iterable[HealthEvent]) -> KillSwitch:
    """A kill switch fed the whole history, commands and observations interleaved by time."""
    switch = KillSwitch(limit)
    events = list(events)
    applied = applied_at(events)
    # commands first at equal exchange times, and in the order they were given (received time)
    timeline: list[tuple[int, int, int, BookEquity | HealthEvent]] = [(e.at_ms, 1, 0, e) for e in equity]
    timeline += [(applied.get(h.event_id, h.event_time), 0, h.received_time, h) for h in events if is_command(h)]
    for at_ms, _, _, item in sorted(timeline, key=lambda t: t[:3]):
        if isinstance(item, BookEquity):
            switch.observe(item.equity, at_ms)
        elif item.status == Command.TRIP:
            switch.trip(item.message, at_ms)
        elif item.status == Command.RESET:
            switch.reset(at_ms)
    return switch
