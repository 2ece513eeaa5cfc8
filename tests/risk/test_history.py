from __future__ import annotations

from decimal import Decimal as D

from engine.core.types import EquitySnapshot
from engine.risk.history import BookEquity, Command, book_equity, command_event, replay

DAY = 86_400_000
T0 = 1_746_489_600_000  # 2025-05-06 00:00 UTC


def snap(account: str, equity: str, at: int) -> EquitySnapshot:
    return EquitySnapshot(account, D(equity), D(0), D(equity), event_time=at)


def test_book_equity_sums_the_latest_of_each_account() -> None:
    book = book_equity([snap("b", "500", T0 + 1), snap("a", "1000", T0), snap("a", "900", T0 + 2),
                        snap("b", "550", T0 + 2)])
    assert book == [BookEquity(T0, D(1000)), BookEquity(T0 + 1, D(1500)), BookEquity(T0 + 2, D(1450))]


def test_replay_equals_the_live_switch() -> None:
    equity = [BookEquity(T0 + i * 60_000, D(v)) for i, v in enumerate(["1000", "1100", "1040", "1030", "1120"])]
    switch = replay(D("0.05"), equity, [])
    status = switch.status()
    assert not status.entries_allowed and status.trip is not None and status.trip.at_ms == T0 + 2 * 60_000
    assert switch.allows_entries(T0 + DAY)  # re-armed the next UTC day


def test_operator_commands_are_replayed_in_time_order() -> None:
    equity = [BookEquity(T0, D(1000)), BookEquity(T0 + 10, D(940))]   # 6 % down: tripped at T0+10
    reset = command_event(Command.RESET, T0 + 20, "checked by hand", T0 + 20)
    assert replay(D("0.05"), equity, [reset]).status().entries_allowed
    halt = command_event(Command.TRIP, T0 + 30, "news", T0 + 30)
    status = replay(D("0.05"), equity, [reset, halt]).status()
    assert not status.entries_allowed and "news" in status.trip.reason  # type: ignore[union-attr]


def test_commands_at_the_same_exchange_time_apply_in_the_order_given() -> None:
    equity = [BookEquity(T0, D(1000))]
    trip = command_event(Command.TRIP, T0 + 5, "halt", received_ms=1)
    reset = command_event(Command.RESET, T0 + 5, "resume", received_ms=2)
    assert replay(D("0.05"), equity, [reset, trip]).status().entries_allowed
