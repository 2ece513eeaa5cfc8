"""Health levels and one component's verdict.

A rule set (one module per component) turns a plain snapshot of inputs into a `ComponentHealth`:
its level is the worst of its findings, each finding a sentence naming the figure and the bound it
crossed. The overall level of a report is the worst component's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum

Metric = float | int | str | bool | None


class Level(IntEnum):
    """Ordered, so `max()` is "the worst"."""

    HEALTHY = 0
    DEGRADED = 1
    UNHEALTHY = 2
    CRITICAL = 3

    @property
    def serving(self) -> bool:
        """What a platform's health check wants: HEALTHY and DEGRADED still serve (HTTP 200)."""
        return self <= Level.DEGRADED


@dataclass(frozen=True)
class ComponentHealth:
    component: str
    level: Level
    reasons: tuple[str, ...] = ()
    metrics: dict[str, Metric] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        return "; ".join(self.reasons) if self.reasons else "ok"


def worst(levels: Iterable[Level]) -> Level:
    return max(levels, default=Level.HEALTHY)


@dataclass(frozen=True)
class Band:
    """Bounds of a figure where higher is worse: at or above `degraded` it is DEGRADED, and so on.
    `None` leaves that level out (a figure that can never be CRITICAL on its own)."""

    degraded: float | None
    unhealthy: float | None = None
    critical: float | None = None

    def level(self, value: float) -> Level:
        for level, bound in ((Level.CRITICAL, self.critical), (Level.UNHEALTHY, self.unhealthy),
                             (Level.DEGRADED, self.degraded)):
            if bound is not None and value >= bound:
                return level
        return Level.HEALTHY

    def scaled(self, factor: float) -> Band:
        return Band(*(None if b is None else b * factor for b in (self.degraded, self.unhealthy, self.critical)))

    def bound(self, level: Level) -> float | None:
        return {Level.DEGRADED: self.degraded, Level.UNHEALTHY: self.unhealthy, Level.CRITICAL: self.critical}.get(level)


class Findings:
    """Collects what one rule set found; `result()` is the component's verdict."""

    def __init__(self, component: str) -> None:
        self.component = component
        self.level = Level.HEALTHY
        self.reasons: list[str] = []
        self.metrics: dict[str, Metric] = {}

    def flag(self, level: Level, reason: str) -> None:
        if level > Level.HEALTHY:
            self.reasons.append(f"{reason} ({level.name})")
            self.level = max(self.level, level)

    def figure(self, what: str, value: float, band: Band, unit: str = "") -> Level:
        """Grade `value` on `band`; a non-healthy grade is a finding naming the bound crossed."""
        level = band.level(value)
        if level > Level.HEALTHY:
            self.flag(level, f"{what} {_fmt(value)}{unit} >= {_fmt(band.bound(level) or 0)}{unit}")
        return level

    def floor(self, what: str, value: float, band: Band, unit: str = "") -> Level:
        """Grade a figure where lower is worse (disk free): the band holds the bounds as upper limits."""
        level = band.scaled(-1).level(-value)
        if level > Level.HEALTHY:
            self.flag(level, f"{what} {_fmt(value)}{unit} <= {_fmt(band.bound(level) or 0)}{unit}")
        return level

    def result(self) -> ComponentHealth:
        return ComponentHealth(self.component, self.level, tuple(self.reasons), dict(self.metrics))


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:.2f}".rstrip("0").rstrip(".")
