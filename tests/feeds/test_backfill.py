"""Gap backfill: pages of REST klines, only closed bars, in order before the live candles held behind
the gap, bars the exchange lacks skipped, and failures retried without ever stopping."""

from __future__ import annotations

import asyncio

import pytest

from engine.core.clock import ManualClock
from engine.core.errors import TemporaryExchangeError, UnknownSymbol
from engine.core.types import Candle
from engine.feeds.backfill import Backfiller
from engine.feeds.sequencer import CandleSequencer
from tests.feeds.helpers import ListSink, feed_on, mismatches, options, settle, wait_for

M = 60_000
T0 = 1_746_489_600_000


def bar(i: int, event_time: int = 0) -> Candle:
    t = T0 + i * M
    return Candle("BTCUSDT", "1m", t, t + M - 1, 100.0 + i, 102.0 + i, 99.0 + i, 101.0 + i, 5.0, True, event_time)


class History:
    """Klines as Binance's REST serves them: from the first open >= start, at most `limit`, the bar in
    progress last; `fail` makes the next calls raise first."""

    def __init__(self, bars: list[int], in_progress: int, fail: list[Exception] | None = None) -> None:
        self.bars = [bar(i) for i in bars] + [bar(in_progress)]
        self.fail = list(fail or [])
        self.calls: list[tuple[int, int]] = []

    async def fetch_candles(self, symbol: str, interval: str, start_ms: int, limit: int = 1000) -> list[Candle]:
        self.calls.append((start_ms, limit))
        if self.fail:
            raise self.fail.pop(0)
        return [c for c in self.bars if c.open_time >= start_ms][:limit]


def backfiller(history: History, seq: CandleSequencer, now: int, clock: ManualClock | None = None
               ) -> tuple[Backfiller, list[Candle]]:
    out: list[Candle] = []
    return Backfiller(history, seq, out.extend, lambda: now, clock=clock or ManualClock(), retry=0.05), out


async def test_a_long_gap_is_fetched_in_pages_and_only_closed_bars_count() -> None:
    seq = CandleSequencer()
    seq.resume_from("BTCUSDT", "1m", T0 - M)
    history = History(list(range(2500)), in_progress=2500)
    filler, out = backfiller(history, seq, now=T0 + 2500 * M + 30_000)     # inside bar 2500
    assert await filler.run_once()
    assert [c.open_time for c in out] == [T0 + i * M for i in range(2500)]
    assert history.calls == [(T0, 1000), (T0 + 1000 * M, 1000), (T0 + 2000 * M, 1000)]
    assert filler.bars == 2500 and all(c.event_time == c.close_time for c in out)   # a REST bar's event is its close
    assert seq.gaps(T0 + 2500 * M + 30_000) == []


async def test_backfilled_bars_come_before_the_live_ones_held_behind_the_gap() -> None:
    seq = CandleSequencer()
    live = [c for i in range(5) for c in seq.offer(bar(i, event_time=1))]
    assert seq.offer(bar(8, 1)) == [] and seq.offer(bar(9, 1)) == []           # held behind bars 5..7
    filler, out = backfiller(History(list(range(12)), in_progress=12), seq, now=T0 + 10 * M)
    assert await filler.run_once()
    assert [c.open_time for c in live + out] == [T0 + i * M for i in range(10)]
    assert [c.event_time for c in out] == [T0 + i * M + M - 1 for i in (5, 6, 7)] + [1, 1]
    assert filler.bars == 3


async def test_bars_the_exchange_lacks_are_skipped_and_counted() -> None:
    seq = CandleSequencer()
    seq.resume_from("BTCUSDT", "1m", T0 - M)
    filler, out = backfiller(History([0, 1, 2, 6, 7], in_progress=8), seq, now=T0 + 8 * M + 1)
    assert await filler.run_once()
    assert [c.open_time for c in out] == [T0 + i * M for i in (0, 1, 2, 6, 7)]
    assert seq.state("BTCUSDT", "1m").missing_at_exchange == 3


async def test_failures_are_retried_with_a_doubling_delay_and_never_stop_it() -> None:
    seq = CandleSequencer()
    seq.resume_from("BTCUSDT", "1m", T0 - M)
    clock = ManualClock()
    errors: list[Exception] = [TemporaryExchangeError("503"), TemporaryExchangeError("503"), UnknownSymbol("not yet")]
    history = History(list(range(5)), in_progress=5, fail=errors)
    filler, out = backfiller(history, seq, now=T0 + 5 * M + 1, clock=clock)
    task = asyncio.create_task(filler.run())
    try:
        filler.request()
        await wait_for(lambda: len(out) == 5, 5, "the backfill")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert filler.failures == 3 and "UnknownSymbol" in (filler.last_error or "")
    assert [round(s, 3) for s in clock.sleeps] == [pytest.approx(d, rel=0.21) for d in (0.05, 0.1, 0.2)]


@pytest.mark.integration
async def test_history_gap_over_rest_with_errors(sim_factory) -> None:  # type: ignore[no-untyped-def]
    """1,900 bars of history per symbol before the live ones, over the simulator's REST, while the first
    five kline requests fail (the venue retries twice, so the feed itself must retry too)."""
    sim = await sim_factory(speed=600.0)
    start = sim.sim.replay.start_ms
    await sim.control.fault(kind="http_error", path="/fapi/v1/klines", count=5)
    sink = ListSink()
    feed = await feed_on(sim, sink, opts=options(backfill_check_interval=60.0), resume_at=start - 1900 * M)
    try:
        await sim.control.resume()
        await wait_for(lambda: feed.status().candles_emitted >= 3 * (1900 + 3), 30, "history and live candles")
        rows = await settle(feed, sim, timeout=30)
    finally:
        await feed.stop()
    status = feed.status()
    assert status.backfill_failures >= 2 and status.backfilled_bars >= 3 * 1900
    assert status.extra["backfill_requests"] >= 3 * 2 + 2          # two pages per symbol, plus the failed runs
    for symbol in rows:
        history = [r for r in await sim.control.candles(symbol, history=True) if int(r[0]) >= start - 1900 * M]
        assert len(history) == 1900 + len(rows[symbol])
        assert mismatches([c for c in sink.candles if c.symbol == symbol], history) == [], symbol
