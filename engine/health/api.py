"""Exchange API rules: the round trip of a light public call (server time), and the errors and
rate-limit answers the engine met since the previous check."""

from __future__ import annotations

from dataclasses import dataclass

from engine.health.levels import ComponentHealth, Findings, Level
from engine.health.thresholds import Thresholds

COMPONENT = "api"


@dataclass(frozen=True)
class ApiInputs:
    latency_ms: float | None      # None: the exchange did not answer
    error: str | None = None      # why it did not
    calls: int = 0                # exchange calls since the previous check
    errors: int = 0               # of which failed for a passing reason (no answer, 5xx, unreadable)
    rate_limited: int = 0         # 429/418 answers since the previous check


def evaluate(inputs: ApiInputs, limits: Thresholds) -> ComponentHealth:
    found = Findings(COMPONENT)
    if inputs.latency_ms is None:
        found.flag(Level.UNHEALTHY, f"exchange did not answer: {inputs.error or 'no answer'}")
    else:
        found.figure("exchange round trip", inputs.latency_ms, limits.api_latency, " ms")
    if inputs.rate_limited:
        found.flag(Level.DEGRADED, f"{inputs.rate_limited} rate-limit answers (429/418)")
    if inputs.errors:
        share = inputs.errors / max(inputs.calls, inputs.errors)
        found.flag(Level.UNHEALTHY if share >= 0.5 and inputs.errors >= 3 else Level.DEGRADED,
                   f"{inputs.errors} of {max(inputs.calls, inputs.errors)} exchange calls failed")
    found.metrics.update(latency_ms=None if inputs.latency_ms is None else round(inputs.latency_ms, 2),
                         calls=inputs.calls, errors=inputs.errors, rate_limited=inputs.rate_limited)
    return found.result()
