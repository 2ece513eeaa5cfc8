"""Closed candles per (symbol, interval), emitted strictly in open-time order, each exactly once.

Live candles arrive from the websocket, backfilled ones from REST, in any order and possibly twice
(a reconnect overlaps, a rotated connection delivers the same bar, backfill and live race). The
sequencer keeps, per stream, the open time of the last candle it emitted:

- a candle at or before it is a duplicate and is dropped (counted);
- the next one (last + interval) is emitted, followed by any held candles that are now contiguous;
- a later one reveals a hole: it is held, and `gaps()` reports the missing range for backfill.

Backfilled candles come from the exchange's own history, so they are authoritative: if REST
returns bars on both sides of an open time but not that one, the exchange has no bar there
(maintenance, no trades) and the sequencer moves past it (counted as `missing_at_exchange`)
instead of waiting forever.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.core.intervals import INTERVAL_MS, last_closed_open_time
from engine.core.types import Candle

MAX_HELD = 50_000  # per stream; beyond this the newest held bars are dropped and backfilled later


@dataclass(frozen=True)
class Gap:
    """Closed bars [first, last] (open times, inclusive) of one stream that must be fetched."""

    symbol: str
    interval: str
    first: int
    last: int

    @property
    def bars(self) -> int:
        return (self.last - self.first) // INTERVAL_MS[self.interval] + 1


@dataclass
class StreamState:
    step: int
    last: int | None = None
    held: dict[int, Candle] = field(default_factory=dict)
    duplicates: int = 0
    missing_at_exchange: int = 0
    dropped_held: int = 0
    emitted: int = 0


class CandleSequencer:
    def __init__(self) -> None:
        self._streams: dict[tuple[str, str], StreamState] = {}

    def state(self, symbol: str, interval: str) -> StreamState:
        key = (symbol, interval)
        state = self._streams.get(key)
        if state is None:
            state = self._streams[key] = StreamState(step=INTERVAL_MS[interval])
        return state

    def resume_from(self, symbol: str, interval: str, last_open_time: int | None) -> None:
        """Continue after the last candle already stored (on start), so downtime is backfilled."""
        state = self.state(symbol, interval)
        if last_open_time is not None and (state.last is None or last_open_time > state.last):
            state.last = last_open_time

    def offer(self, candle: Candle) -> list[Candle]:
        """A live closed candle; returns the candles that may now be emitted, in order."""
        state = self.state(candle.symbol, candle.interval)
        t = candle.open_time
        if state.last is None:
            state.last = t - state.step  # first candle ever seen on this stream starts it
        if t <= state.last or t in state.held:
            state.duplicates += 1
            return []
        if t != state.last + state.step:
            self._hold(state, candle)
            return []
        out = [candle]
        state.last = t
        self._release(state, out)
        state.emitted += len(out)
        return out

    def fill(self, symbol: str, interval: str, candles: list[Candle]) -> list[Candle]:
        """Backfilled closed candles (sorted or not); returns what may now be emitted, in order."""
        state = self.state(symbol, interval)
        out: list[Candle] = []
        for candle in sorted(candles, key=lambda c: c.open_time):
            t = candle.open_time
            if state.last is None:
                state.last = t - state.step
            if t <= state.last:
                state.duplicates += 1
                continue
            if t != state.last + state.step:
                # The exchange's history skips these bars: they will never exist.
                state.missing_at_exchange += (t - state.last) // state.step - 1
            state.held.pop(t, None)
            out.append(candle)
            state.last = t
            self._release(state, out)
        state.emitted += len(out)
        return out

    def gaps(self, exchange_time: int) -> list[Gap]:
        """Holes to backfill: before the first held candle, or up to the last bar closed by
        `exchange_time` (the latest event time seen from the exchange)."""
        found: list[Gap] = []
        for (symbol, interval), state in self._streams.items():
            if state.last is None:
                continue
            first = state.last + state.step
            if state.held:
                last = min(state.held) - state.step
            else:
                last = last_closed_open_time(interval, exchange_time)
            if last >= first:
                found.append(Gap(symbol, interval, first, last))
        return found

    def _hold(self, state: StreamState, candle: Candle) -> None:
        if len(state.held) >= MAX_HELD:
            newest = max(state.held)
            if candle.open_time > newest:
                state.dropped_held += 1
                return
            del state.held[newest]
            state.dropped_held += 1
        state.held[candle.open_time] = candle

    @staticmethod
    def _release(state: StreamState, out: list[Candle]) -> None:
        while state.held:
            nxt = state.held.pop(state.last + state.step, None)  # type: ignore[operator]
            if nxt is None:
                break
            out.append(nxt)
            state.last = nxt.open_time
