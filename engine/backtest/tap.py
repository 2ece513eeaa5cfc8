"""What the replay publishes, as the live engine would receive it, in the order it happened.

The simulator's replay (`engine.sim.replay.Replay.step_once`) walks each bar's path: per point it
publishes ticks (mark prices), runs the exchange core on the new quote (triggers, fills,
liquidation, whose user-data events it dispatches) and at the bar's last point publishes the closed
klines. The tap stands where the websocket hub and the user-data fan-out stand in the server, and
turns those payloads into the domain events the live parsers make of them (`engine.feeds.parse`,
`engine.feeds.user_parse`): `MarkPrice` from `markPriceUpdate`, a closed `Candle` per bar close
of the engine's interval, `OrderUpdate`/`AlgoUpdate`/`AccountUpdate` per exchange event.

The live feed subscribes to `<symbol>@kline_<interval>` and `<symbol>@markPrice@1s`; so does the tap.

Mark prices are conflated, which changes no decision: the engine acts only on a candle or a user-data
event (and on the tasks those start), and what it reads of marks then is the latest per symbol (the
PnL calculator keeps the newest quote, the clock the latest time) and the set of announced funding
times. So the latest mark per symbol is held back and delivered just before the next candle or user
event, before the engine settles after a step that delivered one, and whenever a symbol's next
funding time changes (each announced time reaches the funding ledger, as live). Without this a
backtest spends most of its time handing the engine 13 marks per bar per symbol that it overwrites.
The replay's per-tick publishing is reduced to the one stream the engine reads (the markPrice@1s
throttle, 1 s of replay time, kept)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from engine.core.clock import wall_ms
from engine.core.intervals import INTERVAL_MS
from engine.core.market import MarkPrice
from engine.core.types import Candle
from engine.core.user_events import UserEvent
from engine.feeds import user_parse
from engine.sim import payloads
from engine.sim.events import AccountEvent, AlgoEvent, ConfigEvent, Event, OrderEvent
from engine.sim.market import BarClose, Market, Tick
from engine.sim.venue import Venue
from engine.sim.views import next_funding

Delivered = tuple[str, Any]   # ("market", event) or (account, user event)


class Tap:
    """Installed on a simulator venue: collects what one replay step published, in order."""

    def __init__(self, sim: Venue, symbols: Iterable[str], interval: str, accounts: dict[str, str]) -> None:
        """`accounts`: simulator key -> engine account id."""
        self.sim = sim
        self.interval = interval
        self.step_ms = INTERVAL_MS[interval]
        self.accounts = accounts
        self.wanted = {f"{s.lower()}@markPrice@1s" for s in symbols}
        self.symbols = set(symbols)
        self.out: list[Delivered] = []
        self._acted = False
        self._closes: list[BarClose] = []
        self.max_queue = 1 << 30
        self.users: dict[str, Any] = {}
        self.connections: set[Any] = set()
        self._marks: dict[str, tuple[int, float, float]] = {}      # symbol -> (time, mark, last), held back
        self._funding: dict[str, tuple[int, float]] = {}           # symbol -> (next funding time, rate)
        self._announced: dict[str, int] = {}                       # symbol -> funding time last delivered
        self._sent: dict[str, int] = {}                            # markPrice@1s throttle per symbol
        self.changes = 0                                            # exchange events seen (any state change)
        self.step_once: Callable[[], bool] = sim.replay.step_once  # one path point (a Stepper replaces it)
        replay = sim.replay
        replay.hub = self            # the replay publishes market payloads here
        replay.dispatch = self.dispatch
        replay.publish_tick = self.publish_tick  # type: ignore[method-assign]
        market: Market = replay.market
        advance = market.advance

        def advance_and_keep(bar_open: int, k: int) -> tuple[list[Tick], list[BarClose]]:
            ticks, closes = advance(bar_open, k)
            if closes:
                self._closes.extend(closes)
            return ticks, closes
        market.advance = advance_and_keep  # type: ignore[method-assign]

    # ---- the hub's side, as the replay uses it ----------------------------------------------------
    def wants(self, stream: str) -> bool:
        return stream in self.wanted

    def backlog(self) -> int:
        return 0

    def publish(self, stream: str, payload: dict[str, Any] | list[Any]) -> None:
        return None              # only `<symbol>@markPrice@1s` is wanted, and `publish_tick` handles it

    def publish_tick(self, tick: Tick) -> None:
        """The replay's per-tick publishing for the streams the engine reads: markPrice@1s (at most one
        per second of replay time, as `Replay.publish_tick`), held back until it matters."""
        symbol, time = tick.symbol, tick.time
        if symbol not in self.symbols or time - self._sent.get(symbol, -1000) < 1000:
            return
        self._sent[symbol] = time
        state = self.sim.market.states[symbol]
        self._marks[symbol] = (time, state.mark, state.price)
        funding = self._funding.get(symbol)
        if funding is None or time >= funding[0]:
            self._funding[symbol] = funding = next_funding(state, time)
        if self._announced.get(symbol) != funding[0]:
            self._flush()

    def _flush(self) -> None:
        """The held-back marks, as the live parser makes them of `frames.mark_price` payloads."""
        if not self._marks:
            return
        got = wall_ms()
        for symbol, (time, mark, price) in self._marks.items():
            when, rate = self._funding[symbol]
            self._announced[symbol] = when
            self.out.append(("market", MarkPrice(symbol, Decimal(f"{mark:.8f}"), Decimal(f"{price:.8f}"),
                                                 Decimal(f"{rate:.8f}"), when, time, got)))
        self._marks.clear()

    # ---- the user-data side -------------------------------------------------------------------
    def dispatch(self, events: Iterable[Event]) -> None:
        """Exchange-core events as the account's user-data stream parses them."""
        specs = self.sim.exchange.specs
        for event in events:
            self.changes += 1
            account = self.accounts.get(event.account)
            if account is None:
                continue
            parsed = user_event(event, account, specs)
            if parsed is not None:
                self._flush()
                self.out.append((account, parsed))
                self._acted = True

    # ---- one step -----------------------------------------------------------------------------
    def step(self) -> list[Delivered]:
        """Run one path point of the replay; what it published (bar closes last, as the replay does)."""
        self._acted = False
        self.step_once()
        if self._closes:
            now = self.sim.replay.now_ms
            for close in self._closes:
                if close.interval == self.interval and close.symbol in self.symbols:
                    bar = close.bar
                    self._flush()
                    self._acted = True
                    self.out.append(("market", Candle(close.symbol, close.interval, bar.open_time,
                                                      bar.open_time + self.step_ms - 1, bar.open, bar.high, bar.low,
                                                      bar.close, bar.volume, True, now, wall_ms())))
            self._closes.clear()
        if self._acted:
            self._flush()        # the engine settles next: it sees every mark of the step, as live
        return self.take()

    def flush(self) -> list[Delivered]:
        """Every held-back mark now (before the engine stops: its final snapshot values at them)."""
        self._flush()
        return self.take()

    def take(self) -> list[Delivered]:
        out, self.out = self.out, []
        return out


def user_event(event: Event, account: str, specs: dict[str, Any]) -> UserEvent | None:
    """One exchange-core event through the simulator's frame builder and the live frame parser."""
    got = wall_ms()
    if isinstance(event, OrderEvent):
        return user_parse.order_update(payloads.order_update(event, specs[event.order.symbol]), account, got)
    if isinstance(event, AlgoEvent):
        return user_parse.algo_update(payloads.algo_update(event, specs[event.algo.symbol]), account, got)
    if isinstance(event, AccountEvent):
        return user_parse.account_update(payloads.account_update(event, specs), account, got)
    if isinstance(event, ConfigEvent):
        return None          # ACCOUNT_CONFIG_UPDATE: the engine does not act on it
    raise TypeError(f"unknown exchange event {event!r}")

