"""The replay's path points, skipping the symbols at which nothing can happen.

`Replay.step_once` moves every symbol to the next point of its bar's path, publishes its tick and
runs the exchange core on the new quote. At a symbol's turn the new quote can only replace the old
one when the exchange calls it quiet (no conditional order waiting on it, no order resting on it, no
account holding it: `Exchange.quiet`) or calm for the rest of the bar (what waits or rests on it
cannot trigger or be touched at any price of the bar's remaining path, and no account holding it
can be liquidated at any mark its held symbols can take in the bar: `engine.sim.calm`, recomputed
whenever the exchange changes). Such a symbol is left where it is ("lagging"), and only what the tap
does with its tick is done: the markPrice@1s throttle and the held-back mark, read off the path (so
the engine receives the same marks, in the same order, as from the full path), unless the tick
would announce a new funding time (then it runs in full). A lagging symbol is brought to the point
exactly as the full path would have left it (its partial bar folded over the points it skipped, its
counters, price and mark, the exchange's quote of it) before anything can read it:

- a held one before another symbol's quote runs the core (whose liquidation and margin checks read
  held symbols' marks): to this point if its turn came before, to the previous one if it comes after;
- all of them when a step ends with anything to deliver (the engine runs next and may call the
  exchange), or `materialize()` is called (the driver's `observe`);
- a symbol at its own turn when it stops being quiet or calm, and at the bar's last point, which
  every symbol runs in full (there only its counters need bringing up: `_to_close`).

Nothing else reads a lagging symbol (the exchange core reads other symbols' quotes only where they
are held). So a run with skipping makes the records, fills and PnL of the full path:
tests/backtest/test_stepper.py compares the two record by record, with every event the engine was
handed and the final exchange and market state."""

from __future__ import annotations

from decimal import Decimal

from engine.backtest.tap import Tap
from engine.sim.calm import account_calm, orders_calm
from engine.sim.market import Partial, SymbolState
from engine.sim.venue import Venue


class Stepper:
    """Installed on a tap (`tap.step_once`); `skipped` counts the symbol-points not run."""

    def __init__(self, sim: Venue, tap: Tap) -> None:
        self.sim = sim
        self.tap = tap
        self.replay = sim.replay
        self.market = sim.market
        self.exchange = sim.exchange
        self.states = list(self.market.states.values())
        self.lagging: dict[str, tuple[SymbolState, int, int]] = {}   # symbol -> (state, bar index, order)
        self._calm: dict[str, tuple[int, int, int, bool]] = {}      # symbol -> (bar, changes, from point, calm)
        self._accounts: dict[str, tuple[int, int, bool]] = {}       # account -> (bar, changes, calm)
        self._ranges: dict[str, tuple[int, tuple[Decimal, Decimal]]] = {}   # symbol -> (bar, its marks' range)
        self._bar = -1
        self._rows: list[tuple[int, SymbolState, int, list[float], list[float], str]] = []
        self._rows_by_symbol: dict[str, tuple[int, SymbolState, int, list[float], list[float], str]] = {}
        self.skipped = 0
        tap.step_once = self.step_once

    # ---- one path point, as Replay.step_once ------------------------------------------------------
    def step_once(self) -> bool:
        """`Replay.step_once`, one symbol at a time (nothing a symbol's turn does reads another symbol's
        market state, and the exchange reads other symbols' quotes only where they are held)."""
        r, m, ex, tap = self.replay, self.market, self.exchange, self.tap
        if r.finished:
            return False
        bar_open, k = r.bar_open, r.k
        if self._bar != bar_open:
            self._begin_bar(bar_open)
        time = bar_open + int(m.offsets[k])
        closing = k == m.ticks
        r.now_ms = time
        lagging, sent, marks_held, known = self.lagging, tap._sent, tap._marks, self._calm
        for order, state, index, prices, marks, symbol in self._rows:
            if not closing:
                publish = time - sent.get(symbol, -1000) >= 1000      # Tap.publish_tick's throttle
                if publish:                                           # ... and no funding time to announce
                    funding = tap._funding.get(symbol)
                    calm = funding is not None and time < funding[0] and tap._announced.get(symbol) == funding[0]
                else:
                    calm = True
                if calm and not ex.quiet(symbol):
                    was = known.get(symbol)                           # (bar, changes, from point, calm)
                    if was is not None and was[0] == bar_open and was[1] == tap.changes and was[2] <= k:
                        calm = was[3]
                    else:
                        calm = self._calm_from(state, index, k)
                if calm:
                    if symbol not in lagging:
                        lagging[symbol] = (state, index, order)
                    self.skipped += 1
                    if publish and symbol in tap.symbols:             # what publish_tick does with the tick
                        sent[symbol] = time
                        marks_held[symbol] = (time, marks[k], prices[k])
                    continue
            if symbol in lagging:
                if closing:
                    self._to_close(symbol, k - 1)
                else:
                    self._catch_up(symbol, k - 1)
                del lagging[symbol]
            tick = m.advance_state(state, index, bar_open, k, time)
            if closing:
                tap._closes.extend(m.close_bar(state, index))
            r.publish_tick(tick)
            if lagging:
                self._held_to_point(order, k)
            r.dispatch(ex.update_quote(state.quote(time)))
        for close in tap._closes:
            r._publish_close(close, time)
        r.stats.steps += 1
        if closing:
            boundary = bar_open + r.interval_ms
            for symbol, state in m.states.items():
                rate = state.tape.funding_at(boundary)
                if rate is not None and symbol in ex.quotes:
                    r.stats.funding_events += 1
                    r.dispatch(ex.apply_funding(symbol, Decimal(repr(rate)), boundary))
            r.bar_open, r.k = boundary, 0
        else:
            r.k += 1
            if tap.out and self.lagging:
                self._materialize(k)                         # the engine runs next: it sees the full path's state
        return True

    def materialize(self) -> None:
        """Every lagging symbol to the last point run (its state and quote)."""
        if self.lagging:
            self._materialize(self.replay.k - 1)

    # ---- skipping ----------------------------------------------------------------------------------
    def _begin_bar(self, bar_open: int) -> None:
        """Where each symbol's bar is in its tape (as `Market.locate`) and its path as floats."""
        self._bar = bar_open
        self._rows = []
        for order, state in enumerate(self.states):
            index = self.market.locate(state, bar_open)
            if index >= 0:                                   # (no data for this symbol here: it sits out)
                prices, marks = state.path(index)
                self._rows.append((order, state, index, prices.tolist(), marks.tolist(), state.symbol))
        self._rows_by_symbol = {row[5]: row for row in self._rows}

    def _calm_from(self, state: SymbolState, index: int, k: int) -> bool:
        """Nothing of `symbol` can trigger, fill or liquidate at the bar's points from k to the last but one
        (kept in `_calm` until the bar ends or the exchange changes)."""
        symbol, bar, changes = state.symbol, self.replay.bar_open, self.tap.changes
        prices, marks = state.path(index)
        end = self.market.ticks                              # the last point always runs in full
        last = (Decimal(repr(float(prices[k:end].min()))), Decimal(repr(float(prices[k:end].max()))))
        mark = (Decimal(repr(float(marks[k:end].min()))), Decimal(repr(float(marks[k:end].max()))))
        calm = orders_calm(self.exchange, symbol, last, mark) and all(
            self._account_calm(key) for key in sorted(self.exchange.holders(symbol)))
        self._calm[symbol] = (bar, changes, k, calm)
        return calm

    def _account_calm(self, key: str) -> bool:
        """No liquidation of the account at any mark its held symbols can have in this bar."""
        bar, changes = self.replay.bar_open, self.tap.changes
        known = self._accounts.get(key)
        if known is not None and known[0] == bar and known[1] == changes:
            return known[2]
        account = self.exchange.accounts[key]
        ranges = {}
        for pos in account.positions.values():
            if pos.amount:
                bounds = self._mark_range(pos.symbol)
                if bounds is not None:
                    ranges[pos.symbol] = bounds
        calm = account_calm(account, ranges, self.exchange.specs)
        self._accounts[key] = (bar, changes, calm)
        return calm

    def _mark_range(self, symbol: str) -> tuple[Decimal, Decimal] | None:
        """The lowest and highest mark `symbol`'s quote can hold in this bar: its quote now and every
        point of the bar's path (None without a quote)."""
        quote = self.exchange.quotes.get(symbol)
        if quote is None:
            return None
        bar = self.replay.bar_open
        known = self._ranges.get(symbol)
        if known is None or known[0] != bar:
            state = self.market.states[symbol]
            index = self.market.locate(state, bar)
            if index < 0:
                known = (bar, (quote.mark, quote.mark))
            else:
                marks = state.path(index)[1]
                known = (bar, (Decimal(repr(float(marks.min()))), Decimal(repr(float(marks.max())))))
            self._ranges[symbol] = known
        low, high = known[1]
        return min(low, quote.mark), max(high, quote.mark)

    # ---- catching up -------------------------------------------------------------------------------
    def _held_to_point(self, order: int, k: int) -> None:
        """Before a quote's turn: every lagging symbol an account holds where the full path has it (the
        core's liquidation and margin checks read held symbols' marks): at point k if its turn came
        before, at k - 1 if it comes after."""
        holders = self.exchange.holders
        for symbol, (_, _, other) in list(self.lagging.items()):
            if holders(symbol):
                t = k if other < order else k - 1
                self._catch_up(symbol, t)
                if t == k:
                    del self.lagging[symbol]

    def _materialize(self, k: int) -> None:
        for symbol in list(self.lagging):
            self._catch_up(symbol, k)
        self.lagging.clear()

    def _to_close(self, symbol: str, t: int) -> None:
        """`_catch_up` to the point before the bar's last, where the symbol's own turn follows at once:
        what survives that turn is only its counters (the partial bar is folded and dropped by
        `close_bar`, price, mark and point are set anew, its quote is replaced before anything reads
        it; held symbols' quotes are brought up by `_held_to_point`)."""
        state, _, _ = self.lagging[symbol]
        start = state.k + 1 if state.bar is not None and state.bar.open_time == self.replay.bar_open else 0
        if t >= start:
            state.agg_id += t - start + 1
            state.book_id += t - start + 1
            state.k = t
            state.price = self._rows_by_symbol[symbol][3][t]   # the point's price (the tick's buyer_maker)
            state.mark = self._rows_by_symbol[symbol][4][t]

    def _catch_up(self, symbol: str, t: int) -> None:
        """A lagging symbol to point t of the current bar, as `Market.advance_state` would have moved it
        point by point, and the exchange's quote of it there (as `update_quote` left it: at a skipped
        turn it had nothing else to do)."""
        state, index, _ = self.lagging[symbol]
        bar_open, m = self.replay.bar_open, self.market
        start = state.k + 1 if state.bar is not None and state.bar.open_time == bar_open else 0
        if t < start:
            return
        prices, marks = state.path(index)
        volume = float(state.tape.base.volume[index])
        state.index = index
        state.step_qty = round(volume / (m.ticks + 1), 8)
        if start == 0:
            first = float(prices[0])
            state.bar = Partial(bar_open, first, first, first, first, 0.0)
        bar = state.bar
        assert bar is not None
        run = prices[start:t + 1]
        bar.high = max(bar.high, float(run.max()))
        bar.low = min(bar.low, float(run.min()))
        bar.close = float(prices[t])
        bar.volume = round(volume * (t + 1) / (m.ticks + 1), 8)
        state.price, state.mark, state.k = float(prices[t]), float(marks[t]), t
        state.agg_id += t - start + 1
        state.book_id += t - start + 1
        # the quote only: the core found nothing to do on it when its turn was skipped, and a check now
        # would run on the exchange as it is now, not as it was then
        self.exchange.quotes[symbol] = state.quote(bar_open + int(m.offsets[t]))
