"""One account's trading stack against a real simulator: venue (ccxt), recorder (DuckLake in a tmp
dir), books, order manager, account sync and user-data stream. Signals are fed by hand, so these
tests exercise execution without the market feed."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal as D
from typing import Any

import pytest

from engine.accounts.account import Account, AccountGroup, AccountType
from engine.config import Settings
from engine.core.clock import ExchangeClock
from engine.core.secret import Secret
from engine.core.types import Order, OrderType, Side, SignalRecord
from engine.execution.book import Book
from engine.execution.desk import StreamPort
from engine.execution.manager import OrderManager
from engine.execution.orders import Leg, order_id
from engine.execution.pnl import PnlCalculator
from engine.execution.protection import ProtectionRule
from engine.execution.sync import AccountSync
from engine.store import connect, init_store, reader
from engine.store.recorder import TradeRecorder
from engine.venues.binance import BinanceVenue
from engine.venues.retry import RetryPolicy
from engine.wiring import DeskHooks, DeskSpec, build_desk
from tests.sim.harness import SimHandle

SYMBOLS = ("BTCUSDT", "ETHUSDT", "XRPUSDT")


@dataclass
class Stack:
    sim: SimHandle
    settings: Settings
    venue: BinanceVenue
    recorder: TradeRecorder
    manager: OrderManager
    sync: AccountSync
    stream: StreamPort
    clock: ExchangeClock
    quantity: dict[str, D] = field(default_factory=lambda: {"BTCUSDT": D("0.010"), "ETHUSDT": D("0.100"),
                                                             "XRPUSDT": D("100")})
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    n: int = 0

    def enter(self, book: Book, signal: SignalRecord) -> Order:
        return Order(order_id(signal.signal_id, Leg.ENTRY, book.account), book.account, book.symbol, signal.side,
                     OrderType.MARKET, self.quantity[book.symbol], signal_id=signal.signal_id,
                     event_time=self.clock.now_ms())

    async def signal(self, symbol: str, side: Side, atr: float = math.nan) -> SignalRecord:
        """A fresh admitted signal, as the trader would make it on the candle closing now."""
        mark = await self.venue.fetch_mark_price(symbol)
        self.clock.observe(mark.event_time)
        self.n += 1
        at = self.clock.now_ms()
        sig = SignalRecord(f"test:{symbol}:1m:{at}:{self.n}", "test", symbol, "1m", side, 0.6, 0.55,
                           float(mark.mark_price), atr if atr > 0 else float(mark.mark_price) * 0.002, True,
                           "bootstrap", "admitted", at, event_time=at)
        await self.recorder.record(sig)
        self.manager.on_signal(sig)
        return sig

    async def settle(self, timeout: float = 15.0, quiet: float = 0.3) -> None:
        """Until no order call runs and nothing changed for `quiet` s (the stream's echoes are in)."""
        deadline = asyncio.get_running_loop().time() + timeout
        seen = -1
        while asyncio.get_running_loop().time() < deadline:
            await self.manager.drain(timeout)
            marker = len(self.manager.counts) + sum(self.manager.counts.values()) + sum(
                len(b.orders) + len(b.ledger.seen) for b in self.manager.books.values())
            if marker == seen and not self.manager.busy:
                return
            seen = marker
            await asyncio.sleep(quiet)
        raise TimeoutError("the order manager did not settle")

    def book(self, symbol: str = "BTCUSDT") -> Book:
        return self.manager.books[symbol]

    async def stored(self, what: Callable[[Any], Any]) -> Any:
        await self.recorder.flush()
        with connect(self.settings, read_only=True) as lake:
            return what(lake)

    async def close(self) -> None:
        await self.stream.stop()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.manager.drain(5)
        await self.venue.close()
        await self.recorder.aclose()


async def open_stack(sim: SimHandle, settings: Settings, *, symbols: tuple[str, ...] = SYMBOLS,
                     timeout_ms: int = 3_000, poll_s: float = 0.5) -> Stack:
    """A desk built by the engine's own composition root (`engine.wiring.build_desk`), on the simulator."""
    init_store(settings)
    recorder = TradeRecorder(settings).start()
    clock = ExchangeClock()
    stack: Stack | None = None

    def enter(book: Book, signal: SignalRecord) -> Order | None:  # the stack sizes entries, not a trader
        return stack.enter(book, signal) if stack is not None else None

    account = Account("main", AccountType.PRIMARY, D(1), AccountGroup.NEUTRAL, Secret(sim.key), Secret(sim.secret))
    spec = DeskSpec(account, sim.rest_url, sim.ws_url, interval_ms=60_000, timeout_ms=timeout_ms, user_poll_s=poll_s,
                    retry=RetryPolicy(attempts=4, base=0.05, cap=0.5), resolve_delay=0.1, retry_delay=0.3)
    desk = build_desk(spec, recorder=recorder, clock=clock, pnl=PnlCalculator(), hooks=DeskHooks(enter=enter))
    venue, manager = desk.venue, desk.manager
    await venue.start()
    manager.books.update({s: Book("main", s, venue.instruments[s], ProtectionRule())
                          for s in symbols if s in venue.instruments})
    stack = Stack(sim, settings, venue, recorder, manager, desk.sync, desk.user_stream, clock)
    stack.tasks.append(asyncio.create_task(desk.user_stream.run()))
    await asyncio.wait_for(desk.user_stream.connected.wait(), 5)
    desk.sync.release()
    desk.portfolio.on_equity(await venue.fetch_equity())
    return stack


@pytest.fixture
async def stack(sim: SimHandle, settings: Settings) -> AsyncIterator[Stack]:
    s = await open_stack(sim, settings)
    yield s
    await s.close()


def sim_orders(sim: SimHandle) -> list[Any]:
    """Every order the simulator holds for the demo account (in-process simulator only)."""
    assert sim.sim is not None
    account = sim.sim.exchange.accounts[sim.key]
    return [*account.orders.values(), *account.algos.values()]


def ledger_of(sim: SimHandle) -> Any:
    assert sim.sim is not None
    return sim.sim.exchange.accounts[sim.key].ledger


def fills_in(lake: Any) -> list[Any]:
    return reader.fills(lake, "main")
