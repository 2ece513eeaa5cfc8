"""The composition root: every part of the engine built from the settings, in one place.

    Settings -> recorder (journal + store) -> per account (SLT_ACCOUNTS, or `main`): venue (ccxt),
             order manager + books, portfolio, account sync, user-data stream = a desk (`build_desk`)
             -> indicator streams, signal policy + admission, risk (regimes, kill switch), sizing -> trader
             -> market feed -> `Engine` (`build_engine`; its life cycle is `engine.runtime`)

`engine/__main__.py` and the test stack (`tests/execution/stack.py`) build desks here, so a test trades
on the same wiring as the engine. Parts get their collaborators as constructor arguments; where two parts
need each other (the order manager calls the trader's `enter` and the sync's `verify`, which hold the
manager), the root passes a call that reaches the other once it exists.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from engine.accounts.account import DEFAULT_ACCOUNT_ID, Account, AccountGroup, AccountType, build_accounts
from engine.config import ConfigError, Settings
from engine.core.clock import Clock, ExchangeClock, wall_ms
from engine.core.instrument import Instrument
from engine.core.intervals import INTERVAL_MS
from engine.core.secret import Secret
from engine.core.types import Order, SignalRecord, TradeExit
from engine.execution.batch import BatchCommands
from engine.execution.book import Book
from engine.execution.desk import Desk, StreamPort
from engine.execution.killswitch import KillSwitchKeeper
from engine.execution.manager import Enter, Gate, OrderManager
from engine.execution.pnl import PnlCalculator
from engine.execution.portfolio import Portfolio
from engine.execution.ports import RecorderPort, VenuePort
from engine.execution.protection import EntrySizing, ProtectionRule
from engine.execution.regimes import RegimeWatch
from engine.execution.startup import StoredState
from engine.execution.sync import AccountSync
from engine.execution.trader import Trader
from engine.risk import KillSwitch, RiskManager
from engine.risk.tracker import RegimeTracker, regime_interval
from engine.signals import Admission, BootstrapPolicy, SignalPolicy
from engine.signals.features import FeatureBook, warmup_bars
from engine.signals.model import ModelPolicy, ModelSlot

if TYPE_CHECKING:  # the exchange, feed, store and runtime load when an engine is built, not for `slt risk`
    from engine.feeds.backfill import CandleSource
    from engine.feeds.market import MarketFeed
    from engine.feeds.sink import CandleSink
    from engine.learning.serving import ModelWatch
    from engine.runtime import Engine
    from engine.venues.binance import BinanceVenue
    from engine.venues.retry import RetryPolicy

log = logging.getLogger("engine")

# ---- accounts -------------------------------------------------------------------------------------


def accounts_from_settings(settings: Settings) -> tuple[Account, ...]:
    """The configured accounts, or the single `main` account on `SLT_API_KEY` / `SLT_API_SECRET`."""
    if not settings.accounts:
        return (Account(DEFAULT_ACCOUNT_ID, AccountType.PRIMARY, Decimal(1), AccountGroup.NEUTRAL,
                        settings.api_key, settings.api_secret),)
    return build_accounts(settings.accounts, dict(settings.account_credentials))


def trading_accounts(settings: Settings) -> tuple[Account, ...]:
    """The accounts the engine trades; the simulator's public demo account when none has a key."""
    if settings.accounts or (settings.api_key.reveal() and settings.api_secret.reveal()):
        return accounts_from_settings(settings)
    if settings.exchange != "sim":
        raise ConfigError("invalid configuration:\n  SLT_API_KEY and SLT_API_SECRET are required for "
                          f"SLT_EXCHANGE={settings.exchange}")
    from engine.sim.options import DEMO_KEY, DEMO_SECRET
    return (Account(DEFAULT_ACCOUNT_ID, AccountType.PRIMARY, Decimal(1), AccountGroup.NEUTRAL,
                    Secret(DEMO_KEY), Secret(DEMO_SECRET)),)


# ---- one desk -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeskHooks:
    """What a desk's order manager calls back: the trader's sizing (`enter`), its risk gate and its
    closed-trade count. Defaults: no entries, every order passes, nothing counted."""

    enter: Enter | None = None
    gate: Gate | None = None
    on_closed: Callable[[TradeExit], None] | None = None


@dataclass(frozen=True)
class DeskSpec:
    """How to reach one account and how its parts are paced."""

    account: Account
    rest_url: str
    ws_url: str
    interval_ms: int
    timeout_ms: int = 10_000
    snapshot_every_ms: int = 60_000
    keepalive_s: float = 1800.0
    user_poll_s: float = 30.0
    retry: RetryPolicy | None = None   # None: the venue's default (engine.venues.retry)
    resolve_delay: float = 0.5
    retry_delay: float = 1.0


def desk_specs(settings: Settings) -> list[DeskSpec]:
    return [DeskSpec(account, settings.exchange_rest_url, settings.exchange_ws_url, INTERVAL_MS[settings.interval],
                     timeout_ms=int(settings.exchange_timeout * 1000),
                     snapshot_every_ms=int(settings.snapshot_seconds * 1000),
                     keepalive_s=settings.listen_key_keepalive, user_poll_s=settings.user_poll_seconds)
            for account in trading_accounts(settings)]


def build_desk(spec: DeskSpec, *, recorder: RecorderPort, clock: ExchangeClock, pnl: PnlCalculator,
               hooks: DeskHooks = DeskHooks(), books: dict[str, Book] | None = None, venue: VenuePort | None = None,
               stream: Callable[[AccountSync], StreamPort] | None = None) -> Desk:
    """One account's venue, order manager, portfolio, account sync and user-data stream. `venue` and
    `stream` replace the ccxt venue and the websocket user stream (the backtest's in-process ones)."""
    account = spec.account
    if venue is None:
        from engine.venues.binance import BinanceVenue
        # ccxt's client-side throttle queues every call behind the previous ones' weights (a 40-weight poll
        # would delay an order by 2 s); the engine's own REST use is bounded instead, and 429/418 answers
        # are honoured through Retry-After (engine.venues.retry)
        venue = BinanceVenue(account=account.id, rest_url=spec.rest_url, ws_url=spec.ws_url,
                             api_key=account.api_key, api_secret=account.api_secret, timeout_ms=spec.timeout_ms,
                             rate_limit=False, policy=spec.retry)
    sync: AccountSync | None = None

    def verify(symbol: str) -> None:  # the sync is built below, on this manager
        if sync is not None:
            sync.verify(symbol)

    manager = OrderManager(venue, recorder, clock, books if books is not None else {}, interval_ms=spec.interval_ms,
                           enter=hooks.enter, gate=hooks.gate, on_closed=hooks.on_closed, verify=verify,
                           resolve_delay=spec.resolve_delay, retry_delay=spec.retry_delay)
    portfolio = Portfolio(account.id, pnl, snapshot_every_ms=spec.snapshot_every_ms)
    sync = AccountSync(manager, venue, portfolio, clock)
    if stream is not None:
        user_stream = stream(sync)
    else:
        from engine.feeds.user_stream import UserStream, UserStreamOptions
        user_stream = UserStream(venue, spec.ws_url, account=account.id, handle=sync.on_user_event, poll=sync.poll,
                                 options=UserStreamOptions(keepalive_s=spec.keepalive_s,
                                                           poll_interval_s=spec.user_poll_s))
    return Desk(account.id, manager, portfolio, sync, user_stream, account.weight, account.group)


# ---- the shared parts -----------------------------------------------------------------------------


def risk_manager(settings: Settings, instruments: Mapping[str, Instrument], clock: Clock) -> RiskManager:
    return RiskManager(instruments, clock=clock, kill_switch=KillSwitch(Decimal(str(settings.max_daily_drawdown))))


def market_data_venue(settings: Settings, clock: Clock | None = None) -> BinanceVenue:
    """A venue for public market data on the configured exchange (no account, no keys needed);
    `start()` it before use and `close()` it after."""
    from engine.venues.binance import BinanceVenue

    return BinanceVenue(account="market-data", rest_url=settings.exchange_rest_url, ws_url=settings.exchange_ws_url,
                        api_key=Secret(""), api_secret=Secret(""), clock=clock)


def market_feed(settings: Settings, *, sink: CandleSink | None = None, source: CandleSource | None = None,
                resume: Mapping[tuple[str, str], int | None] | None = None, clock: Clock | None = None,
                **overrides: Any) -> MarketFeed:
    """The configured symbols and interval against the configured exchange. Without `source`, a
    market-data `BinanceVenue` on `exchange_rest_url` serves backfill (no key needed), started
    lazily and closed by `stop()`; `overrides` are `FeedOptions` fields."""
    from engine.feeds.market import MarketFeed
    from engine.feeds.options import FeedOptions

    fields: dict[str, Any] = {"symbols": settings.symbols, "intervals": (settings.interval,),
                              "ws_lag_seconds": settings.ws_lag_seconds, **overrides}
    options = FeedOptions(**fields)
    prepare = on_stop = None
    if source is None:
        venue = market_data_venue(settings, clock)
        source, prepare, on_stop = venue, venue.start, venue.close
    return MarketFeed(options, ws_url=settings.exchange_ws_url, source=source, sink=sink, clock=clock, resume=resume,
                      prepare=prepare, on_stop=on_stop)


async def open_feed(settings: Settings, sink: CandleSink, *, resume: bool = True, **overrides: Any) -> MarketFeed:
    """A started feed for the configured symbols and interval (`overrides`: `FeedOptions` fields).
    With `resume`, streams continue after the last candle in the store (the gap is backfilled)."""
    from engine.feeds.service import stored_resume_points

    intervals = tuple(overrides.pop("intervals", (settings.interval,)))
    points = None
    if resume:
        points = await asyncio.to_thread(stored_resume_points, settings, settings.symbols, intervals)
        for (symbol, interval), last in points.items():
            if last is not None:
                log.info("%s %s: resuming after the stored candle opened at %d", symbol, interval, last)
    feed = market_feed(settings, sink=sink, resume=points, intervals=intervals, **overrides)
    await feed.start()
    return feed


def market_pnl(settings: Settings) -> PnlCalculator:
    """The market's prices (one for all accounts): a quote is fresh for three bars, at least 10 s."""
    return PnlCalculator(max_age_ms=max(10_000, 3 * INTERVAL_MS[settings.interval]))


def trader_hooks(trader: Callable[[], Trader | None]) -> DeskHooks:
    """The desks' hooks into the trader, which is built on the desks: they reach it once it exists."""
    def enter(book: Book, signal: SignalRecord) -> Order | None:
        t = trader()
        return t.enter(book, signal) if t is not None else None

    def gate(book: Book, order: Order) -> Order | str:
        t = trader()
        return t.gate(book, order) if t is not None else order

    def on_closed(exit_: TradeExit) -> None:
        t = trader()
        if t is not None:
            t.on_closed(exit_)
    return DeskHooks(enter=enter, gate=gate, on_closed=on_closed)


def build_trader(settings: Settings, desks: list[Desk], clock: ExchangeClock, *,
                 policy: SignalPolicy | None = None, model_available: bool = False,
                 features: FeatureBook | None = None) -> Trader:
    """The decision side over the desks: indicator streams, policy and admission, risk with regimes
    and the kill switch, sizing. The live engine and the backtest build it here, so they decide alike."""
    from engine.indicators import IndicatorStream

    record = desks[0].manager.record  # one recorder for all accounts
    risk = risk_manager(settings, {}, clock)
    check_ms = int(settings.risk_regime_check_interval * 1000)
    regimes = RegimeWatch(RegimeTracker(regime_interval(settings.interval), check_ms), risk, record, wall_ms=wall_ms)
    keeper = KillSwitchKeeper(risk, record, [d.account for d in desks], wall_ms=wall_ms)
    return Trader(desks=desks, streams={s: IndicatorStream(s, settings.interval) for s in settings.symbols},
                  policy=policy or BootstrapPolicy(), admission=Admission(settings.bootstrap_trade_limit,
                                                                          settings.bootstrap_min_confidence,
                                                                          settings.bootstrap_min_win_probability),
                  risk=risk, sizing=EntrySizing(Decimal(repr(settings.entry_equity_fraction)), settings.leverage),
                  clock=clock, distribution=settings.account_distribution, regimes=regimes, kill_switch=keeper,
                  model_available=model_available, features=features)


def protection_rule(settings: Settings) -> ProtectionRule:
    return ProtectionRule(Decimal(repr(settings.stop_loss_atr)), Decimal(repr(settings.take_profit_atr)))


def model_serving(settings: Settings, trader: Callable[[], Trader | None], record: Callable[..., None],
                  clock: ExchangeClock) -> tuple[ModelPolicy, ModelWatch]:
    """The model policy (bootstrap proposals, scored by the served champion once
    `BOOTSTRAP_TRADE_LIMIT` trades have closed) and the watch that polls the champion alias."""
    from engine.learning.serving import MlflowModels, ModelWatch

    def takeover() -> bool:
        t = trader()
        return t is not None and t.closed_trades >= settings.bootstrap_trade_limit

    policy = ModelPolicy(FeatureBook(settings.symbols, settings.interval), ModelSlot(settings.model_max_failures),
                         takeover=takeover)
    watch = ModelWatch(MlflowModels(settings.mlflow_tracking_uri), policy, record, interval=settings.interval,
                       poll_s=settings.model_poll_seconds, now_ms=clock.now_ms)
    policy.on_event = watch.event
    return policy, watch


class EngineRecorder(RecorderPort, Protocol):
    """The recorder as the engine uses it: a `TradeRecorder`, or the health monitor's tap in front of one."""

    def flush(self) -> Awaitable[Any]: ...


def build_engine(settings: Settings, recorder: EngineRecorder, *, started: float) -> Engine:
    """Every account's desk, the trader over them, and the engine that runs them until told to stop."""
    from engine.runtime import Engine, Parts
    from engine.store.risk_reads import RiskReads

    clock = ExchangeClock()
    pnl = market_pnl(settings)
    trader: Trader | None = None

    hooks = trader_hooks(lambda: trader)
    desks = [build_desk(spec, recorder=recorder, clock=clock, pnl=pnl, hooks=hooks) for spec in desk_specs(settings)]
    policy, watch = model_serving(settings, lambda: trader, desks[0].manager.record, clock)
    trader = build_trader(settings, desks, clock, policy=policy, features=policy.features)

    async def load_state(ids: list[str]) -> tuple[dict[str, StoredState], dict[str, int]]:
        from engine.store import connect, reader
        from engine.store.state import load_trading_state
        await recorder.flush()  # the journal's tail is in the store

        def read() -> tuple[dict[str, StoredState], dict[str, int]]:
            with connect(settings, read_only=True) as lake:
                return ({a: load_trading_state(lake, a) for a in ids},
                        reader.last_candle_times(lake, settings.interval))
        return await asyncio.to_thread(read)

    def make_feed(resume: dict[tuple[str, str], int | None], symbols: tuple[str, ...]) -> MarketFeed:
        # the feed keeps its own (wall) clock: it stamps receive times and paces its watchdog
        return market_feed(settings, sink=recorder, resume=resume, symbols=symbols)

    rule = protection_rule(settings)
    return Engine(Parts(desks=desks, trader=trader, clock=clock, interval=settings.interval,
                        warmup_bars=max(settings.warmup_bars, warmup_bars(settings.interval)),
                        load_state=load_state, make_feed=make_feed, model_watch=watch,
                        symbols=settings.symbols, rule=rule, leverage=settings.leverage,
                        risk_store=RiskReads(settings), batch=BatchCommands(desks, desks[0].manager.record, wall_ms=wall_ms),
                        started=started))
