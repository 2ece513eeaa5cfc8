"""`health-sweep` as plain functions: the last hour's incidents from `health_events` and the engine's
own `/health`, summed up for people (a table and a markdown summary), and an alert when the engine
itself stopped answering (its monitor cannot report its own silence).

The sweep's verdict on the engine is a `health_events` row too (component `health.engine`), so the
alert follows the monitor's rule: one alert when the engine stops answering, nothing repeated while
it stays silent, one recovery notice on the first sweep that finds it answering again.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.core.clock import iso_utc
from engine.core.types import HealthEvent
from engine.health.alerts import Notice, NoticeKind
from engine.health.levels import Level
from engine.health.monitor import PREFIX
from engine.store import reader
from engine.store.lake import Lake

ENGINE = "engine"                 # the sweep's own component: health.engine
ENGINE_COMPONENT = PREFIX + ENGINE


@dataclass(frozen=True)
class EngineAnswer:
    """What `GET /health` gave: the HTTP status and the report, or why there was no answer."""

    url: str
    status: int | None = None
    report: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def answered(self) -> bool:
        return self.error is None

    @property
    def level(self) -> str:
        return str(self.report.get("status", "?")) if self.answered else "NOT ANSWERING"


def engine_health(url: str, timeout_s: float) -> EngineAnswer:
    """Ask the engine's `/health` (a 503 is an answer: UNHEALTHY, CRITICAL or STARTING)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as answer:
        with answer:
            status, body = answer.code, answer.read()
    except OSError as exc:
        reason = getattr(exc, "reason", None) or exc
        return EngineAnswer(url, error=f"{type(exc).__name__}: {reason}")
    try:
        report = json.loads(body)
    except ValueError:
        return EngineAnswer(url, status, error=f"HTTP {status} without a health report")
    if not isinstance(report, dict):
        return EngineAnswer(url, status, error=f"HTTP {status} without a health report")
    return EngineAnswer(url, status, report)


def incidents(lake: Lake, since_ms: int) -> list[HealthEvent]:
    """The monitor's and the sweep's rows (`health.*`) since `since_ms`, oldest first."""
    return [e for e in reader.health_events(lake, since=since_ms) if e.component.startswith(PREFIX)]


def last_engine_verdict(lake: Lake) -> HealthEvent | None:
    """The sweep's latest verdict on the engine (an alert out, or answering again)."""
    rows = reader.read(lake, HealthEvent, order_by="event_time DESC", limit=1, **{"component = ?": ENGINE_COMPONENT})
    return rows[0] if rows else None


@dataclass(frozen=True)
class Sweep:
    answer: EngineAnswer
    incidents: tuple[HealthEvent, ...]
    notice: Notice | None           # the alert or recovery to send (None: nothing new)
    verdict: HealthEvent | None     # the sweep's row to store with the notice
    window_ms: int
    at_ms: int

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(e.status for e in self.incidents))


def sweep(answer: EngineAnswer, recent: Sequence[HealthEvent], previous: HealthEvent | None, *, now_ms: int,
          window_ms: int) -> Sweep:
    """What one sweep found and whether the engine's silence starts (alert) or ends (recovery)."""
    down = previous is not None and previous.status == NoticeKind.ALERT.value
    notice = None
    if not answer.answered and not down:
        notice = Notice(NoticeKind.ALERT, ENGINE, Level.CRITICAL, 1,
                        f"the engine did not answer on {answer.url}: {answer.error}", now_ms, now_ms)
    elif answer.answered and down:
        assert previous is not None
        notice = Notice(NoticeKind.RECOVERY, ENGINE, Level.HEALTHY, 1, f"the engine answers again ({answer.level})",
                        previous.event_time, now_ms)
    verdict = None
    if notice is not None:
        verdict = HealthEvent(f"{ENGINE_COMPONENT}:{notice.kind.value}:{now_ms}", ENGINE_COMPONENT,
                              notice.kind.value, notice.text, json.dumps(notice.as_dict()), event_time=now_ms,
                              received_time=now_ms)
    return Sweep(answer, tuple(recent), notice, verdict, window_ms, now_ms)


def table(result: Sweep) -> list[dict[str, Any]]:
    """The incidents table: one row per `health_events` row of the window, newest first."""
    rows = [{"at": iso_utc(e.event_time), "component": e.component.removeprefix(PREFIX), "status": e.status,
             "message": e.message} for e in sorted(result.incidents, key=lambda e: e.event_time, reverse=True)]
    return rows or [{"at": iso_utc(result.at_ms), "component": "-", "status": "-",
                     "message": f"no incidents in the last {result.window_ms / 60_000:g} min"}]


def markdown(result: Sweep) -> str:
    """The summary: the engine's level now, the window's counts, components per status."""
    answer = result.answer
    lines = [f"# Health sweep at {iso_utc(result.at_ms)}", ""]
    if answer.answered:
        components = answer.report.get("components", {})
        lines.append(f"**Engine: {answer.level}** (HTTP {answer.status} from `{answer.url}`, "
                     f"{answer.report.get('checks', '?')} checks since start)")
        if isinstance(components, dict) and components:
            lines += ["", "| component | level | reasons |", "|---|---|---|"]
            for name, body in components.items():
                reasons = "; ".join(body.get("reasons", [])) if isinstance(body, dict) else ""
                status = body.get("status", "?") if isinstance(body, dict) else "?"
                lines.append(f"| {name} | {status} | {reasons or '-'} |")
    else:
        lines.append(f"**Engine: NOT ANSWERING** on `{answer.url}`: {answer.error}")
    minutes = f"{result.window_ms / 60_000:g} min"
    counts = result.counts
    if counts:
        shown = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        lines += ["", f"Last {minutes}: {len(result.incidents)} health events ({shown})."]
        per = Counter(e.component.removeprefix(PREFIX) for e in result.incidents)
        lines.append("By component: " + ", ".join(f"{c} {n}" for c, n in sorted(per.items())) + ".")
    else:
        lines += ["", f"Last {minutes}: no health events."]
    if result.notice is not None:
        lines += ["", f"Sent: {result.notice.text}"]
    return "\n".join(lines)
