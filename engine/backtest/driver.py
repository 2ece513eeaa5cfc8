"""The backtest: the live engine's own parts (built by `engine.wiring`, started and stopped by
`engine.runtime`) against the simulator's exchange core in the same process, event by event on
exchange time.

    sim Venue (tapes, matching, margin, funding) --Tap--> marks, closed candles, user events
        -> Trader.on_market / AccountSync.on_user_event -> order manager tasks -> InProcessVenue
        -> the same exchange core, at the same replay time

One replay step is one point of a bar's intra-candle path (`SimOptions.ticks_per_bar` + 1 per bar).
After each step every event it published is delivered in order, and the engine's tasks (orders,
protective orders, cancels, trade closings, funding reads) run to completion before the next point:
the engine is never slower than the market, as it is live when it keeps up. A closed candle reaches
the engine at its close (the bar's last path point), never before: no look-ahead by construction.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pyarrow

from engine.accounts.account import Account
from engine.backtest.parts import InProcessFeed, InProcessStream, MemoryRecorder
from engine.backtest.policies import build_policy
from engine.backtest.stepper import Stepper
from engine.backtest.tap import Tap
from engine.backtest.venue import InProcessVenue
from engine.config import Settings
from engine.core.clock import ExchangeClock
from engine.core.intervals import INTERVAL_MS
from engine.core.secret import Secret
from engine.core.types import Candle, Fill, FundingPayment, TradeEntry, TradeExit
from engine.execution.desk import Desk
from engine.execution.reconcile import StoreView
from engine.execution.startup import StoredState
from engine.runtime import Engine, Parts
from engine.signals.features import warmup_bars
from engine.signals.model import ServedModel
from engine.sim.options import AccountSpec, SimOptions
from engine.sim.venue import Venue
from engine.wiring import (
    DeskSpec,
    accounts_from_settings,
    build_desk,
    build_trader,
    market_pnl,
    protection_rule,
    trader_hooks,
)

log = logging.getLogger("engine.backtest")
EMPTY_STATE = StoredState(StoreView((), frozenset(), frozenset(), frozenset(), frozenset()), (), (), (), 0)
SETTLE_ROUNDS = 10_000     # loop turns the engine may take to finish what one replay step started
REPORTED = (TradeEntry, TradeExit, Fill, FundingPayment)   # what the report and the store read


class BacktestError(Exception):
    """A backtest that cannot run as asked (bad input, no data, an engine that does not settle)."""


@dataclass
class Run:
    """What a backtest produced: every record the engine journaled, in order, and the equity curve."""

    settings: Settings
    start_ms: int
    end_ms: int
    records: MemoryRecorder
    equity: list[tuple[int, Decimal]] = field(default_factory=list)   # (bar close, summed equity)
    exposure: list[tuple[int, Decimal]] = field(default_factory=list)  # (bar close, gross notional)
    regimes: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # symbol -> (from ms, regime)
    bars: int = 0
    steps: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    initial_equity: Decimal = Decimal(0)
    final_equity: Decimal = Decimal(0)
    stopped_at: int | None = None


def engine_warmup(settings: Settings) -> int:
    """The bars the engine warms up on before trading (as `engine.wiring.build_engine`: the indicators'
    and the model features' need)."""
    return max(settings.warmup_bars, warmup_bars(settings.interval))


def sim_accounts(accounts: tuple[Account, ...], equity: Decimal) -> tuple[AccountSpec, ...]:
    """One simulator account per engine account, keyed by the engine's id, each holding `equity` x weight."""
    total = sum((a.weight for a in accounts), Decimal(0)) or Decimal(1)
    return tuple(AccountSpec(f"bt-{a.id}", Secret(f"bt-{a.id}-secret"),
                             equity * a.weight / total) for a in accounts)


class Backtest:
    """One run over `sim`'s tape. `options` must be the ones `sim` was built with."""

    def __init__(self, settings: Settings, sim: Venue, accounts: tuple[Account, ...], *,
                 model: ServedModel | None = None, progress: Callable[[int, int], None] | None = None,
                 keep: tuple[type, ...] | None = None, full_path: bool = False) -> None:
        """`model`: the version the policy serves (None: the bootstrap proposals, as the live engine with
        no champion); `keep`: the record types to hold (default all; `REPORTED` is what the report and
        the store need); `full_path`: run every symbol at every path point (`Replay.step_once`) instead
        of skipping the points of symbols at which nothing can happen (`Stepper`; the same run)."""
        self.settings = settings
        self.sim = sim
        self.keys = {f"bt-{a.id}": a.id for a in accounts}
        self.recorder = MemoryRecorder(keep)
        self.clock = ExchangeClock()
        self.tap = Tap(sim, settings.symbols, settings.interval, self.keys)
        self.stepper = None if full_path else Stepper(sim, self.tap)
        self.progress = progress
        pnl = market_pnl(settings)
        trader = None
        hooks = trader_hooks(lambda: trader)
        self.desks: list[Desk] = []
        for account in accounts:
            spec = DeskSpec(account, "in-process", "in-process", INTERVAL_MS[settings.interval],
                            snapshot_every_ms=int(settings.snapshot_seconds * 1000))
            venue = InProcessVenue(sim, f"bt-{account.id}", account.id, self.tap.dispatch)
            self.desks.append(build_desk(spec, recorder=self.recorder, clock=self.clock, pnl=pnl, hooks=hooks,
                                         venue=venue, stream=lambda _sync: InProcessStream()))
        policy = build_policy(settings, lambda: trader, self.desks[0].manager.record, self.clock, model)
        trader = build_trader(settings, self.desks, self.clock, policy=policy, features=policy.features)
        self.trader = trader
        self.feed = InProcessFeed()

        async def load_state(ids: list[str]) -> tuple[dict[str, StoredState], dict[str, int]]:
            return {a: EMPTY_STATE for a in ids}, {}

        self.engine = Engine(Parts(desks=self.desks, trader=trader, clock=self.clock, interval=settings.interval,
                                   warmup_bars=engine_warmup(settings), load_state=load_state,
                                   make_feed=lambda _resume, _symbols: self.feed, symbols=settings.symbols,
                                   rule=protection_rule(settings), leverage=settings.leverage))

    async def run(self, *, stop_at_ms: int | None = None, observe: Callable[[int], None] | None = None) -> Run:
        """Start the engine as live, replay to the end of the tape (or the bar closing at or before
        `stop_at_ms`), stop it as live. `observe(steps)` is called once the engine has settled after
        each replay step (the parity test compares the exchange's state there)."""
        replay = self.sim.replay
        run = Run(self.settings, replay.start_ms, replay.end_ms, self.recorder)
        began = time.monotonic()
        await self.engine.start()
        await self.settle()
        run.initial_equity = self.equity()
        bar_ms = INTERVAL_MS[self.sim.market.interval]
        total = max(1, (replay.end_ms - replay.bar_open) // bar_ms)
        keeper = self.trader.kill_switch
        try:
            while not replay.finished:
                if stop_at_ms is not None and replay.bar_open + bar_ms - 1 > stop_at_ms:
                    run.stopped_at = stop_at_ms
                    break
                closed_bar = replay.k == self.sim.market.ticks
                events = self.tap.step()
                if events:
                    self.deliver(events)
                run.steps += 1
                if self.tap.out or self.busy():
                    await self.settle()        # (else it would return at once: nothing pending, nobody busy)
                if observe is not None:
                    if self.stepper is not None:
                        self.stepper.materialize()     # what it observes is the full path's state
                    observe(run.steps)
                if closed_bar:
                    run.bars += 1
                    now = self.clock.now_ms()
                    if keeper is not None:
                        keeper.check(now)      # the midnight re-arm (live: the runtime's risk poll)
                    run.equity.append((now, self.equity()))
                    run.exposure.append((now, self.exposure()))
                    self._note_regimes(run, now)
                    if self.progress is not None:
                        self.progress(run.bars, total)
        finally:
            self.deliver(self.tap.flush())
            await self.settle()
            await self.engine.shutdown()
        run.final_equity = self.equity()
        run.end_ms = replay.bar_open
        run.seconds = time.monotonic() - began
        return run

    # ---- delivery -----------------------------------------------------------------------------
    def deliver(self, events: list[tuple[str, object]]) -> None:
        syncs = {d.account: d.sync for d in self.desks}
        on_market = self.trader.on_market
        for where, event in events:
            if where == "market":
                on_market(event)
            else:
                syncs[where].on_user_event(event)  # type: ignore[arg-type]

    async def settle(self) -> None:
        """Let the engine finish what the last events started: order calls, their answers' events."""
        for _ in range(SETTLE_ROUNDS):
            pending = self.tap.take()
            if pending:
                self.deliver(pending)
            if not pending and not self.busy():
                return
            await asyncio.sleep(0)
        raise BacktestError(f"the engine did not settle within {SETTLE_ROUNDS} loop turns at "
                            f"{self.sim.replay.now_ms}")

    def busy(self) -> bool:
        """An order task or an account sync task of the engine has not finished."""
        return any(d.manager.busy or d.sync._tasks for d in self.desks)

    # ---- observations -------------------------------------------------------------------------
    def equity(self) -> Decimal:
        """The accounts' summed equity as the exchange values it (wallet + unrealised at mark)."""
        ex = self.sim.exchange
        return sum((ex.equity(k) for k in self.keys), Decimal(0))

    def exposure(self) -> Decimal:
        ex = self.sim.exchange
        marks = ex.marks()
        return sum((abs(p.amount) * marks.get(s, Decimal(0)) for k in self.keys
                    for s, p in ex.accounts[k].positions.items() if p.amount), Decimal(0))

    def _note_regimes(self, run: Run, now: int) -> None:
        for symbol in self.trader.streams:
            regime = str(self.trader.risk.regime(symbol))
            seen = run.regimes.setdefault(symbol, [])
            if not seen or seen[-1][1] != regime:
                seen.append((now, regime))


def build_sim(settings: Settings, options: SimOptions, equity: Decimal,
              tapes: tuple | None = None) -> tuple[Venue, tuple[Account, ...]]:
    """The simulator for a backtest: paused (the driver steps it), one account per engine account."""
    accounts = accounts_from_settings(settings)
    from dataclasses import replace
    options = replace(options, paused=True, demo_account=False, accounts=sim_accounts(accounts, equity),
                      symbols=settings.symbols, interval=settings.interval)
    venue = Venue(options, tapes)
    pyarrow.default_memory_pool().release_unused()   # the Parquet reads' buffers (~50 MB the run never uses)
    return venue, accounts


def candles_of(run: Run) -> list[Candle]:
    return run.records.of(Candle)
