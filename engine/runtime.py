"""The engine's life: start in the right order, trade until told to stop, stop without half-written
state. `engine/__main__.py` builds the parts; this module only sequences them.

Start (each step logged with its duration):
1. load the exchange's instruments; a configured symbol the exchange does not list is an error
   that names it, and the engine trades the others;
2. replay the recorder's journal into the store and read the account's state from the store;
3. exchange time from the mark price; leverage per symbol; the wallet;
4. warm the indicator streams up on REST klines (the last closed bars);
5. connect the user-data stream (its events are held), reconcile with the exchange, release them;
6. start the market feed after the last warm-up bar (the gap is backfilled) and trade.

Stop (SIGTERM, Ctrl-C): stop taking signals and candles, let order calls in flight finish
(protective orders included), take a final snapshot valued at the exchange's mark prices, close
the user stream; the caller then closes the recorder, which flushes the journal into the store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.core.clock import ExchangeClock
from engine.core.errors import ExchangeError
from engine.core.intervals import INTERVAL_MS
from engine.core.types import Candle
from engine.execution.book import Book
from engine.execution.manager import OrderManager
from engine.execution.protection import ProtectionRule
from engine.execution.startup import StoredState, reconcile_account
from engine.execution.sync import AccountSync
from engine.execution.trader import Trader
from engine.feeds.user_stream import UserStream

log = logging.getLogger("engine")


class MarketFeedPort(Protocol):
    events: Any

    async def start(self) -> None: ...

    async def stop(self, flush_timeout: float = 30.0) -> None: ...


@dataclass
class Parts:
    """Everything `__main__` wires together for one account."""

    manager: OrderManager
    sync: AccountSync
    trader: Trader
    user_stream: UserStream
    clock: ExchangeClock
    interval: str
    warmup_bars: int
    load_state: Callable[[], Awaitable[tuple[StoredState, dict[str, int]]]]
    make_feed: Callable[[dict[tuple[str, str], int | None], tuple[str, ...]], MarketFeedPort]
    symbols: tuple[str, ...]
    rule: ProtectionRule
    leverage: int = 3
    started: float = field(default_factory=time.monotonic)


class Engine:
    def __init__(self, parts: Parts) -> None:
        self.p = parts
        self.feed: MarketFeedPort | None = None
        self.first_candle_s: float | None = None
        self.ready_s: float | None = None
        self._tasks: list[asyncio.Task[Any]] = []

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await self.start()
            await self.trade(stop)
        finally:
            await self.shutdown()

    # ---- start ------------------------------------------------------------------------------------
    async def start(self) -> None:
        p, manager = self.p, self.p.manager
        venue = manager.venue
        await self._step("instruments", venue.start())  # type: ignore[attr-defined]
        for symbol in p.symbols:
            instrument = venue.instruments.get(symbol)
            if instrument is None:
                log.error("symbol %s is not listed on the exchange: not trading it (listed: %s)", symbol,
                          ", ".join(sorted(venue.instruments)[:20]))
                p.trader.streams.pop(symbol, None)
                continue
            manager.books[symbol] = Book(manager.account, symbol, instrument, p.rule)
            p.trader.risk.set_instrument(instrument)
        if not manager.books:
            raise ExchangeError("none of the configured symbols is listed on the exchange")
        stored, last_candles = await self._step("store", p.load_state())
        p.trader.closed_trades = stored.closed_trades
        await self._step("exchange time, leverage and wallet", self._account())
        last = await self._step("indicator warm-up", self._warm_up())
        self._tasks.append(asyncio.create_task(p.user_stream.run(), name="user-stream"))
        try:
            await asyncio.wait_for(p.user_stream.connected.wait(), 5.0)
        except TimeoutError:
            log.warning("user-data stream not connected after 5 s: reconciling anyway; REST polls cover the gap")
        await self._step("reconciliation", reconcile_account(manager, p.sync, stored,
                                                             interval_ms=INTERVAL_MS[p.interval]))
        held = p.sync.release()
        if held:
            log.info("applied %d user-data events that arrived during reconciliation", held)
        for symbol in manager.books:
            manager.step(symbol)
        p.trader.snapshot_if_due(force=True)  # positions and equity as reconciled
        resume = {(s, p.interval): max(last.get(s) or 0, last_candles.get(s) or 0) or None for s in manager.books}
        self.feed = p.make_feed(resume, tuple(manager.books))
        await self._step("market feed start", self.feed.start())
        self.ready_s = time.monotonic() - p.started
        log.info("💓 engine ready %.2f s after process start: trading %s on %s candles", self.ready_s,
                 ", ".join(manager.books), p.interval)

    async def _account(self) -> None:
        manager, venue = self.p.manager, self.p.manager.venue
        for symbol, book in manager.books.items():
            mark = await venue.fetch_mark_price(symbol)
            self.p.clock.observe(mark.event_time)
            self.p.trader.on_market(mark)
            try:
                await venue.set_leverage(symbol, self.p.leverage)
                book.leverage = self.p.leverage
            except ExchangeError as exc:
                log.error("%s: leverage %d refused: %s", symbol, self.p.leverage, exc)
        self.p.trader.portfolio.on_equity(await venue.fetch_equity())

    async def _warm_up(self) -> dict[str, int]:
        """Closed bars up to now into each stream; the open time of the last one per symbol."""
        manager, step = self.p.manager, INTERVAL_MS[self.p.interval]
        now = self.p.clock.now_ms()
        last: dict[str, int] = {}
        for symbol, stream in self.p.trader.streams.items():
            candles: list[Candle] = await manager.venue.fetch_candles(  # type: ignore[attr-defined]
                symbol, self.p.interval, now - self.p.warmup_bars * step, self.p.warmup_bars + 1)
            closed = [c for c in candles if c.close_time < now]
            if closed:
                manager.record(*closed)  # the store keeps the candles the engine traded on
            for candle in closed:
                stream.advance(candle.open_time, candle.open, candle.high, candle.low, candle.close, candle.volume)
            if closed:
                last[symbol] = closed[-1].open_time
                atr = stream.snapshot().atr
                if atr > 0:
                    manager.books[symbol].atr = atr
        return last

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
            try:
                await self.p.sync.check()
            except Exception:  # noqa: BLE001 - a failed check is logged and retried
                log.exception("consistency check failed")

    # ---- stop ---------------------------------------------------------------------------------
    async def shutdown(self) -> None:
        p = self.p
        p.manager.accepting = False
        if self.feed is not None:
            await self.feed.stop()
        if not await p.manager.drain(10.0):
            log.warning("order calls still running after 10 s at shutdown; reconciliation settles them at the next start")
        try:
            await asyncio.wait_for(self._final_snapshot(), 15.0)
        except (ExchangeError, TimeoutError) as exc:
            log.warning("final snapshot without the exchange's marks: %s", exc or "no answer within 15 s")
            p.trader.snapshot_if_due(force=True)
        try:
            await asyncio.wait_for(p.user_stream.stop(), 10.0)
        except TimeoutError:
            log.warning("user stream did not stop within 10 s")
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        log.info("engine stopped: %d candles, %d signals (%d admitted), orders %s", p.trader.candles,
                 p.trader.signals, p.trader.admitted, p.manager.counts)

    async def _final_snapshot(self) -> None:
        p = self.p
        if not p.sync.ready.is_set():
            return
        await p.sync.poll("shutdown")
        for symbol, book in p.manager.books.items():
            if book.position != 0:
                p.trader.on_market(await p.manager.venue.fetch_mark_price(symbol))
        await p.sync.check(force=True)
        p.trader.snapshot_if_due(force=True)
