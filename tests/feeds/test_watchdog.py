"""Watchdog, heartbeat and rotation against the simulator's stall, withheld-pong and drop faults:
each forces (or, for rotation, avoids) a reconnect, and no closed candle is lost or repeated."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.feeds.helpers import ListSink, assert_complete, feed_on, options, settle, wait_for

pytestmark = pytest.mark.integration


async def started(sim_factory, **sim_options):  # type: ignore[no-untyped-def]
    sim = await sim_factory(**{"speed": 600.0, **sim_options})
    return sim, sim.sim.replay.start_ms


async def test_a_stalled_connection_is_replaced_by_the_watchdog(sim_factory) -> None:  # type: ignore[no-untyped-def]
    sim, start = await started(sim_factory)
    sink = ListSink()
    feed = await feed_on(sim, sink, resume_at=start)
    try:
        await sim.control.resume()
        await wait_for(lambda: feed.status().candles_emitted >= 9, 10, "first candles")
        await sim.control.fault(kind="ws_stall", duration=1.2)        # silent but open, > ws_lag_seconds 0.5
        await wait_for(lambda: feed.status().connections[0].watchdog_trips >= 1, 10, "the watchdog")
        await wait_for(lambda: feed.status().connected and feed.status().backfilled_bars > 0, 10, "recovery")
        rows = await settle(feed, sim)
    finally:
        await feed.stop()
    status = feed.status()
    assert status.reconnects >= 1 and status.connections[0].pong_timeouts == 0
    assert_complete(sink, rows)


async def test_an_overdue_pong_replaces_the_connection(sim_factory, caplog) -> None:  # type: ignore[no-untyped-def]
    sim, start = await started(sim_factory)
    sink = ListSink()
    feed = await feed_on(sim, sink, opts=options(heartbeat_log_every=3), resume_at=start)
    try:
        await sim.control.resume()
        with caplog.at_level(logging.INFO, logger="engine.feeds"):
            await wait_for(lambda: (feed.status().latency_ms or 0) > 0, 5, "a pong")
            before = feed.status()
            assert before.last_pong_time is not None and before.last_pong_time <= before.taken_at
            await wait_for(lambda: any("💓 market-0 alive" in r.message for r in caplog.records), 5, "a 💓 summary")
            await sim.control.fault(kind="ws_withhold_pongs", count=1)
            await wait_for(lambda: feed.status().connections[0].pong_timeouts == 1, 10, "the pong timeout")
            await wait_for(lambda: feed.status().connected, 10, "the new connection")
        rows = await settle(feed, sim)
    finally:
        await feed.stop()
    assert feed.status().reconnects == 1 and feed.status().connections[0].watchdog_trips == 0
    assert any(r.levelno == logging.WARNING and "💓 market-0: no pong" in r.message for r in caplog.records)
    assert_complete(sink, rows)


async def test_drops_reconnect_and_backfill_what_was_missed(sim_factory) -> None:  # type: ignore[no-untyped-def]
    sim, start = await started(sim_factory, speed=1200.0)
    sink = ListSink()
    # a 0.3 s first reconnect delay at 20 bars/s: every drop misses bars that only REST can give back
    feed = await feed_on(sim, sink, opts=options(backoff_base=0.3, backoff_jitter=0.0), resume_at=start)
    try:
        await sim.control.resume()
        await wait_for(lambda: feed.status().candles_emitted >= 9, 10, "first candles")
        await sim.control.fault(kind="ws_drop", every=0.8, times=3)
        await wait_for(lambda: feed.status().reconnects == 3 and feed.status().connected, 15, "three reconnects")
        rows = await settle(feed, sim)
    finally:
        await feed.stop()
    status = feed.status()
    assert status.backfilled_bars >= 3 * 3 and status.connections[0].watchdog_trips == 0
    assert_complete(sink, rows)


async def test_rotation_beats_the_exchanges_connection_age_limit_without_a_gap(sim_factory) -> None:  # type: ignore[no-untyped-def]
    # the simulator closes connections at 2.5 s (Binance: 24 h); the feed rotates at 0.8 s (Binance: 23 h)
    sim, start = await started(sim_factory, ws_max_age=2.5, ws_ping_interval=0.2, speed=1200.0)
    sink = ListSink()
    # heartbeat and watchdog timers looser than FAST: this test is about rotation, and on a loaded machine
    # a 0.4 s pong timeout or 0.5 s silence limit can trip and count a reconnect that rotation did not cause
    feed = await feed_on(sim, sink, opts=options(rotate_after=0.8, ping_timeout=2.0, ws_lag_seconds=2.0),
                         resume_at=start)
    try:
        await sim.control.resume()
        await wait_for(lambda: feed.status().connections[0].rotations >= 5, 20, "five rotations")
        rows = await settle(feed, sim)
    finally:
        await feed.stop()
    status = feed.status()
    assert status.reconnects == 0 and status.backfilled_bars == 0      # every candle arrived live
    assert status.connections[0].failed_attempts == 0
    # each candle counted once as it left the feed: a duplicate let through would be counted twice here
    # (the overlap itself is dropped by the sequencer and counted in duplicates_dropped, often 0 here)
    assert status.candles_emitted == len(sink.candles) == sum(len(r) for r in rows.values())
    assert_complete(sink, rows)


async def test_without_rotation_the_age_limit_costs_a_reconnect(sim_factory) -> None:  # type: ignore[no-untyped-def]
    sim, start = await started(sim_factory, ws_max_age=1.0, ws_ping_interval=0.2)
    sink = ListSink()
    feed = await feed_on(sim, sink, resume_at=start)                   # rotate_after: 23 h
    try:
        await sim.control.resume()
        await wait_for(lambda: feed.status().reconnects >= 1 and feed.status().connected, 10, "the forced reconnect")
        rows = await settle(feed, sim)
    finally:
        await feed.stop()
    assert feed.status().connections[0].rotations == 0
    assert_complete(sink, rows)


async def test_stop_closes_every_connection_and_task(sim_factory) -> None:  # type: ignore[no-untyped-def]
    sim, start = await started(sim_factory)
    feed = await feed_on(sim, ListSink(), opts=options(rotate_after=0.3, max_streams_per_connection=2),
                         resume_at=start)
    await sim.control.resume()
    await wait_for(lambda: sum(c.rotations for c in feed.status().connections) >= 3, 10, "rotations")
    await feed.stop()
    await wait_for(lambda: not sim.sim.venue.hub.connections, 5, "the simulator to see every connection closed")
    left = [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("feed-") and not t.done()]
    assert left == [] and not feed.status().connected
