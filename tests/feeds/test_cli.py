"""`slt feed` as a process against a simulator process: candles go to the store, and a second run
resumes after the last stored candle, backfilling the time it was down."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.config import load_settings
from engine.store import connect, reader
from tests.conftest import REPO
from tests.feeds.helpers import mismatches

pytestmark = pytest.mark.integration


def run_feed(env: dict[str, str], seconds: float) -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-m", "engine.cli", "feed", "--for", str(seconds), "--status-every", "1",
                             "--status-json"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "market-0 connected (4 streams)" in result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


async def test_slt_feed_records_candles_and_resumes_after_a_restart(sim_process_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sim = sim_process_factory("--speed", "600")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLT_")}
    env.update(SLT_DATA_DIR=str(tmp_path / "data"), SLT_ENV_FILE=str(tmp_path / "none.env"),
               SLT_EXCHANGE_REST_URL=sim.rest_url, SLT_EXCHANGE_WS_URL=sim.ws_url, SLT_SYMBOLS="BTCUSDT,ETHUSDT",
               SLT_LOG_LEVEL="info")
    first = await asyncio.to_thread(run_feed, env, 3)
    assert first["candles_recorded"] == first["candles_emitted"] > 0 and first["errors"] == {}
    await asyncio.sleep(1.5)                          # the feed is down while ~15 bars close
    second = await asyncio.to_thread(run_feed, env, 3)
    assert second["backfilled_bars"] > 0 and second["candles_recorded"] == second["candles_emitted"]
    settings = load_settings({"SLT_DATA_DIR": env["SLT_DATA_DIR"]}, env_file=tmp_path / "none.env")
    with connect(settings, read_only=True) as lake:
        stored = {s: reader.candles(lake, s, "1m") for s in ("BTCUSDT", "ETHUSDT")}
    try:
        for symbol, candles in stored.items():
            assert len(candles) == (first["candles_emitted"] + second["candles_emitted"]) // 2
            rows = await sim.control.candles(symbol)
            expected = [r for r in rows if candles[0].open_time <= int(r[0]) <= candles[-1].open_time]
            assert mismatches(candles, expected) == [], symbol
    finally:
        await sim.control.close()
