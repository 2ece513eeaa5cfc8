"""The engine watches itself: pure rule sets per component (`websocket`, `memory`, `api`,
`database`, `trading`, `latency`) grade plain inputs into levels, `alerts` decides what to tell
whom, `report` is what `/health` and `slt health` show. The I/O (probes, the webhook sink, the
HTTP server, the monitor loop) lives in `probes`, `sink`, `server`, `monitor`, `metrics`."""

from engine.health.levels import ComponentHealth, Level
from engine.health.report import HealthReport
from engine.health.thresholds import Thresholds

__all__ = ["ComponentHealth", "HealthReport", "Level", "Thresholds"]
