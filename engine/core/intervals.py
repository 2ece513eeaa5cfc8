"""Kline intervals Binance USDⓈ-M serves, and their length."""

from __future__ import annotations

INTERVAL_MS: dict[str, int] = {
    "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
    "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000,
    "12h": 43_200_000, "1d": 86_400_000,
}


def last_closed_open_time(interval: str, now_ms: int) -> int:
    """Open time of the latest bar that has closed by `now_ms` (its close time is before now)."""
    step = INTERVAL_MS[interval]
    return ((now_ms - step) // step) * step
