"""`python -m engine`: the streaming engine (the composition root: wiring only; the life cycle is
`engine.runtime`, the logic everything it wires).

    Settings -> recorder (journal + store) -> per account (SLT_ACCOUNTS, or `main`): venue (ccxt),
             order manager + books, portfolio, account sync, user-data stream = a desk
             -> indicator streams, signal policy + admission, risk (regimes, kill switch), sizing -> trader
             -> market feed -> Engine.run() until SIGTERM / Ctrl-C
    beside it: the health monitor (engine/health) on /health and /metrics, fed by a tap on the recorder

With `SLT_EXCHANGE=sim` and no key configured it trades the simulator's public demo account.
Exit codes: 0 after a clean stop, 1 when start-up failed (the reason is logged), 2 for bad settings.
"""

from __future__ import annotations

import time

STARTED = time.monotonic()  # before the heavy imports: start-up is measured from here

import asyncio
import logging
import signal
import sys
from decimal import Decimal
from typing import TYPE_CHECKING

from engine.config import ConfigError, Settings, load_settings
from engine.core.clock import ExchangeClock
from engine.core.errors import SltError
from engine.core.intervals import INTERVAL_MS
from engine.core.secret import Secret
from engine.logs import setup_logging

if TYPE_CHECKING:
    from engine.accounts import AccountGroup

log = logging.getLogger("engine")


def credentials(settings: Settings) -> tuple[Secret, Secret]:
    """The single account's key and secret; the simulator's public demo account when none is configured."""
    if settings.api_key.reveal() and settings.api_secret.reveal():
        return settings.api_key, settings.api_secret
    if settings.exchange != "sim":
        raise ConfigError("invalid configuration:\n  SLT_API_KEY and SLT_API_SECRET are required for "
                          f"SLT_EXCHANGE={settings.exchange}")
    from engine.sim.options import DEMO_KEY, DEMO_SECRET
    return Secret(DEMO_KEY), Secret(DEMO_SECRET)


def accounts(settings: Settings) -> list[tuple[str, Decimal, AccountGroup, Secret, Secret]]:
    """(id, weight, group, key, secret) of every account to trade: `SLT_ACCOUNTS`, or `main`."""
    from engine.accounts import AccountGroup, accounts_from_settings
    if not settings.accounts:
        return [("main", Decimal(1), AccountGroup.NEUTRAL, *credentials(settings))]
    return [(a.id, a.weight, a.group, a.api_key, a.api_secret) for a in accounts_from_settings(settings)]


def build(settings: Settings, recorder: object) -> object:
    from engine.core.clock import wall_ms
    from engine.execution.batch import BatchCommands
    from engine.execution.desk import Desk
    from engine.execution.killswitch import KillSwitchKeeper
    from engine.execution.manager import OrderManager
    from engine.execution.pnl import PnlCalculator
    from engine.execution.portfolio import Portfolio
    from engine.execution.protection import EntrySizing, ProtectionRule
    from engine.execution.regimes import RegimeWatch
    from engine.execution.sync import AccountSync
    from engine.execution.trader import Trader
    from engine.feeds.user_stream import UserStream, UserStreamOptions
    from engine.indicators import IndicatorStream
    from engine.risk import RiskManager
    from engine.risk.tracker import RegimeTracker, regime_interval
    from engine.runtime import Engine, Parts
    from engine.signals import Admission, BootstrapPolicy
    from engine.store.risk_reads import RiskReads
    from engine.venues.binance import BinanceVenue

    clock = ExchangeClock()
    interval_ms = INTERVAL_MS[settings.interval]
    pnl = PnlCalculator(max_age_ms=max(10_000, 3 * interval_ms))  # prices are the market's: one for all accounts
    desks = []
    for account, weight, group, key, secret in accounts(settings):
        # ccxt's client-side throttle queues every call behind the previous ones' weights (a 40-weight poll
        # would delay an order by 2 s); the engine's own REST use is bounded instead, and 429/418 answers
        # are honoured through Retry-After (engine.venues.retry)
        venue = BinanceVenue(account=account, rest_url=settings.exchange_rest_url, ws_url=settings.exchange_ws_url,
                             api_key=key, api_secret=secret, timeout_ms=int(settings.exchange_timeout * 1000),
                             rate_limit=False)
        manager = OrderManager(venue, recorder, clock, {}, interval_ms=interval_ms)  # type: ignore[arg-type]
        portfolio = Portfolio(account, pnl, snapshot_every_ms=int(settings.snapshot_seconds * 1000))
        sync = AccountSync(manager, venue, portfolio, clock)
        stream = UserStream(venue, settings.exchange_ws_url, account=account, handle=sync.on_user_event,
                            poll=sync.poll, options=UserStreamOptions(keepalive_s=settings.listen_key_keepalive,
                                                                      poll_interval_s=settings.user_poll_seconds))
        desks.append(Desk(account, manager, portfolio, sync, stream, weight, group))

    def record(*records: object) -> None:
        desks[0].manager.record(*records)  # type: ignore[arg-type]

    risk = RiskManager.from_settings(settings, {}, clock)
    check_ms = int(settings.risk_regime_check_interval * 1000)
    regimes = RegimeWatch(RegimeTracker(regime_interval(settings.interval), check_ms), risk, record, wall_ms=wall_ms)
    keeper = KillSwitchKeeper(risk, record, [d.account for d in desks], wall_ms=wall_ms)
    trader = Trader(desks=desks, streams={s: IndicatorStream(s, settings.interval) for s in settings.symbols},
                    policy=BootstrapPolicy(), admission=Admission(settings.bootstrap_trade_limit,
                                                                  settings.bootstrap_min_confidence,
                                                                  settings.bootstrap_min_win_probability),
                    risk=risk, sizing=EntrySizing(Decimal(repr(settings.entry_equity_fraction)), settings.leverage),
                    clock=clock, distribution=settings.account_distribution, regimes=regimes, kill_switch=keeper)

    async def load_state(ids: list[str]) -> tuple[dict[str, object], dict[str, int]]:
        from engine.store import connect, reader
        from engine.store.state import load_trading_state
        await recorder.flush()  # type: ignore[attr-defined]  # the journal's tail is in the store

        def read() -> tuple[dict[str, object], dict[str, int]]:
            with connect(settings, read_only=True) as lake:
                return ({a: load_trading_state(lake, a) for a in ids},
                        reader.last_candle_times(lake, settings.interval))
        return await asyncio.to_thread(read)

    def make_feed(resume: dict[tuple[str, str], int | None], symbols: tuple[str, ...]) -> object:
        from engine.feeds.market import MarketFeed
        # the feed keeps its own (wall) clock: it stamps receive times and paces its watchdog
        return MarketFeed.from_settings(settings, sink=recorder, resume=resume, symbols=symbols)  # type: ignore[arg-type]

    rule = ProtectionRule(Decimal(repr(settings.stop_loss_atr)), Decimal(repr(settings.take_profit_atr)))
    return Engine(Parts(desks=desks, trader=trader, clock=clock, interval=settings.interval,
                        warmup_bars=settings.warmup_bars, load_state=load_state,  # type: ignore[arg-type]
                        make_feed=make_feed, symbols=settings.symbols, rule=rule, leverage=settings.leverage,  # type: ignore[arg-type]
                        risk_store=RiskReads(settings), batch=BatchCommands(desks, record, wall_ms=wall_ms),
                        started=STARTED))


async def serve(settings: Settings) -> int:
    from engine.health.service import HealthService
    from engine.store import init_store
    from engine.store.recorder import TradeRecorder

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await asyncio.to_thread(init_store, settings)
    recorder = TradeRecorder(settings).start()
    health = HealthService(settings)
    engine = build(settings, health.tap(recorder))
    await health.start(engine)
    try:
        await engine.run(stop)  # type: ignore[attr-defined]
        return 0
    except SltError as exc:
        log.error("engine stopped: %s", exc)
        return 1
    finally:
        await health.stop()
        await asyncio.gather(*(d.venue.close() for d in engine.p.desks))  # type: ignore[attr-defined]
        engine.p.risk_store.close()  # type: ignore[attr-defined]
        await recorder.aclose()


def main() -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"engine: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level)
    try:
        return asyncio.run(serve(settings))
    except ConfigError as exc:
        print(f"engine: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
