"""The alert state machine, per component.

A component that is not HEALTHY for `threshold` consecutive checks raises one alert; while it stays
down nothing is repeated (not even when it gets worse: the level is in the report and the change is
a `health_events` row); the first HEALTHY check after an alert sends one recovery notice. A change
of level between two checks is reported as a `LevelChange` (the first check only when it is not
HEALTHY), which the monitor stores.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from engine.health.levels import ComponentHealth, Level


class NoticeKind(StrEnum):
    ALERT = "alert"
    RECOVERY = "recovery"


@dataclass(frozen=True)
class LevelChange:
    component: str
    previous: Level | None     # None: the first check
    level: Level
    summary: str
    at_ms: int


@dataclass(frozen=True)
class Notice:
    """One alert or recovery notice, ready for the sinks (no secrets: built from findings only)."""

    kind: NoticeKind
    component: str
    level: Level
    checks: int                # consecutive non-healthy checks (for a recovery: how many it was down)
    summary: str
    since_ms: int              # first non-healthy check of the streak
    at_ms: int

    @property
    def text(self) -> str:
        if self.kind is NoticeKind.ALERT:
            return (f"🏥 {self.component} {self.level.name} for {self.checks} consecutive checks: {self.summary}")
        minutes = (self.at_ms - self.since_ms) / 60_000
        return f"🏥 {self.component} recovered (HEALTHY) after {self.checks} checks ({minutes:.1f} min) down"

    def as_dict(self) -> dict[str, object]:
        return {"text": self.text, "kind": self.kind.value, "component": self.component, "level": self.level.name,
                "checks": self.checks, "summary": self.summary, "since_ms": self.since_ms, "at_ms": self.at_ms}


@dataclass
class _Component:
    level: Level | None = None
    streak: int = 0
    since_ms: int = 0
    alerted: bool = False


@dataclass
class AlertBook:
    threshold: int
    _state: dict[str, _Component] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise ValueError(f"alert threshold must be at least 1, got {self.threshold}")

    def observe(self, checks: Iterable[ComponentHealth], now_ms: int) -> tuple[list[LevelChange], list[Notice]]:
        changes: list[LevelChange] = []
        notices: list[Notice] = []
        for check in checks:
            state = self._state.setdefault(check.component, _Component())
            if check.level != state.level and (state.level is not None or check.level is not Level.HEALTHY):
                changes.append(LevelChange(check.component, state.level, check.level, check.summary, now_ms))
            state.level = check.level
            if check.level is Level.HEALTHY:
                if state.alerted:
                    notices.append(Notice(NoticeKind.RECOVERY, check.component, check.level, state.streak,
                                          check.summary, state.since_ms, now_ms))
                state.streak, state.alerted = 0, False
                continue
            if state.streak == 0:
                state.since_ms = now_ms
            state.streak += 1
            if state.streak >= self.threshold and not state.alerted:
                state.alerted = True
                notices.append(Notice(NoticeKind.ALERT, check.component, check.level, state.streak, check.summary,
                                      state.since_ms, now_ms))
        return changes, notices

    def streak(self, component: str) -> int:
        state = self._state.get(component)
        return state.streak if state else 0

    def alerted(self, component: str) -> bool:
        state = self._state.get(component)
        return bool(state and state.alerted)
