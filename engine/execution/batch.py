"""The operator's batch commands in the running engine (`engine.accounts.commands`).

`apply()` takes the commands polled from the store that no engine has applied yet. A close-all
closes every position of the group's trading accounts at market through their books (reduce-only,
client id from the command: never twice), forgets the entries signals wanted, and lets the books
cancel the protective orders once flat. What it did per account is logged and recorded with the
`applied` event. A command older than `max_age_ms` (given long before any engine ran) is recorded
as expired instead of closing positions opened since.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

from engine.accounts.commands import applied_event, command_group, pending
from engine.core.intervals import INTERVAL_MS
from engine.core.types import HealthEvent
from engine.execution.desk import Desk

log = logging.getLogger("engine.accounts")


class BatchCommands:
    def __init__(self, desks: Sequence[Desk], record: Callable[[HealthEvent], None], *,
                 wall_ms: Callable[[], int], max_age_ms: int = INTERVAL_MS["1h"]) -> None:
        self.desks = desks
        self.record = record
        self.wall_ms = wall_ms
        self.max_age_ms = max_age_ms
        self.seen: set[str] = set()

    def apply(self, events: Iterable[HealthEvent], now_ms: int) -> int:
        """Apply the commands not applied yet, oldest first; how many."""
        new = [c for c in pending(events) if c.event_id not in self.seen]
        for command in new:
            self.seen.add(command.event_id)
            age_ms = self.wall_ms() - command.received_time
            if age_ms > self.max_age_ms:
                log.warning("operator %s (%s) given %.0f min ago: expired, not applied", command.status,
                            command.message, age_ms / 60_000)
                self.record(applied_event(command, {"expired": [f"given {age_ms // 60_000} min before"]}, now_ms,
                                          self.wall_ms()))
                continue
            try:
                outcome = self.close_all(command, now_ms)
            except ValueError as exc:  # a command written by hand, e.g. an unknown group: refused, not retried
                log.error("operator %s %s refused: %s", command.status, command.event_id, exc)
                outcome = {"refused": [str(exc)]}
            self.record(applied_event(command, outcome, now_ms, self.wall_ms()))
        return len(new)

    def close_all(self, command: HealthEvent, now_ms: int) -> dict[str, list[str]]:
        group = command_group(command)
        outcome: dict[str, list[str]] = {}
        for desk in self.desks:
            if desk.failed or (group is not None and desk.group != group):
                continue
            manager = desk.manager
            outcome[desk.account] = [f"{symbol}: {book.close(command.event_id, now_ms)}"
                                     for symbol, book in sorted(manager.books.items())]
            for symbol in manager.books:
                manager.step(symbol)
        log.warning("operator close-all for %s (%s): %s", group or "every account", command.message,
                    "; ".join(f"{a}: {', '.join(v)}" for a, v in outcome.items()) or "no trading account in it")
        return outcome
