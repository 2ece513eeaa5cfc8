"""Where a feed resumes: the last stored candle of each stream, so that downtime is backfilled
(`engine.wiring.open_feed` starts a configured feed from these points)."""

from __future__ import annotations

from engine.config import Settings
from engine.store import connect, init_store
from engine.store.lake import ALIAS
from engine.store.reader import query


def stored_resume_points(settings: Settings, symbols: tuple[str, ...], intervals: tuple[str, ...]
                         ) -> dict[tuple[str, str], int | None]:
    """Open time of the last stored candle of each stream (None: none stored yet)."""
    init_store(settings)
    points: dict[tuple[str, str], int | None] = {(s, i): None for s in symbols for i in intervals}
    with connect(settings, read_only=True) as lake:
        rows = query(lake, f"SELECT symbol, interval, max(open_time) AS last FROM {ALIAS}.candles GROUP BY ALL")
    for row in rows:
        key = (row["symbol"], row["interval"])
        if key in points:
            points[key] = int(row["last"])
    return points
