"""The detailed report: every component's verdict and the overall level (the worst), as JSON for
`GET /health` and as text for `slt health`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.health.levels import ComponentHealth, Level, worst

COMPONENTS = ("websocket", "memory", "api", "database", "trading", "latency")


@dataclass(frozen=True)
class HealthReport:
    taken_at: int                 # epoch ms
    checks: int                   # checks run since the engine started
    components: tuple[ComponentHealth, ...]
    streaks: dict[str, int]       # consecutive non-healthy checks per component
    alerted: tuple[str, ...] = () # components with an alert out (no recovery yet)

    @property
    def level(self) -> Level:
        return worst(c.level for c in self.components)

    @property
    def http_status(self) -> int:
        return 200 if self.level.serving else 503

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.level.name, "taken_at": self.taken_at, "checks": self.checks,
                "components": {c.component: {"status": c.level.name, "reasons": list(c.reasons),
                                             "streak": self.streaks.get(c.component, 0),
                                             "alerted": c.component in self.alerted, "metrics": c.metrics}
                               for c in self.components}}


def from_dict(data: dict[str, Any]) -> HealthReport:
    """The report back from `/health`'s JSON (what `slt health` prints); a bad field raises ValueError."""
    try:
        parts = data["components"]
        components = tuple(ComponentHealth(name, Level[p["status"]], tuple(p.get("reasons", ())),
                                           dict(p.get("metrics", {}))) for name, p in parts.items())
        return HealthReport(int(data["taken_at"]), int(data.get("checks", 0)), components,
                            {n: int(p["streak"]) for n, p in parts.items() if p.get("streak")},
                            tuple(n for n, p in parts.items() if p.get("alerted")))
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a health report: missing or bad field {exc}") from exc


def render(report: HealthReport) -> str:
    """The detailed text report: overall level, then one block per component with its figures."""
    when = datetime.fromtimestamp(report.taken_at / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [f"🏥 {report.level.name} at {when} (check {report.checks})", ""]
    width = max((len(c.component) for c in report.components), default=0)
    for c in _ordered(report.components):
        streak = report.streaks.get(c.component, 0)
        flags = (f"  {streak} checks down" if streak else "") + ("  alert sent" if c.component in report.alerted else "")
        lines.append(f"{c.component:<{width}}  {c.level.name:<9}  {c.summary}{flags}")
        figures = ", ".join(f"{k} {_show(v)}" for k, v in c.metrics.items())
        if figures:
            lines.append(f"{'':<{width}}  {'':<9}  {figures}")
    return "\n".join(lines)


def _ordered(components: Iterable[ComponentHealth]) -> list[ComponentHealth]:
    rank = {name: i for i, name in enumerate(COMPONENTS)}
    return sorted(components, key=lambda c: (rank.get(c.component, len(rank)), c.component))


def _show(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
