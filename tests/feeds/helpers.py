"""Shared pieces of the feed tests: test-scaled timers, a feed on a simulator, and the comparison of
candles with the simulator's own list."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from engine.core.secret import Secret
from engine.core.types import Candle
from engine.feeds.market import MarketFeed
from engine.feeds.options import FeedOptions
from engine.venues.binance import BinanceVenue
from engine.venues.retry import RetryPolicy
from tests.sim.harness import SimHandle

SYMBOLS = ("BTCUSDT", "ETHUSDT", "XRPUSDT")
MINUTE = 60_000
# The original's timers scaled down ~50x, so a test sees hundreds of reconnects in a minute.
FAST = dict(ping_interval=0.2, ping_timeout=0.4, close_timeout=0.5, open_timeout=2.0, ws_lag_seconds=0.5,
            backoff_base=0.02, backoff_cap=0.5, backoff_long_delay=0.3, backfill_retry=0.05, backfill_retry_cap=0.5,
            backfill_check_interval=1.0, sink_interval=0.1, sink_retry=0.1, subscribe_pause=0.0,
            backwards_tolerance_ms=1_800_000)   # replay runs up to ~1,300x: 60 s of exchange time is ~50 ms here


class ListSink:
    """A candle sink that keeps what it is given (for tests that are not about the store)."""

    def __init__(self) -> None:
        self.candles: list[Candle] = []

    async def record(self, *candles: Candle) -> None:
        self.candles.extend(candles)


def options(symbols: tuple[str, ...] = SYMBOLS, **overrides: Any) -> FeedOptions:
    return FeedOptions(symbols=symbols, **{**FAST, **overrides})


def venue_for(sim: SimHandle) -> BinanceVenue:
    """Market data over REST for backfill: ccxt against the simulator, retries test-scaled."""
    return BinanceVenue(account="market-data", rest_url=sim.rest_url, ws_url=sim.ws_url, api_key=Secret(""),
                        api_secret=Secret(""), rate_limit=False, policy=RetryPolicy(attempts=2, base=0.01, cap=0.05))


async def feed_on(sim: SimHandle, sink: Any = None, *, opts: FeedOptions | None = None, resume_at: int | None = None,
                  **kwargs: Any) -> MarketFeed:
    """A started feed on `sim`; with `resume_at`, as if the store held every bar before that time."""
    opts = opts or options()
    venue = venue_for(sim)
    resume = {(s, i): resume_at - MINUTE for s in opts.symbols for i in opts.intervals} if resume_at else None
    feed = MarketFeed(opts, ws_url=sim.ws_url, source=venue, sink=sink, prepare=venue.start, on_stop=venue.close,
                      resume=resume, **kwargs)
    await feed.start()
    return feed


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


def mismatches(candles: list[Candle], rows: list[list[Any]]) -> list[str]:
    """Differences between our candles and the simulator's rows [open_time, o, h, l, c, v]."""
    problems = []
    ours = [c.open_time for c in candles]
    if len(set(ours)) != len(ours):
        problems.append(f"{len(ours) - len(set(ours))} candles twice")
    theirs = [int(r[0]) for r in rows]
    missing, extra = sorted(set(theirs) - set(ours)), sorted(set(ours) - set(theirs))
    if missing:
        problems.append(f"{len(missing)} missing, first {missing[:5]}")
    if extra:
        problems.append(f"{len(extra)} extra, first {extra[:5]}")
    by_time = {c.open_time: c for c in candles}
    for row in rows:
        c = by_time.get(int(row[0]))
        if c is not None and (c.open, c.high, c.low, c.close, c.volume) != tuple(float(v) for v in row[1:6]):
            problems.append(f"values differ at {row[0]}: {c} vs {row}")
            break
    return problems


async def settle(feed: MarketFeed, sim: SimHandle, timeout: float = 20) -> dict[str, list[list[Any]]]:
    """Pause the replay, wait until the feed has every closed candle, return the simulator's rows."""
    await sim.control.pause()
    rows = {s: await sim.control.candles(s, "1m") for s in feed.options.symbols}

    def caught_up() -> bool:
        return all(not rows[s] or feed.last_candle(s, "1m") == int(rows[s][-1][0]) for s in rows)

    await wait_for(caught_up, timeout, "the feed to catch up with the simulator")
    if feed.writer is not None:
        await feed.writer.flush()
    return rows


def assert_complete(sink: ListSink, rows: dict[str, list[list[Any]]]) -> None:
    for symbol, expected in rows.items():
        assert expected, symbol
        ours = [c for c in sink.candles if c.symbol == symbol]
        assert mismatches(ours, expected) == [], symbol
        assert [c.open_time for c in ours] == sorted(c.open_time for c in ours), f"{symbol} out of order"
