"""Kline intervals Binance USDⓈ-M serves, their length, and the bar grid: the one table every part uses."""

from __future__ import annotations

from typing import overload

import numpy as np

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
INTERVAL_MS: dict[str, int] = {
    "1m": MINUTE_MS, "3m": 3 * MINUTE_MS, "5m": 5 * MINUTE_MS, "15m": 15 * MINUTE_MS, "30m": 30 * MINUTE_MS,
    "1h": HOUR_MS, "2h": 2 * HOUR_MS, "4h": 4 * HOUR_MS, "6h": 6 * HOUR_MS, "8h": 8 * HOUR_MS,
    "12h": 12 * HOUR_MS, "1d": DAY_MS, "3d": 3 * DAY_MS, "1w": 7 * DAY_MS,
}
WEEK_OFFSET_MS = 4 * DAY_MS  # weekly bars open on Mondays; 1970-01-01 was a Thursday


@overload
def align(time_ms: int, interval: str) -> int: ...
@overload
def align(time_ms: np.ndarray, interval: str) -> np.ndarray: ...
def align(time_ms: int | np.ndarray, interval: str) -> int | np.ndarray:
    """Open time of the `interval` bar containing `time_ms`."""
    size = INTERVAL_MS[interval]
    offset = WEEK_OFFSET_MS if interval == "1w" else 0
    return (time_ms - offset) // size * size + offset


def last_closed_open_time(interval: str, now_ms: int) -> int:
    """Open time of the latest bar that has closed by `now_ms` (its close time is before now)."""
    return align(now_ms - INTERVAL_MS[interval], interval)
