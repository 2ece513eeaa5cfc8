"""The alert state machine: one alert after the threshold, one recovery, nothing repeated."""

from __future__ import annotations

import pytest

from engine.health.alerts import AlertBook, NoticeKind
from engine.health.levels import ComponentHealth, Level


def check(level: Level, component: str = "websocket") -> ComponentHealth:
    return ComponentHealth(component, level, () if level is Level.HEALTHY else ("no market frame for 9 s",))


def run(book: AlertBook, levels: list[Level]) -> list[tuple[int, NoticeKind]]:
    sent = []
    for i, level in enumerate(levels):
        _, notices = book.observe([check(level)], i * 1000)
        sent += [(i, n.kind) for n in notices]
    return sent


H, D, U, C = Level.HEALTHY, Level.DEGRADED, Level.UNHEALTHY, Level.CRITICAL


def test_alert_after_threshold_consecutive_checks_then_one_recovery() -> None:
    sent = run(AlertBook(3), [H, U, U, U, U, C, U, D, H, H])
    assert sent == [(3, NoticeKind.ALERT), (8, NoticeKind.RECOVERY)]


def test_a_healthy_check_resets_the_streak_without_a_notice_when_no_alert_went_out() -> None:
    assert run(AlertBook(3), [U, U, H, U, U, H, D, D, H]) == []


def test_threshold_one_alerts_on_the_first_bad_check() -> None:
    assert run(AlertBook(1), [D, H, U]) == [(0, NoticeKind.ALERT), (1, NoticeKind.RECOVERY), (2, NoticeKind.ALERT)]


def test_components_are_independent() -> None:
    book = AlertBook(2)
    book.observe([check(U, "api"), check(H, "memory")], 0)
    _, notices = book.observe([check(U, "api"), check(U, "memory")], 1)
    assert [(n.component, n.kind) for n in notices] == [("api", NoticeKind.ALERT)]
    assert book.streak("memory") == 1 and book.alerted("api") and not book.alerted("memory")


def test_level_changes_are_reported_and_the_first_check_only_when_not_healthy() -> None:
    book = AlertBook(3)
    changes, _ = book.observe([check(H, "api"), check(D, "memory")], 0)
    assert [(c.component, c.previous, c.level) for c in changes] == [("memory", None, D)]
    changes, _ = book.observe([check(H, "api"), check(D, "memory")], 1)
    assert changes == []
    changes, _ = book.observe([check(U, "api"), check(H, "memory")], 2)
    assert [(c.component, c.previous, c.level) for c in changes] == [("api", H, U), ("memory", D, H)]


def test_notices_carry_the_streak_the_start_and_a_text_field() -> None:
    book = AlertBook(2)
    book.observe([check(U)], 60_000)
    _, (alert,) = book.observe([check(C)], 120_000)
    assert (alert.level, alert.checks, alert.since_ms) == (C, 2, 60_000)
    assert alert.text.startswith("🏥 websocket CRITICAL for 2 consecutive checks: no market frame")
    book.observe([check(U)], 180_000)
    _, (recovery,) = book.observe([check(H)], 240_000)
    assert recovery.kind is NoticeKind.RECOVERY and recovery.checks == 3
    assert recovery.text == "🏥 websocket recovered (HEALTHY) after 3 checks (3.0 min) down"
    assert set(recovery.as_dict()) >= {"text", "kind", "component", "level", "checks"}


def test_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        AlertBook(0)
