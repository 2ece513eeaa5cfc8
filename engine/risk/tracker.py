"""When and on what the engine evaluates each symbol's regime (pure: no I/O, no clock).

The engine trades on closed candles of `SLT_INTERVAL` (1m by default), so it already holds the
freshest prices there are. The tracker keeps the last 25 h of them per symbol (seeded from REST at
start, then fed every closed candle of the live feed) and evaluates `detect_regime` on them, which
resamples sub-hourly candles to hourly closes on a grid anchored at the evaluation time. So the
24 h change and volatility are measured up to the last closed candle, not up to the last full
hour as 1h bars would be, without any extra REST traffic while trading (the simulator replays at
1200x: a REST fetch per check would compete with order traffic). Intervals above 1h cannot be
resampled down; the tracker then holds 1h candles topped up over REST (`behind`).

Checks fall on a fixed grid of exchange time: every multiple of `check_ms` since the epoch
(`RISK_REGIME_CHECK_INTERVAL`, 300 s: 00:00, 00:05, ...). A check at grid time g runs once the
candle closing at or after g has arrived, and evaluates at g exactly, so a restarted engine, a
replay at any speed and a scheduled flow using the same grid name the same reading (record id
`regime:<symbol>:<g>`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from engine.core.errors import DataError
from engine.core.intervals import HOUR_MS
from engine.core.types import Candle
from engine.risk.regime import (
    REGIME_INTERVAL_MS,
    WINDOW_HOURS,
    RegimeReading,
    check_time,
    detect_regime,
    next_check_time,
)

WINDOW_MS = (WINDOW_HOURS + 1) * HOUR_MS   # the 24 h window plus the hour its first close is read from


def regime_interval(traded_interval: str) -> str:
    """The candles regimes are measured on: the traded ones when they divide an hour, else 1h."""
    return traded_interval if traded_interval in REGIME_INTERVAL_MS else "1h"


class RegimeTracker:
    def __init__(self, interval: str, check_ms: int) -> None:
        if interval not in REGIME_INTERVAL_MS:
            raise DataError(f"regimes are measured on 1h candles or a divisor of an hour, got {interval!r}")
        if check_ms <= 0:
            raise DataError(f"the regime check interval must be > 0 ms, got {check_ms}")
        self.interval = interval
        self.step_ms = REGIME_INTERVAL_MS[interval]
        self.check_ms = check_ms
        self.keep_ms = WINDOW_MS + check_ms   # a check may evaluate up to one interval before the newest candle
        self._candles: dict[str, deque[Candle]] = {}
        self._next_due: dict[str, int] = {}

    # ---- candles ----------------------------------------------------------------------------
    def seed(self, symbol: str, candles: Iterable[Candle]) -> int:
        """Closed candles of `symbol` (any order, duplicates allowed) added to what is held; how many were new."""
        held = {c.open_time: c for c in self._candles.get(symbol, ())}
        before = len(held)
        for candle in candles:
            if candle.closed and candle.symbol == symbol and candle.interval == self.interval:
                held[candle.open_time] = candle
        self._candles[symbol] = deque(sorted(held.values(), key=lambda c: c.open_time))
        self._trim(symbol)
        return len(self._candles[symbol]) - before

    def add(self, candle: Candle) -> bool:
        """One closed candle from the live feed; False if it is not newer than the last one held."""
        if not candle.closed or candle.interval != self.interval:
            return False
        buffer = self._candles.setdefault(candle.symbol, deque())
        if buffer and candle.open_time <= buffer[-1].open_time:
            return False
        buffer.append(candle)
        self._trim(candle.symbol)
        return True

    def last_end(self, symbol: str) -> int | None:
        """When the newest candle held closed (open time + interval), None if none."""
        buffer = self._candles.get(symbol)
        return buffer[-1].open_time + self.step_ms if buffer else None

    def behind(self, symbol: str, now_ms: int) -> int | None:
        """The open time to fetch from if the candles held stop more than one interval before
        `now_ms` (the live feed does not deliver this interval); None if they are current."""
        end = self.last_end(symbol)
        if end is None:
            return now_ms - self.keep_ms
        return end if now_ms - end >= self.step_ms else None

    # ---- schedule ---------------------------------------------------------------------------
    def due(self, symbol: str, now_ms: int) -> int | None:
        """The grid time to evaluate `symbol` at, if a check is due by `now_ms` (the latest one
        when several were missed), else None. Call `done()` once it has run."""
        grid = check_time(now_ms, self.check_ms)
        nxt = self._next_due.get(symbol)
        return grid if nxt is None or grid >= nxt else None

    def done(self, symbol: str, at_ms: int) -> None:
        """A check of `symbol` at `at_ms` ran (or was taken over): the next is the grid time after it."""
        self._next_due[symbol] = max(self._next_due.get(symbol, 0), next_check_time(at_ms, self.check_ms))

    def reading(self, symbol: str, at_ms: int | None = None) -> RegimeReading:
        """`detect_regime` on the candles held, at `at_ms` (default: when the newest one closed).
        Raises `InsufficientHistory` (naming the missing hour) when the 24 h window is not covered."""
        return detect_regime(list(self._candles.get(symbol, ())), at=at_ms, symbol=symbol, interval=self.interval)

    def _trim(self, symbol: str) -> None:
        buffer = self._candles[symbol]
        if buffer:
            horizon = buffer[-1].open_time + self.step_ms - self.keep_ms
            while buffer and buffer[0].open_time + self.step_ms <= horizon:
                buffer.popleft()
