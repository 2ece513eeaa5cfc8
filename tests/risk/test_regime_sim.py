"""Regime detection on the simulator's labelled synthetic regimes, read over REST through ccxt."""

from __future__ import annotations

import pytest

from engine.core.clock import ManualClock
from engine.core.secret import Secret
from engine.risk.regime import detect_regime
from engine.sim.synthetic import parse_segments
from engine.venues.binance import BinanceVenue

pytestmark = pytest.mark.integration  # starts the simulator (or the engine) on 127.0.0.1

HOUR = 3_600_000
REGIMES = "normal:30,high:24,low:36,crash:24,rally:24,normal:24,crash:30,high:24,rally:28"
START = 1_704_067_200_000  # 2024-01-01 00:00 UTC


@pytest.mark.parametrize("seed", [3, 11])
async def test_labelled_segments_are_detected(sim_factory, seed: int) -> None:  # type: ignore[no-untyped-def]
    segments = parse_segments(REGIMES)
    hours = sum(s.hours for s in segments)
    # two trailing hours so that every tested segment has closed before the replay starts
    sim = await sim_factory(source="synthetic", regimes=REGIMES + ",normal:2", interval="1h", seed=seed,
                            symbols=("BTCUSDT",), start_ms=START + (hours + 1) * HOUR,
                            synthetic_history_hours=hours + 1)
    venue = BinanceVenue(account="main", rest_url=sim.rest_url, ws_url=sim.ws_url, api_key=Secret(sim.key),
                         api_secret=Secret(sim.secret), clock=ManualClock(), rate_limit=False)
    await venue.start()
    try:
        candles = [c for c in await venue.fetch_candles("BTCUSDT", "1h", START, limit=1000)
                   if c.close_time < START + hours * HOUR]
    finally:
        await venue.close()
    assert len(candles) == hours
    end = START
    for segment in segments:
        end += segment.hours * HOUR
        if end - START < 25 * HOUR:
            continue  # no full 24 h window before the first segment's end
        reading = detect_regime(candles, at=end)
        assert reading.regime == segment.regime, (segment, reading)
