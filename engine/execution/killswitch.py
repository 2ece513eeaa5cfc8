"""The kill switch in the running engine: one switch for the whole book (every account's equity
summed, as `engine.risk.history.book_equity` sums it), rebuilt from the store at start, fed each
round of equity snapshots, told the operator's commands, and noting what it does.

- Start: `restore()` replays today's equity snapshots (and yesterday's last, which opens the day)
  of the configured accounts and every operator command, exactly as `slt risk` does, so a restart
  never forgets a trip or a manual halt.
- Trading: `observe()` takes one round of snapshots (all accounts at one exchange time) and
  observes the book's equity: each account's latest, so an account that did not report this
  round (failed to start, say) counts with its last known equity, as replay counts it.
- Operator: `apply()` takes commands polled from the store (`slt risk --trip/--reset`) it has not
  seen, applies them at its exchange time and records an `applied` note with that time, which
  replay uses, so the switch rebuilt later is the one the engine held.
- Transitions (tripped, re-armed by a reset or by the new UTC day) are logged and recorded as
  health events (component `risk.kill_switch`) for `slt risk` and the health monitor.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal

import msgspec

from engine.core.types import EquitySnapshot, HealthEvent
from engine.risk import KillSwitchStatus, RiskManager
from engine.risk.history import COMPONENT, Command, Note, applied_event, book_equity, is_command, replay
from engine.risk.kill_switch import DAY_MS, TripKind

log = logging.getLogger("engine.risk")


class KillSwitchKeeper:
    def __init__(self, risk: RiskManager, record: Callable[[HealthEvent], None], accounts: Sequence[str], *,
                 wall_ms: Callable[[], int]) -> None:
        self.risk = risk
        self.record = record
        self.accounts = frozenset(accounts)
        self.wall_ms = wall_ms
        self.latest: dict[str, Decimal] = {}     # each account's last equity (today)
        self.seen: set[str] = set()              # command ids already applied (or replayed)
        self.last_ms = 0                         # exchange time of the last observation or command
        self._state = self._key(risk.kill_switch.status())

    # ---- start ---------------------------------------------------------------------------------
    def restore(self, snapshots: Iterable[EquitySnapshot], events: Iterable[HealthEvent], now_ms: int) -> KillSwitchStatus:
        """Rebuild the switch from the store (snapshots up to `now_ms` of the configured accounts)."""
        events = list(events)
        mine = sorted((s for s in snapshots if s.account in self.accounts and s.event_time <= now_ms),
                      key=lambda s: (s.event_time, s.account))
        switch = replay(self.risk.kill_switch.limit, book_equity(mine), [e for e in events if e.event_time <= now_ms])
        self.risk.kill_switch = switch
        for snap in mine:
            self.latest[snap.account] = snap.equity
        self.seen = {e.event_id for e in events if is_command(e)}
        self.last_ms = max([s.event_time for s in mine] + [now_ms])
        switch.allows_entries(now_ms)
        status = switch.status()
        self._state = self._key(status)
        if status.trip is not None:
            log.warning("🛑 kill switch restored from the store: TRIPPED, new entries blocked (%s)", status.trip.reason)
        else:
            log.info("kill switch restored from the store: entries allowed (day %s, peak %s, drawdown %.2f%%, "
                     "limit %.2f%%)", status.day or "-", status.day_peak or "-", status.drawdown * 100, status.limit * 100)
        return status

    # ---- trading -------------------------------------------------------------------------------
    def observe(self, snapshots: Iterable[EquitySnapshot], now_ms: int) -> KillSwitchStatus | None:
        """One round of equity snapshots taken at `now_ms`; the switch's status after it."""
        fresh = False
        for snap in snapshots:
            self.latest[snap.account] = snap.equity
            fresh = True
        if not fresh or not self.latest:
            return None
        at = max(now_ms, self.last_ms)
        self.last_ms = at
        status = self.risk.observe_equity(sum(self.latest.values(), Decimal(0)), at)
        self._transition(status, at)
        return status

    def apply(self, events: Iterable[HealthEvent], now_ms: int) -> int:
        """Apply operator commands not seen yet, in the order they were given; how many."""
        new = sorted((e for e in events if is_command(e) and e.event_id not in self.seen),
                     key=lambda e: (e.event_time, e.received_time))
        for command in new:
            self.seen.add(command.event_id)
            at = max(now_ms, self.last_ms + 1)   # after every observation already made (replay's order)
            self.last_ms = at
            switch = self.risk.kill_switch
            if command.status == Command.TRIP:
                switch.trip(command.message, at)
            else:
                switch.reset(at)
            log.warning("kill switch: operator %s (%s) applied", command.status, command.message)
            self.record(applied_event(command, at, self.wall_ms()))
            self._transition(switch.status(), at, by=f"operator {command.status}: {command.message}")
        return len(new)

    def check(self, now_ms: int) -> None:
        """Notice a re-arm at the UTC midnight (the switch rolls over lazily)."""
        switch = self.risk.kill_switch
        switch.allows_entries(max(now_ms, self.last_ms))
        self._transition(switch.status(), now_ms)

    # ---- transitions ---------------------------------------------------------------------------
    def _transition(self, status: KillSwitchStatus, at_ms: int, by: str | None = None) -> None:
        """Log and record a change of state; without `by`, a re-arm is the UTC day's rollover."""
        key = self._key(status)
        if key == self._state:
            return
        self._state = key
        if status.trip is not None:
            trip = status.trip
            at_ms = trip.at_ms
            note, message = Note.TRIPPED, trip.reason
            until = "until a manual reset (slt risk --reset)" if trip.kind is TripKind.MANUAL else \
                "until the next UTC midnight or slt risk --reset"
            log.warning("🛑 kill switch TRIPPED: new entries blocked %s, exits still allowed: %s", until, trip.reason)
        else:
            if by is None:
                by, at_ms = "a new UTC day began", at_ms - at_ms % DAY_MS
            note, message = Note.REARMED, f"re-armed: {by}"
            log.warning("kill switch re-armed (%s): new entries allowed", by)
        self.record(HealthEvent(f"{COMPONENT}:{note}:{at_ms}", COMPONENT, str(note), message,
                                json.dumps(msgspec.to_builtins(status)), event_time=at_ms,
                                received_time=self.wall_ms()))

    @staticmethod
    def _key(status: KillSwitchStatus) -> tuple[bool, object]:
        trip = status.trip
        return status.entries_allowed, (trip.kind, trip.at_ms) if trip is not None else None
