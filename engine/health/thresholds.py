"""The configured limits and the bands derived from them (README: Health).

Each configured figure is where its component becomes UNHEALTHY; DEGRADED starts earlier and
CRITICAL later by the fixed factors below, so one number per figure is enough to configure.
Defaults are the original system's: memory 85 %, CPU 90 %, 500 threads, API 5000 ms, websocket
silence 60 s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.health.levels import Band

if TYPE_CHECKING:
    from engine.config import Settings

LOOP_LAG_MS = Band(100, 1000, 5000)          # event-loop lag: a tick late by this much
CANDLES_WAITING = Band(1, 100)                # closed candles waiting for room in the engine's queue
JOURNAL_BACKLOG = Band(10_000, 100_000)       # records journaled, not yet in the store
COMMIT_AGE_S = Band(15, 60, 600)              # since the store last took a batch, while records wait
DISK_FREE_PERCENT = Band(10, 5, 2)            # lower is worse
REJECTS_PER_CHECK = Band(1, 5)
UNKNOWN_ORDERS = Band(1, 5)


@dataclass(frozen=True)
class Thresholds:
    memory_percent: float = 85.0      # system memory in use, %
    rss_mb: float = 4096.0            # engine process resident memory, MiB
    cpu_percent: float = 90.0         # engine process CPU, % of one core
    thread_count: int = 500           # engine process threads
    api_latency_ms: float = 5000.0    # exchange round trip
    ws_lag_seconds: float = 60.0      # market stream silence
    max_daily_drawdown: float = 0.05  # the kill switch's limit (a fraction)

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        return cls(memory_percent=settings.health_memory_percent, rss_mb=settings.health_rss_mb,
                   cpu_percent=settings.health_cpu_percent, thread_count=settings.health_thread_count,
                   api_latency_ms=settings.health_api_latency_ms, ws_lag_seconds=settings.ws_lag_seconds,
                   max_daily_drawdown=settings.max_daily_drawdown)

    @property
    def memory(self) -> Band:
        return Band(0.8 * self.memory_percent, self.memory_percent, (self.memory_percent + 100) / 2)

    @property
    def rss(self) -> Band:
        return Band(0.8 * self.rss_mb, self.rss_mb, 2 * self.rss_mb)

    @property
    def cpu(self) -> Band:
        return Band(0.8 * self.cpu_percent, self.cpu_percent)

    @property
    def threads(self) -> Band:
        return Band(0.8 * self.thread_count, self.thread_count, 2 * self.thread_count)

    @property
    def api_latency(self) -> Band:
        return Band(self.api_latency_ms / 5, self.api_latency_ms)

    @property
    def ws_silence(self) -> Band:
        return Band(self.ws_lag_seconds / 2, self.ws_lag_seconds, 5 * self.ws_lag_seconds)

    @property
    def candle_to_ack(self) -> Band:
        return Band(self.api_latency_ms / 5, self.api_latency_ms)

    @property
    def drawdown(self) -> Band:
        """Half the kill switch's limit is DEGRADED; at the limit entries stop (UNHEALTHY)."""
        return Band(self.max_daily_drawdown / 2, self.max_daily_drawdown)
