"""Every malformed-frame variant the simulator can inject is counted and logged under its stream's
name, never becomes an event or a candle, and never stops the feed."""

from __future__ import annotations

import logging

import pytest

from tests.feeds.helpers import ListSink, assert_complete, feed_on, settle, wait_for

pytestmark = pytest.mark.integration

KLINE, MARK = "btcusdt@kline_1m", "ethusdt@markPrice@1s"
# variant -> (stream the fault targets, stream the error is counted under, words in the problem)
CASES = {
    "bad_json": (KLINE, KLINE, "invalid JSON"),
    "nan_price": (KLINE, KLINE, "nan"),
    "negative_price": (MARK, MARK, "must be a positive number"),
    "high_below_low": (KLINE, KLINE, "below low"),
    "backwards_time": (MARK, MARK, "went backwards"),
    "unknown_stream": (KLINE, "nosuchsymbol@unknownChannel", "unknownEvent"),
}


async def test_every_malformed_variant_is_counted_by_stream_and_skipped(sim_factory, caplog) -> None:  # type: ignore[no-untyped-def]
    sim = await sim_factory(speed=600.0)
    sink = ListSink()
    feed = await feed_on(sim, sink, resume_at=sim.sim.replay.start_ms)
    try:
        await sim.control.resume()
        await wait_for(lambda: feed.status().candles_emitted >= 3, 10, "first candles")
        with caplog.at_level(logging.WARNING, logger="engine.feeds.router"):
            for variant, (target, counted, problem) in CASES.items():
                before = feed.status().errors.get(counted, 0)
                await sim.control.fault(kind="ws_malformed", variant=variant, stream=target, count=3)
                await wait_for(lambda: feed.status().errors.get(counted, 0) == before + 3, 10, variant)  # noqa: B023
                assert problem in feed.status().last_errors[counted], (variant, feed.status().last_errors)
        marks_before = feed.mark_price("ETHUSDT")
        rows = await settle(feed, sim)
    finally:
        await feed.stop()
    status = feed.status()
    assert status.reconnects == 0 and status.error_count == 3 * len(CASES)
    assert marks_before is not None and marks_before.mark_price > 0
    # the router's warnings only: another test may have left the engine's loggers at INFO (setup_logging)
    logged = {r.getMessage().split(" (")[0] for r in caplog.records
              if r.name == "engine.feeds.router" and r.levelno >= logging.WARNING}
    assert logged == {f"bad frame on {counted}" for _, counted, _ in CASES.values()}
    assert_complete(sink, rows)       # no malformed kline became a candle, none was lost
