"""Live market state per symbol while the tape replays: where each symbol is on its candle path,
its last trade, mark and book prices, the unfinished bar of every interval, and the counters that
number trades and book updates.

`Market.advance(time, k, bar_open)` moves every symbol to path point k of the bar opening at
`bar_open` and returns what happened (ticks, bar closes, funding) for the replay to publish."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from engine.core.intervals import INTERVAL_MS, align
from engine.sim.instruments import SymbolSpec, decimals
from engine.sim.path import path_points, step_offsets
from engine.sim.pricing import Quote
from engine.sim.tape import Tape

CHUNK = 1024


@dataclass
class Partial:
    """An unfinished bar: OHLCV so far (floats, as the tape)."""

    open_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float

    def fold(self, high: float, low: float, close: float, volume: float) -> None:
        self.high = max(self.high, high)
        self.low = min(self.low, low)
        self.close = close
        self.volume += volume


@dataclass
class SymbolState:
    spec: SymbolSpec
    tape: Tape
    ticks: int
    price_dp: int = 0
    index: int = -1                   # current base bar in tape.base
    k: int = -1                       # current path point
    price: float = 0.0
    mark: float = 0.0
    bar: Partial | None = None        # the current base bar so far
    closed: dict[str, Partial] = field(default_factory=dict)   # interval -> closed base bars of its open bar
    last_range: Decimal = Decimal(0)
    last_volume: Decimal = Decimal(0)
    agg_id: int = 0
    book_id: int = 0
    step_qty: float = 0.0
    _chunk: tuple[int, np.ndarray, np.ndarray] | None = None

    def __post_init__(self) -> None:
        self.price_dp = decimals(self.spec.instrument.tick_size)

    @property
    def symbol(self) -> str:
        return self.spec.symbol

    def path(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Trade and mark prices of the n + 1 path points of base bar `index` (cached by chunk)."""
        if self._chunk is None or not self._chunk[0] <= index < self._chunk[0] + len(self._chunk[1]):
            base = self.tape.base
            sl = slice(index, min(len(base), index + CHUNK))
            prices = path_points(base.open[sl], base.high[sl], base.low[sl], base.close[sl], self.ticks, self.price_dp)
            times = base.open_time[sl, None] + step_offsets(base.interval_ms, self.ticks)[None, :]
            marks = np.round(prices * self.tape.mark_ratio(times), self.price_dp)
            self._chunk = (index, prices, marks)
        first, prices, marks = self._chunk
        return prices[index - first], marks[index - first]

    def partial(self, interval: str) -> Partial | None:
        """The unfinished bar of `interval`: its closed base bars plus the current one."""
        if self.bar is None:
            return None
        done = self.closed.get(interval)
        if done is None:
            return Partial(**vars(self.bar))
        merged = Partial(**vars(done))
        merged.fold(self.bar.high, self.bar.low, self.bar.close, self.bar.volume)
        return merged

    def quote(self, time: int) -> Quote:
        inst = self.spec.instrument
        return Quote.at(inst, Decimal(repr(self.price)), Decimal(repr(self.mark)), time,
                        bar_range=self.last_range, bar_volume=self.last_volume,
                        step_volume=Decimal(repr(self.step_qty)))


@dataclass(frozen=True)
class Tick:
    symbol: str
    time: int
    price: float
    mark: float
    qty: float
    buyer_maker: bool


@dataclass(frozen=True)
class BarClose:
    symbol: str
    interval: str
    bar: Partial


class Market:
    def __init__(self, tapes: dict[str, Tape], specs: dict[str, SymbolSpec], ticks_per_bar: int) -> None:
        self.states = {s: SymbolState(specs[s], tape, ticks_per_bar) for s, tape in tapes.items()}
        self.ticks = ticks_per_bar
        first = next(iter(tapes.values()))
        self.interval = first.base.interval
        self.intervals = list(first.history)
        self.offsets = step_offsets(INTERVAL_MS[self.interval], ticks_per_bar)

    def begin(self, bar_open: int) -> None:
        """Position every symbol before the bar opening at `bar_open`, folding the earlier base bars
        of each interval's open bar from history."""
        for state in self.states.values():
            state.index = state.tape.base.index_of(bar_open)
            if state.index < 0:
                raise ValueError(f"{state.symbol} has no {self.interval} bar at {bar_open}")
            base = state.tape.base
            for interval in self.intervals:
                start = int(align(bar_open, interval))
                i0 = int(np.searchsorted(base.open_time, start))
                if i0 < state.index:
                    sl = slice(i0, state.index)
                    state.closed[interval] = Partial(start, float(base.open[i0]), float(base.high[sl].max()),
                                                     float(base.low[sl].min()), float(base.close[state.index - 1]),
                                                     float(base.volume[sl].sum()))
            if state.index > 0:
                prev = state.index - 1
                state.last_range = Decimal(repr(float(base.high[prev]))) - Decimal(repr(float(base.low[prev])))
                state.last_volume = Decimal(repr(float(base.volume[prev])))

    def advance(self, bar_open: int, k: int) -> tuple[list[Tick], list[BarClose]]:
        """Move to path point k of the bar opening at `bar_open`; return the ticks and, at the last
        point, the bars that closed."""
        time = bar_open + int(self.offsets[k])
        ticks: list[Tick] = []
        closes: list[BarClose] = []
        for state in self.states.values():
            index = self.locate(state, bar_open)
            if index < 0:
                continue                   # no data for this symbol here
            ticks.append(self.advance_state(state, index, bar_open, k, time))
            if k == self.ticks:
                closes += self._close_bar(state, index)
        return ticks, closes

    def locate(self, state: SymbolState, bar_open: int) -> int:
        """The index of the bar opening at `bar_open` in `state`'s tape (-1: none), found from where it is."""
        base = state.tape.base
        if 0 <= state.index < len(base) and int(base.open_time[state.index]) == bar_open:
            return state.index
        return base.index_of(bar_open)

    def advance_state(self, state: SymbolState, index: int, bar_open: int, k: int, time: int) -> Tick:
        """One symbol to path point k of its bar `index` (opening at `bar_open`); its tick."""
        base = state.tape.base
        state.index = index
        prices, marks = state.path(index)
        price, mark = float(prices[k]), float(marks[k])
        volume = float(base.volume[index])
        state.step_qty = round(volume / (self.ticks + 1), 8)
        if k == 0 or state.bar is None or state.bar.open_time != bar_open:
            state.bar = Partial(bar_open, price, price, price, price, 0.0)
        buyer_maker = price < state.price
        state.price, state.mark, state.k = price, mark, k
        state.bar.fold(price, price, price, 0.0)
        state.bar.volume = round(volume * (k + 1) / (self.ticks + 1), 8)
        state.agg_id += 1
        state.book_id += 1
        return Tick(state.symbol, time, price, mark, state.step_qty, buyer_maker)

    def close_bar(self, state: SymbolState, index: int) -> list[BarClose]:
        """After the bar's last point: the bars of every interval that closed with it."""
        return self._close_bar(state, index)

    def override(self, symbol: str, time: int, price: float | None, mark: float | None) -> Tick:
        """Admin price injection: move the last and/or mark price off the tape until the next step."""
        state = self.states[symbol]
        previous = state.price
        if price is not None:
            state.price = price
        if mark is not None:
            state.mark = mark
        elif price is not None:
            state.mark = price
        state.agg_id += 1
        state.book_id += 1
        return Tick(symbol, time, state.price, state.mark, state.step_qty, state.price < previous)

    def _close_bar(self, state: SymbolState, index: int) -> list[BarClose]:
        base = state.tape.base
        final = Partial(int(base.open_time[index]), float(base.open[index]), float(base.high[index]),
                        float(base.low[index]), float(base.close[index]), float(base.volume[index]))
        state.bar = None
        state.index = index + 1
        state.last_range = Decimal(repr(final.high)) - Decimal(repr(final.low))
        state.last_volume = Decimal(repr(final.volume))
        closes = []
        end = final.open_time + base.interval_ms
        for interval in self.intervals:
            done = state.closed.get(interval)
            if done is None:
                done = Partial(**vars(final))
            else:
                done.fold(final.high, final.low, final.close, final.volume)
            if int(align(end, interval)) == end:
                closes.append(BarClose(state.symbol, interval, self._final(state, interval, done)))
                state.closed.pop(interval, None)
            else:
                state.closed[interval] = done
        return closes

    def _final(self, state: SymbolState, interval: str, running: Partial) -> Partial:
        """A closed bar exactly as the history arrays hold it (so streams equal REST)."""
        bars = state.tape.history[interval]
        i = bars.index_of(running.open_time)
        if i < 0:
            return running
        return Partial(int(bars.open_time[i]), float(bars.open[i]), float(bars.high[i]), float(bars.low[i]),
                       float(bars.close[i]), float(bars.volume[i]))
