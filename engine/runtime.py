"""The engine's life: start in the right order, trade until told to stop, stop without half-written
state. `engine.wiring` builds the parts; this module only sequences them.

Start (each step logged with its duration; the per-account steps run for all accounts at once, and
an account whose step fails is reported and left out while the others go on):
1. load the exchange's instruments; a configured symbol the exchange does not list is an error
   that names it, and the engine trades the others;
2. replay the recorder's journal into the store and read each account's state from the store;
3. exchange time from the mark price; leverage per symbol and the wallet of each account;
4. warm the indicator streams up on REST klines (the last closed bars);
5. regimes: the last 25 h of candles per symbol, evaluated at once;
6. connect each account's user-data stream (its events are held), reconcile, release them;
7. the kill switch, rebuilt from the store (today's equity and the operator's commands);
8. start the market feed after the last warm-up bar (the gap is backfilled) and trade.

While trading, every second: each account's consistency check (positions and PnL against the
exchange's), and every `risk_poll_s` the store's fresher regime readings and new operator commands
(kill switch, close-all).

Stop (SIGTERM, Ctrl-C): stop taking signals and candles, let order calls in flight finish
(protective orders included), take a final snapshot valued at the exchange's mark prices, close
the user streams; the caller then closes the recorder, which flushes the journal into the store.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.core.aio import within
from engine.core.clock import ExchangeClock, wall_ms
from engine.core.errors import AuthenticationFailed, ExchangeError, SltError
from engine.core.intervals import INTERVAL_MS
from engine.core.types import Candle, EquitySnapshot, HealthEvent
from engine.execution.batch import BatchCommands
from engine.execution.book import Book
from engine.execution.desk import Desk
from engine.execution.ports import RiskStorePort
from engine.execution.protection import ProtectionRule
from engine.execution.startup import StoredState, reconcile_account
from engine.execution.trader import Trader

log = logging.getLogger("engine")


class ModelWatchPort(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...


class MarketFeedPort(Protocol):
    events: Any

    async def start(self) -> None: ...

    async def stop(self, flush_timeout: float = 30.0) -> None: ...


@dataclass
class Parts:
    """Everything `engine.wiring` builds: one desk per account, and what they share."""

    desks: list[Desk]
    trader: Trader
    clock: ExchangeClock
    interval: str
    warmup_bars: int
    load_state: Callable[[list[str]], Awaitable[tuple[dict[str, StoredState], dict[str, int]]]]
    make_feed: Callable[[dict[tuple[str, str], int | None], tuple[str, ...]], MarketFeedPort]
    symbols: tuple[str, ...]
    rule: ProtectionRule
    leverage: int = 3
    risk_store: RiskStorePort | None = None
    batch: BatchCommands | None = None      # the operator's close-all commands
    risk_poll_s: float = 2.0
    started: float = field(default_factory=time.monotonic)
    model_watch: ModelWatchPort | None = None   # polls the champion alias (engine.learning.serving)


class Engine:
    def __init__(self, parts: Parts) -> None:
        self.p = parts
        self.feed: MarketFeedPort | None = None
        self.first_candle_s: float | None = None
        self.ready_s: float | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._streams: dict[str, asyncio.Task[Any]] = {}
        self._next_risk_poll = 0.0
        self._model_stop = asyncio.Event()

    @property
    def live(self) -> list[Desk]:
        return [d for d in self.p.desks if not d.failed]

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await self.start()
            await self.trade(stop)
        finally:
            await self.shutdown()

    # ---- start ------------------------------------------------------------------------------------
    async def start(self) -> None:
        p = self.p
        if p.model_watch is not None:   # the first champion load overlaps start-up; trading never waits for it
            self._tasks.append(asyncio.create_task(p.model_watch.run(self._model_stop), name="model-watch"))
        await self._step("instruments", self._each("loading instruments", lambda d: d.venue.start()))
        venue = self.live[0].venue
        for symbol in p.symbols:
            instrument = venue.instruments.get(symbol)
            if instrument is None:
                log.error("symbol %s is not listed on the exchange: not trading it (listed: %s)", symbol,
                          ", ".join(sorted(venue.instruments)[:20]))
                p.trader.streams.pop(symbol, None)
                continue
            for desk in self.live:
                desk.manager.books[symbol] = Book(desk.account, symbol, instrument, p.rule)
            p.trader.risk.set_instrument(instrument)
        if not p.trader.streams:
            raise ExchangeError("none of the configured symbols is listed on the exchange")
        stored, last_candles = await self._step("store", p.load_state([d.account for d in self.live]))
        for desk in self.live:
            desk.closed_trades = stored[desk.account].closed_trades
        p.trader.closed_trades = max(d.closed_trades for d in self.live)
        await self._step("exchange time, leverage and wallet", self._account())
        history = asyncio.create_task(self._kill_switch_history())  # opening the store overlaps the next steps
        last = await self._step("indicator warm-up", self._warm_up())
        await self._step("regimes", self._regimes())
        for desk in self.live:
            self._streams[desk.account] = asyncio.create_task(desk.user_stream.run(), name=f"user-stream {desk.account}")
        await self._connected(5.0)
        step_ms = INTERVAL_MS[p.interval]
        await self._step("reconciliation", self._each("reconciliation", lambda d: reconcile_account(
            d.manager, d.sync, stored[d.account], interval_ms=step_ms)))
        for desk in self.live:
            held = desk.sync.release()
            if held:
                log.info("%s: applied %d user-data events that arrived during reconciliation", desk.account, held)
            for symbol in desk.manager.books:
                desk.manager.step(symbol)
        await self._step("kill switch", self._kill_switch(history))
        p.trader.snapshot_if_due(force=True)  # positions and equity as reconciled
        books = self.live[0].manager.books
        resume = {(s, p.interval): max(last.get(s) or 0, last_candles.get(s) or 0) or None for s in books}
        self.feed = p.make_feed(resume, tuple(books))
        await self._step("market feed start", self.feed.start())
        self.ready_s = time.monotonic() - p.started
        accounts = f" on {len(self.live)} accounts ({', '.join(d.account for d in self.live)})" \
            if len(p.desks) > 1 else ""
        log.info("💓 engine ready %.2f s after process start: trading %s on %s candles%s", self.ready_s,
                 ", ".join(books), p.interval, accounts)
        freeze_heap()

    async def _each(self, what: str, call: Callable[[Desk], Awaitable[Any]]) -> None:
        """Run `call` for every trading account at once; an account whose call fails stops trading."""
        desks = self.live
        results = await asyncio.gather(*(call(d) for d in desks), return_exceptions=True)
        for desk, result in zip(desks, results, strict=True):
            if isinstance(result, BaseException):
                if isinstance(result, asyncio.CancelledError):
                    raise result
                self._fail(desk, what, result)
        if not self.live:
            reasons = "; ".join(f"{d.account}: {d.failed}" for d in self.p.desks)
            raise ExchangeError(f"no account can trade: {reasons}")

    def _fail(self, desk: Desk, what: str, exc: BaseException) -> None:
        desk.failed = f"{what} failed: {exc}"
        if isinstance(exc, SltError):
            log.error("account %s is not trading: %s", desk.account, desk.failed)
        else:
            log.error("account %s is not trading: %s", desk.account, desk.failed, exc_info=exc)
        self.p.trader.drop(desk)
        desk.manager.accepting = False
        now = self.p.clock.now_ms()
        desk.manager.record(HealthEvent(f"{desk.account}:account:failed:{now}:{wall_ms()}", "accounts", "failed",
                                        f"account {desk.account} is not trading: {desk.failed}", event_time=now,
                                        received_time=wall_ms()))
        task = self._streams.pop(desk.account, None)
        if task is not None:
            self._tasks.append(asyncio.create_task(self._stop_stream(desk, task)))

    async def _stop_stream(self, desk: Desk, task: asyncio.Task[Any]) -> None:
        try:
            await within(desk.user_stream.stop(), 10.0)
        except (TimeoutError, SltError) as exc:
            log.warning("%s: user stream did not stop cleanly: %s", desk.account, exc or "timeout")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def _connected(self, timeout: float) -> None:
        async def one(desk: Desk) -> None:
            try:
                await within(desk.user_stream.connected.wait(), timeout)
            except TimeoutError:
                log.warning("%s: user-data stream not connected after %.0f s: reconciling anyway; REST polls cover "
                            "the gap", desk.account, timeout)
        await asyncio.gather(*(one(d) for d in self.live))

    async def _account(self) -> None:
        p, venue = self.p, self.live[0].venue
        for symbol in self.live[0].manager.books:
            mark = await venue.fetch_mark_price(symbol)
            p.clock.observe(mark.event_time)
            p.trader.on_market(mark)

        async def account(desk: Desk) -> None:
            for symbol, book in desk.manager.books.items():
                try:
                    await desk.venue.set_leverage(symbol, p.leverage)
                    book.leverage = p.leverage
                except AuthenticationFailed:
                    raise
                except ExchangeError as exc:
                    log.error("%s: %s leverage %d refused: %s", desk.account, symbol, p.leverage, exc)
            desk.portfolio.on_equity(await desk.venue.fetch_equity())
        await self._each("reading the account (leverage, wallet)", account)

    async def _warm_up(self) -> dict[str, int]:
        """Closed bars up to now into each stream; the open time of the last one per symbol."""
        p, desk = self.p, self.live[0]
        step, now = INTERVAL_MS[p.interval], p.clock.now_ms()
        last: dict[str, int] = {}
        for symbol, stream in p.trader.streams.items():
            candles: list[Candle] = await desk.venue.fetch_candles(symbol, p.interval, now - p.warmup_bars * step,
                                                                   p.warmup_bars + 1)
            closed = [c for c in candles if c.close_time < now]
            if closed:
                desk.manager.record(*closed)  # the store keeps the candles the engine traded on
            features = p.trader.features
            for candle in closed:
                stream.advance(candle.open_time, candle.open, candle.high, candle.low, candle.close, candle.volume)
                if features is not None:
                    features.update(candle, stream.snapshot())
            if closed:
                last[symbol] = closed[-1].open_time
                atr = stream.snapshot().atr
                if atr > 0:
                    for d in self.live:
                        d.manager.books[symbol].atr = atr
        return last

    async def _regimes(self) -> None:
        """Each symbol's regime from the last 25 h of candles (never fatal: the default stays)."""
        regimes = self.p.trader.regimes
        if regimes is None:
            return
        now = self.p.clock.now_ms()
        for symbol in self.p.trader.streams:
            try:
                candles = await self.live[0].venue.fetch_candle_range(symbol, regimes.tracker.interval,
                                                                    now - regimes.tracker.keep_ms, now)
            except ExchangeError as exc:
                log.warning("regime %s: candles for the 24 h window unavailable (%s): keeping %s", symbol, exc,
                            self.p.trader.risk.regime(symbol))
                continue
            regimes.seed(symbol, candles, now)

    async def _kill_switch_history(self) -> tuple[int, list[EquitySnapshot], list[HealthEvent]] | None:
        keeper, store = self.p.trader.kill_switch, self.p.risk_store
        if keeper is None or store is None:
            return None
        now = self.p.clock.now_ms()
        snapshots, events = await store.kill_switch_history(now, sorted(keeper.accounts))
        return now, snapshots, events

    async def _kill_switch(self, history: Awaitable[tuple[int, list[EquitySnapshot], list[HealthEvent]] | None]) -> None:
        """Restore the switch from the history read since the exchange time was known (commands given
        meanwhile are picked up by the first store poll)."""
        found = await history
        if found is not None and self.p.trader.kill_switch is not None:
            now, snapshots, events = found
            self.p.trader.kill_switch.restore(snapshots, events, now)

    async def _step(self, name: str, awaitable: Awaitable[Any]) -> Any:
        began = time.monotonic()
        result = await awaitable
        log.info("start-up: %s done in %.0f ms", name, (time.monotonic() - began) * 1000)
        return result

    # ---- trade --------------------------------------------------------------------------------
    async def trade(self, stop: asyncio.Event) -> None:
        assert self.feed is not None
        events = self.feed.events
        stopping = asyncio.create_task(stop.wait())
        checks = asyncio.create_task(self._checks(stop), name="consistency-checks")
        self._tasks.append(checks)
        try:
            while not stop.is_set():
                try:
                    event = events.get_nowait()
                except asyncio.QueueEmpty:
                    getter = asyncio.ensure_future(events.get())
                    done, _ = await asyncio.wait({getter, stopping}, return_when=asyncio.FIRST_COMPLETED)
                    if getter not in done:
                        getter.cancel()
                        break
                    event = getter.result()
                if self.first_candle_s is None and isinstance(event, Candle):
                    self.first_candle_s = time.monotonic() - self.p.started
                    log.info("💓 first closed candle (%s %d) %.2f s after process start", event.symbol,
                             event.open_time, self.first_candle_s)
                self.p.trader.on_market(event)
        finally:
            stopping.cancel()

    async def _checks(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(1.0)
            for desk in self.live:
                try:
                    await desk.sync.check()
                except Exception:
                    log.exception("%s: consistency check failed", desk.account)
            try:
                await self.risk_poll()
            except Exception:
                log.exception("risk poll failed")

    async def risk_poll(self, *, force: bool = False) -> None:
        """Fresher regime readings and new operator commands from the store; regimes on intervals
        the feed does not deliver, topped up over REST; the kill switch's midnight re-arm."""
        p, trader = self.p, self.p.trader
        if not force and time.monotonic() < self._next_risk_poll:
            return
        self._next_risk_poll = time.monotonic() + p.risk_poll_s
        now = p.clock.now_ms()
        regimes, keeper = trader.regimes, trader.kill_switch
        if regimes is not None and regimes.tracker.interval != p.interval:
            for symbol in trader.streams:
                since = regimes.tracker.behind(symbol, now)
                if since is not None:
                    regimes.tracker.seed(symbol, await self.live[0].venue.fetch_candle_range(
                        symbol, regimes.tracker.interval, since, now))
                regimes.check(symbol, now)
        if p.risk_store is None:
            return
        if regimes is not None:
            regimes.adopt(await p.risk_store.regimes(), p.clock.now_ms())
        if keeper is not None:
            keeper.apply(await p.risk_store.commands(), p.clock.now_ms())
            keeper.check(p.clock.now_ms())
        if p.batch is not None:
            p.batch.apply(await p.risk_store.batch_commands(), p.clock.now_ms())

    # ---- stop ---------------------------------------------------------------------------------
    async def shutdown(self) -> None:
        p = self.p
        self._model_stop.set()
        for desk in p.desks:
            desk.manager.accepting = False
        if self.feed is not None:
            await self.feed.stop()
        drained = await asyncio.gather(*(d.manager.drain(10.0) for d in p.desks))
        if not all(drained):
            log.warning("order calls still running after 10 s at shutdown; reconciliation settles them at the next start")
        try:
            await within(self._final_snapshot(), 15.0)
        except (ExchangeError, TimeoutError) as exc:
            log.warning("final snapshot without the exchange's marks: %s", exc or "no answer within 15 s")
            p.trader.snapshot_if_due(force=True)
        stops = [self._stop_stream(d, t) for d in p.desks if (t := self._streams.pop(d.account, None)) is not None]
        await asyncio.gather(*stops)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        counts = "; ".join(f"{d.account} {d.manager.counts}" for d in p.desks) if len(p.desks) > 1 \
            else str(p.desks[0].manager.counts)
        log.info("engine stopped: %d candles, %d signals (%d admitted), orders %s", p.trader.candles,
                 p.trader.signals, p.trader.admitted, counts)

    async def _final_snapshot(self) -> None:
        desks = [d for d in self.live if d.sync.ready.is_set()]
        if not desks:
            return
        await asyncio.gather(*(d.sync.poll("shutdown") for d in desks))
        held = {s for d in desks for s, b in d.manager.books.items() if b.position != 0}
        for symbol in sorted(held):
            self.p.trader.on_market(await desks[0].venue.fetch_mark_price(symbol))
        await asyncio.gather(*(d.sync.check(force=True) for d in desks))
        self.p.trader.snapshot_if_due(force=True)


def freeze_heap() -> None:
    """Put what start-up allocated (ccxt's market tables, one client per account, instruments,
    warm-up history) out of the cyclic collector's reach. Collections while trading then scan only
    new objects: without this, a full collection over 50 accounts' clients pauses the loop for
    50-150 ms, and it lands on order paths (measured by `bench accounts_fanout`)."""
    gc.collect()
    gc.freeze()
