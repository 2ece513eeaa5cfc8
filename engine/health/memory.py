"""Memory rules: the engine's resident memory and the system's memory in use."""

from __future__ import annotations

from dataclasses import dataclass

from engine.health.levels import ComponentHealth, Findings
from engine.health.thresholds import Thresholds

COMPONENT = "memory"
MIB = 1 << 20


@dataclass(frozen=True)
class MemoryInputs:
    rss_bytes: int
    system_percent: float


def evaluate(inputs: MemoryInputs, limits: Thresholds) -> ComponentHealth:
    found = Findings(COMPONENT)
    rss_mb = inputs.rss_bytes / MIB
    found.figure("engine resident memory", rss_mb, limits.rss, " MiB")
    found.figure("system memory in use", inputs.system_percent, limits.memory, " %")
    found.metrics.update(rss_mb=round(rss_mb, 1), system_percent=round(inputs.system_percent, 1))
    return found.result()
