"""KillSwitchKeeper: one switch for the book, restored from the store, told the operator's
commands, and always equal to what `slt risk` rebuilds from what it recorded (pure)."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.clock import ManualClock
from engine.core.types import EquitySnapshot, HealthEvent
from engine.execution.killswitch import KillSwitchKeeper
from engine.risk import RiskManager
from engine.risk.history import Command, book_equity, command_event, replay
from engine.risk.kill_switch import DAY_MS, KillSwitch

T0 = 1_746_489_600_000  # 2025-05-06 00:00 UTC
MINUTE = 60_000


def keeper(accounts: tuple[str, ...] = ("a", "b")) -> tuple[KillSwitchKeeper, list[HealthEvent], RiskManager]:
    events: list[HealthEvent] = []
    risk = RiskManager({}, clock=ManualClock(T0), kill_switch=KillSwitch(D("0.05")))
    return KillSwitchKeeper(risk, events.append, accounts, wall_ms=lambda: 7), events, risk


def snap(account: str, equity: str, at: int) -> EquitySnapshot:
    return EquitySnapshot(account, D(equity), D(0), D(equity), event_time=at)


def test_trips_on_the_book_equity_and_notes_each_transition() -> None:
    keep, events, risk = keeper()
    keep.observe([snap("a", "10000", T0), snap("b", "5000", T0)], T0)
    keep.observe([snap("a", "9300", T0 + MINUTE)], T0 + MINUTE)   # b not reported: its last 5000 counts
    assert risk.kill_switch.status().entries_allowed                   # 14300 / 15000: 4.67 %
    keep.observe([snap("a", "9250", T0 + 2 * MINUTE), snap("b", "5000", T0 + 2 * MINUTE)], T0 + 2 * MINUTE)
    status = risk.kill_switch.status()
    assert not status.entries_allowed and status.drawdown == D("0.05")
    assert [(e.status, e.event_time) for e in events] == [("tripped", T0 + 2 * MINUTE)]
    keep.check(T0 + DAY_MS + 5)                                        # the next UTC day re-arms it
    assert [(e.status, e.event_time) for e in events][1:] == [("rearmed", T0 + DAY_MS)]
    assert "new UTC day" in events[-1].message


def test_operator_commands_apply_once_and_are_noted() -> None:
    keep, events, risk = keeper()
    keep.observe([snap("a", "10000", T0)], T0)
    halt = command_event(Command.TRIP, T0 - 5, "exchange incident", 1)
    assert keep.apply([halt], T0 + MINUTE) == 1 and keep.apply([halt], T0 + 2 * MINUTE) == 0
    assert not risk.kill_switch.status().entries_allowed
    reset = command_event(Command.RESET, T0 + MINUTE, "checked", 2)
    keep.apply([halt, reset], T0 + 3 * MINUTE)
    assert risk.kill_switch.status().entries_allowed
    assert [e.status for e in events] == ["applied", "tripped", "applied", "rearmed"]
    assert events[0].event_time == T0 + MINUTE and "operator trip" in events[1].message + events[0].message


def test_a_restart_restores_a_trip_and_skips_commands_already_applied() -> None:
    first, events, _ = keeper()
    snaps = [snap("a", "10000", T0), snap("b", "5000", T0), snap("a", "9000", T0 + MINUTE),
             snap("b", "5000", T0 + MINUTE), snap("gone", "99999", T0)]   # an account no longer configured
    for at in (T0, T0 + MINUTE):
        first.observe([s for s in snaps if s.event_time == at and s.account != "gone"], at)
    halt = command_event(Command.TRIP, T0 + 2 * MINUTE, "halt", 3)
    first.apply([halt], T0 + 2 * MINUTE)
    second, notes, risk = keeper()
    status = second.restore(snaps, [*events, halt], T0 + 3 * MINUTE)
    assert not status.entries_allowed and status.trip is not None and "halt" in status.trip.reason
    assert status.day_peak == D(15000) and status.equity == D(14000)
    assert second.apply([halt], T0 + 4 * MINUTE) == 0 and notes == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "both"]), st.integers(80, 120),
                          st.sampled_from([None, None, None, "trip", "reset"]), st.integers(1, 400)),
                min_size=1, max_size=40))
def test_live_equals_the_replay_of_what_it_recorded(steps: list[tuple[str, int, str | None, int]]) -> None:
    """Whatever the equity path and the operator does, `slt risk` rebuilds the live switch."""
    keep, events, risk = keeper()
    recorded: list[EquitySnapshot] = []
    commands: list[HealthEvent] = []
    now = T0
    for n, (who, level, command, gap) in enumerate(steps):
        now += gap * MINUTE                          # crosses UTC midnights now and then
        round_ = [snap(a, str(level * (100 if a == "a" else 50)), now) for a in ("a", "b") if who in (a, "both")]
        recorded += round_
        keep.observe(round_, now)
        if command:
            # given while the store lagged a few minutes behind the engine
            given_ = command_event(Command(command), now - 3 * MINUTE, f"op {n}", n)
            commands.append(given_)
            keep.apply(commands, now)
        keep.check(now)
    rebuilt = replay(D("0.05"), book_equity(recorded), [*commands, *events])
    rebuilt.allows_entries(now)
    risk.kill_switch.allows_entries(now)
    live, again = risk.kill_switch.status(), rebuilt.status()
    assert (again.entries_allowed, again.day_peak, again.equity, again.trip) == \
        (live.entries_allowed, live.day_peak, live.equity, live.trip)
