"""What the replay publishes, as the live engine would receive it, in the order it happened.

The simulator's replay (`engine.sim.replay.Replay.step_once`) walks each bar's path: per point it
publishes ticks (mark prices), runs the exchange core on the new quote (triggers, fills,
liquidation, whose user-data events it dispatches) and at the bar's last point publishes the closed
klines. The tap stands where the websocket hub and the user-data fan-out stand in the server, and
turns those payloads into the domain events the live parsers make of them (`engine.feeds.parse`,
`engine.feeds.user_parse`): `MarkPrice` from `markPriceUpdate`, a closed `Candle` per bar close
of the engine's interval, `OrderUpdate`/`AlgoUpdate`/`AccountUpdate` per exchange event.

The live feed subscribes to `<symbol>@kline_<interval>` and `<symbol>@markPrice@1s`; so does the tap."""

from __future__ import annotations

from collections.abc import Iterable
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
        self._closes: list[BarClose] = []
        self.max_queue = 1 << 30
        self.users: dict[str, Any] = {}
        self.connections: set[Any] = set()
        replay = sim.replay
        replay.hub = self            # the replay publishes market payloads here
        replay.dispatch = self.dispatch
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
        if isinstance(payload, dict) and payload.get("e") == "markPriceUpdate":
            self.out.append(("market", MarkPrice(payload["s"], Decimal(payload["p"]), Decimal(payload["i"]),
                                                 Decimal(payload["r"]), int(payload["T"]), int(payload["E"]),
                                                 wall_ms())))

    # ---- the user-data side -------------------------------------------------------------------
    def dispatch(self, events: Iterable[Event]) -> None:
        """Exchange-core events as the account's user-data stream parses them."""
        specs = self.sim.exchange.specs
        for event in events:
            account = self.accounts.get(event.account)
            if account is None:
                continue
            parsed = user_event(event, account, specs)
            if parsed is not None:
                self.out.append((account, parsed))

    # ---- one step -----------------------------------------------------------------------------
    def step(self) -> list[Delivered]:
        """Run one path point of the replay; what it published (bar closes last, as the replay does)."""
        self.sim.replay.step_once()
        if self._closes:
            now = self.sim.replay.now_ms
            for close in self._closes:
                if close.interval == self.interval and close.symbol in self.symbols:
                    bar = close.bar
                    self.out.append(("market", Candle(close.symbol, close.interval, bar.open_time,
                                                      bar.open_time + self.step_ms - 1, bar.open, bar.high, bar.low,
                                                      bar.close, bar.volume, True, now, wall_ms())))
            self._closes.clear()
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

