"""The user-data stream against the simulator: events arrive, expired keys are renewed, keepalives
keep a key, drops reconnect, polls cover the gaps, bad frames are counted and never fatal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal as D
from typing import Any

import pytest

from engine.core.backoff import Backoff
from engine.core.secret import Secret
from engine.core.types import Order, OrderType, Side
from engine.core.user_events import AccountUpdate, OrderUpdate, UserEvent
from engine.feeds.user_stream import UserStream, UserStreamOptions
from engine.venues.binance import BinanceVenue
from tests.sim.harness import SimHandle

pytestmark = pytest.mark.integration  # starts the simulator (or the engine) on 127.0.0.1


@dataclass
class Probe:
    venue: BinanceVenue
    stream: UserStream
    events: list[UserEvent] = field(default_factory=list)
    polls: list[str] = field(default_factory=list)
    task: asyncio.Task[Any] | None = None

    async def until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not condition():
            assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
            await asyncio.sleep(0.02)

    async def order(self, cid: str) -> None:
        await self.venue.create_order(Order(cid, "main", "BTCUSDT", Side.BUY, OrderType.MARKET, D("0.002")))

    def fills(self) -> list[str]:
        return [e.fill.trade_id for e in self.events if isinstance(e, OrderUpdate) and e.fill is not None]


@pytest.fixture
async def probe_factory() -> AsyncIterator[Callable[..., Any]]:
    probes: list[Probe] = []

    async def start(sim: SimHandle, **options: Any) -> Probe:
        venue = BinanceVenue(account="main", rest_url=sim.rest_url, ws_url=sim.ws_url, api_key=Secret(sim.key),
                             api_secret=Secret(sim.secret), rate_limit=False)
        await venue.start()
        probe = Probe(venue, None)  # type: ignore[arg-type]

        async def poll(reason: str) -> None:
            probe.polls.append(reason)

        probe.stream = UserStream(venue, sim.ws_url, account="main", handle=probe.events.append, poll=poll,
                                  options=UserStreamOptions(**options), backoff=Backoff(base=0.05, cap=0.2))
        probe.task = asyncio.create_task(probe.stream.run())
        await asyncio.wait_for(probe.stream.connected.wait(), 5)
        probes.append(probe)
        return probe

    yield start
    for probe in probes:
        await probe.stream.stop()
        assert probe.task is not None
        await probe.task
        await probe.venue.close()


async def test_events_flow_and_an_expired_key_is_renewed(sim_factory: Any, probe_factory: Any) -> None:
    sim = await sim_factory(listen_key_ttl=0.6)
    probe = await probe_factory(sim, keepalive_s=3600)
    await probe.order("us-1")
    await probe.until(lambda: len(probe.fills()) == 1)
    assert any(isinstance(e, AccountUpdate) and e.reason == "ORDER" for e in probe.events)
    await probe.until(lambda: probe.stream.stats.keys_created >= 2)  # listenKeyExpired -> a new key
    await probe.until(probe.stream.connected.is_set)
    await probe.order("us-2")
    await probe.until(lambda: len(probe.fills()) == 2)
    assert probe.polls.count("requested") >= 2  # a catch-up poll after each connection


async def test_keepalive_keeps_the_key(sim_factory: Any, probe_factory: Any) -> None:
    sim = await sim_factory(listen_key_ttl=0.8)
    probe = await probe_factory(sim, keepalive_s=0.2)
    await asyncio.sleep(2.0)
    assert probe.stream.stats.keepalives >= 5 and probe.stream.stats.keys_created == 1
    await probe.order("us-3")
    await probe.until(lambda: len(probe.fills()) == 1)


async def test_a_dropped_stream_reconnects_and_polls_while_it_is_down(sim: SimHandle, probe_factory: Any) -> None:
    probe = await probe_factory(sim, poll_interval_s=0.1)
    await sim.control.restart(down=1.0)
    await probe.until(lambda: not probe.stream.connected.is_set(), 5)
    await probe.until(lambda: "stream disconnected" in probe.polls, 5)
    await probe.until(probe.stream.connected.is_set, 10)
    assert probe.stream.stats.connects == 2
    await probe.order("us-4")
    await probe.until(lambda: len(probe.fills()) == 1)


async def test_bad_frames_are_counted_and_never_fatal(sim: SimHandle, probe_factory: Any,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    probe = await probe_factory(sim)
    for raw in (b"{not json", b'{"e":"ORDER_TRADE_UPDATE","E":1,"o":{"s":"BTCUSDT"}}', b'{"e":"MARGIN_CALL","E":1}'):
        assert probe.stream._on_frame(raw) is False
    assert probe.stream.stats.bad_frames == 2 and probe.stream.stats.ignored == 1
    assert "bad user-data frame ORDER_TRADE_UPDATE" in caplog.text
    await probe.order("us-5")
    await probe.until(lambda: len(probe.fills()) == 1)
