"""Latency rules: event-loop lag, the engine's CPU and threads, and the candle-to-acknowledgement
latency of the orders since the previous check (its worst)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.health.levels import ComponentHealth, Findings
from engine.health.thresholds import LOOP_LAG_MS, Thresholds

COMPONENT = "latency"


@dataclass(frozen=True)
class LatencyInputs:
    loop_lag_ms: float
    cpu_percent: float                   # engine process, % of one core
    threads: int
    candle_to_ack_ms: float | None = None  # worst since the previous check; None: no order
    loop_polls: int | None = None          # the loop's polls since it started (None: not measured)


def evaluate(inputs: LatencyInputs, limits: Thresholds) -> ComponentHealth:
    found = Findings(COMPONENT)
    found.figure("event-loop lag", inputs.loop_lag_ms, LOOP_LAG_MS, " ms")
    found.figure("engine CPU", inputs.cpu_percent, limits.cpu, " %")
    found.figure("engine threads", inputs.threads, limits.threads)
    if inputs.candle_to_ack_ms is not None:
        found.figure("candle to order acknowledged", inputs.candle_to_ack_ms, limits.candle_to_ack, " ms")
    found.metrics.update(loop_lag_ms=round(inputs.loop_lag_ms, 3), cpu_percent=round(inputs.cpu_percent, 1),
                         threads=inputs.threads,
                         candle_to_ack_ms=None if inputs.candle_to_ack_ms is None else round(inputs.candle_to_ack_ms, 2))
    if inputs.loop_polls is not None:
        found.metrics["loop_polls"] = inputs.loop_polls
    return found.result()
