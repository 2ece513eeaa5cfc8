"""The reconnect loop follows the backoff schedule: 1, 2, 4, 8, 16 s with bounded jitter, then 60 s
in long-delay mode after 5 consecutive failures, and a good connection resets it. The feed's
delays go through an injected sleep (recorded, never slept) with a seeded rng, against a real
port that refuses connections and then a real simulator that comes up on it."""

from __future__ import annotations

import asyncio
import random

import pytest

from engine.child import free_port
from engine.core.backoff import Backoff
from engine.feeds.market import MarketFeed
from tests.feeds.helpers import ListSink, options, venue_for, wait_for
from tests.sim.harness import SimHandle

pytestmark = pytest.mark.integration  # starts the simulator (or the engine) on 127.0.0.1


class RecordingSleep:
    """Records each delay; after `gate_after` delays it waits for `release` (no real sleeping)."""

    def __init__(self, gate_after: int) -> None:
        self.delays: list[float] = []
        self.gate_after = gate_after
        self.gated = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if len(self.delays) == self.gate_after:
            self.gated.set()
            await self.release.wait()
        await asyncio.sleep(0)


async def test_reconnect_delays_follow_the_schedule_then_reset(sim_factory) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    sleep = RecordingSleep(gate_after=8)
    # the real schedule (1 s base, x2, 300 s cap, 20 % jitter, 60 s after 5 failures); nothing sleeps for real
    opts = options(("BTCUSDT",), backoff_base=1.0, backoff_cap=300.0, backoff_long_delay=60.0, ws_lag_seconds=2.0)
    nowhere = SimHandle(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}")
    venue = venue_for(nowhere)
    feed = MarketFeed(opts, ws_url=nowhere.ws_url, source=venue, sink=ListSink(), rng=random.Random(7), sleep=sleep,
                      prepare=venue.start, on_stop=venue.close)
    await feed.start()
    try:
        await asyncio.wait_for(sleep.gated.wait(), 30)
        mirror = Backoff(rng=random.Random(7))
        assert sleep.delays == [mirror.failure() for _ in range(8)]
        nominal = [1, 2, 4, 8, 16, 60, 60, 60]
        assert all(0.8 * n <= d <= 1.2 * n for d, n in zip(sleep.delays, nominal)), sleep.delays
        status = feed.status().connections[0]
        assert status.consecutive_failures == 8 and status.failed_attempts == 8 and not status.connected
        assert "Connect" in (status.last_error or "")

        sim = await sim_factory(port=port, speed=300.0)          # the exchange comes back on the same port
        await sim.control.resume()
        sleep.release.set()
        await wait_for(lambda: feed.status().connected, 20, "the connection")
        assert feed.status().connections[0].consecutive_failures == 0       # a good connection resets

        await sim.control.fault(kind="ws_drop")
        await wait_for(lambda: len(sleep.delays) == 9, 20, "the reconnect after the drop")
        mirror.success()
        assert sleep.delays[8] == mirror.failure() and 0.8 <= sleep.delays[8] <= 1.2   # back to the first step
        await wait_for(lambda: feed.status().connected, 20, "the reconnection")
        assert feed.status().reconnects == 1
    finally:
        sleep.release.set()
        await feed.stop()
