"""The `candle-backfill` flow's logic: find the holes in the stored candles of each traded stream
over a lookback window, fetch exactly those bars over REST, store them.

The engine fills gaps itself while it runs (engine/feeds/backfill.py); this covers the periods it
was not running, so the flows that read history (regimes, training) find it. The window ends at
the last bar before the exchange's forming one (on the simulator that is replay time, not the wall
clock), and a rerun stores nothing new: a candle's record id is its symbol, interval and open time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.core.errors import DataError
from engine.core.intervals import INTERVAL_MS, align, last_closed_open_time
from engine.store.lake import ALIAS, Lake
from engine.store.reader import query

MAX_BARS_PER_STREAM = 200_000  # ~23 years of 1h bars, 139 days of 1m: a bound on one run's work


@dataclass(frozen=True)
class Hole:
    """Bars [first_open, last_open] (open times, inclusive) of one stream missing from the store."""

    symbol: str
    interval: str
    first_open: int
    last_open: int

    @property
    def bars(self) -> int:
        return (self.last_open - self.first_open) // INTERVAL_MS[self.interval] + 1

    @property
    def end_ms(self) -> int:
        """Where a range fetch stops: after the last missing bar's close."""
        return self.last_open + INTERVAL_MS[self.interval]


def window(interval: str, forming_open_ms: int, lookback_hours: float) -> tuple[int, int]:
    """Open times of the first and the last bar a run covers: the last is the one before the
    exchange's forming bar (which opened at `forming_open_ms`)."""
    if lookback_hours <= 0:
        raise DataError(f"lookback_hours must be positive, got {lookback_hours}")
    last = last_closed_open_time(interval, forming_open_ms)
    first = align(last - int(lookback_hours * 3_600_000) + INTERVAL_MS[interval], interval)
    if (last - first) // INTERVAL_MS[interval] + 1 > MAX_BARS_PER_STREAM:
        raise DataError(f"lookback of {lookback_hours:g} h is more than {MAX_BARS_PER_STREAM} {interval} bars: "
                        "shorten it or backfill in several runs")
    return first, last


def holes(symbol: str, interval: str, stored: Sequence[int], first: int, last: int) -> list[Hole]:
    """The runs of missing open times between `first` and `last` (inclusive), given the stored
    open times (sorted; outside the window or off the interval's grid they are ignored)."""
    step, found, expected = INTERVAL_MS[interval], [], first
    for t in stored:
        if t < expected or t > last or (t - first) % step:
            continue
        if t > expected:
            found.append(Hole(symbol, interval, expected, t - step))
        expected = t + step
    if expected <= last:
        found.append(Hole(symbol, interval, expected, last))
    return found


def stored_open_times(lake: Lake, symbol: str, interval: str, first: int, last: int) -> list[int]:
    rows = query(lake, f"SELECT DISTINCT open_time FROM {ALIAS}.candles WHERE symbol = ? AND interval = ? "
                       "AND open_time BETWEEN ? AND ? ORDER BY open_time", [symbol, interval, first, last])
    return [int(r["open_time"]) for r in rows]


def summary(found: Sequence[Hole], fetched: dict[tuple[str, str], int]) -> list[dict[str, object]]:
    """Artifact rows: per stream with a hole, how many holes, bars missing and bars fetched (fewer
    fetched than missing: the exchange has no bars there, e.g. before the symbol listed)."""
    streams = sorted({(h.symbol, h.interval) for h in found})
    return [{"symbol": s, "interval": i, "holes": sum(1 for h in found if (h.symbol, h.interval) == (s, i)),
             "bars missing": sum(h.bars for h in found if (h.symbol, h.interval) == (s, i)),
             "bars fetched": fetched.get((s, i), 0)} for s, i in streams]
