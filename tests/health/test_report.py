"""The detailed report: overall level, HTTP status, JSON round trip and the text form."""

from __future__ import annotations

import json

import pytest

from engine.health.levels import ComponentHealth, Level
from engine.health.report import HealthReport, from_dict, render


def report(*levels: Level) -> HealthReport:
    names = ("websocket", "memory", "api", "database", "trading", "latency")
    return HealthReport(1_746_489_600_000, 7, tuple(
        ComponentHealth(n, lv, () if lv is Level.HEALTHY else (f"{n} is bad ({lv.name})",), {"x": 1.5, "ok": True})
        for n, lv in zip(names, levels, strict=False)), {"api": 2} if len(levels) > 2 else {}, ("api",))


@pytest.mark.parametrize(("levels", "overall", "status"), [
    ((Level.HEALTHY, Level.HEALTHY), Level.HEALTHY, 200),
    ((Level.HEALTHY, Level.DEGRADED), Level.DEGRADED, 200),
    ((Level.DEGRADED, Level.UNHEALTHY), Level.UNHEALTHY, 503),
    ((Level.CRITICAL, Level.HEALTHY), Level.CRITICAL, 503),
])
def test_overall_is_the_worst_component_and_sets_the_http_status(levels: tuple[Level, ...], overall: Level,
                                                                   status: int) -> None:
    found = report(*levels)
    assert (found.level, found.http_status) == (overall, status)


def test_json_round_trip() -> None:
    original = report(Level.HEALTHY, Level.DEGRADED, Level.UNHEALTHY)
    back = from_dict(json.loads(json.dumps(original.as_dict())))
    assert back == original
    assert original.as_dict()["status"] == "UNHEALTHY"


def test_a_bad_report_names_the_field() -> None:
    with pytest.raises(ValueError, match="components"):
        from_dict({"taken_at": 1})
    with pytest.raises(ValueError, match="not a health report"):
        from_dict({"taken_at": 1, "components": {"api": {"status": "FINE"}}})


def test_text_report_lists_every_component_with_its_figures() -> None:
    text = render(report(Level.HEALTHY, Level.DEGRADED, Level.UNHEALTHY))
    lines = text.splitlines()
    assert lines[0] == "🏥 UNHEALTHY at 2025-05-06 00:00:00 UTC (check 7)"
    assert any(line.startswith("api") and "UNHEALTHY" in line and "2 checks down  alert sent" in line for line in lines)
    assert any(line.startswith("websocket") and " ok" in line for line in lines)
    assert "x 1.5, ok yes" in text
