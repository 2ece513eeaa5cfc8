"""The monitor in the running engine (`python -m engine` against a `python -m engine.sim` process,
a real DuckLake store, a local webhook receiver in the test): a `ws_stall` fault makes the market
stream silent, websocket goes UNHEALTHY, `/health` answers 503, exactly one alert reaches the
receiver after HEALTH_ALERT_THRESHOLD checks and one recovery notice after the fault clears, and
`/health` answers 200 again. Then the receiver is down during a second stall: the engine trades on
and the alert is retried until the receiver is back. `/metrics` parses with prometheus-client's
parser; the planted webhook URL and API secret appear nowhere: log, /health, /metrics, the store."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine.cli import health as health_cli
from engine.core.types import HealthEvent
from engine.store import connect, reader
from tests.conftest import free_port
from tests.engine.process import EngineProcess, engine_env, settings_for, wait_until
from tests.health.receiver import Receiver
from tests.sim.harness import SimHandle

pytestmark = pytest.mark.integration
KEY, SECRET = "health-key-0001", "plantedapisecretvalue0001"
THRESHOLD, INTERVAL = 3, 0.5
STALL = {"kind": "ws_stall", "stream": "*usdt@*"}   # market frames only: the user-data stream goes on


async def test_a_stalled_feed_alerts_once_recovers_once_and_the_endpoints_follow(
        sim_process_factory: Callable[..., SimHandle], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sim = sim_process_factory("--speed", "60", "--account", f"{KEY}:{SECRET}")
    receiver = await Receiver().start()
    port = free_port()
    # CPU, threads and memory are the machine's business here (a loaded CI box): only the feed is judged
    env = engine_env(sim, tmp_path / "data", SLT_API_KEY=KEY, SLT_API_SECRET=SECRET, SLT_HEALTH_PORT=str(port),
                     SLT_ALERT_WEBHOOK_URL=receiver.url, HEALTH_CHECK_INTERVAL=str(INTERVAL),
                     HEALTH_ALERT_THRESHOLD=str(THRESHOLD), SLT_WS_LAG_SECONDS="2", SLT_HEALTH_CPU_PERCENT="10000",
                     SLT_HEALTH_MEMORY_PERCENT="100")
    engine = EngineProcess(env, tmp_path / "engine.log")
    base = f"http://127.0.0.1:{port}"
    http = aiohttp.ClientSession()

    async def health() -> tuple[int, dict[str, Any]]:
        async with http.get(base + "/health") as r:
            return r.status, await r.json()

    async def candles() -> float:
        async with http.get(base + "/metrics") as r:
            families = {f.name: f for f in text_string_to_metric_families(await r.text())}
        return families["slt_candles"].samples[0].value

    async def websocket_is(level: str) -> bool:
        _, body = await health()
        return body["components"].get("websocket", {}).get("status") == level

    try:
        engine.start()
        engine.wait_for("engine ready", 60)

        async def serving() -> bool:
            status, body = await health()
            return status == 200 and body["components"]["websocket"]["status"] == "HEALTHY"
        await wait_until("a healthy report", serving, engine)

        # 1. the feed stalls: UNHEALTHY, 503, one alert after THRESHOLD checks
        fault = await sim.control.fault(**STALL)
        stalled_at = (await health())[1]["checks"]
        await wait_until("websocket UNHEALTHY", lambda: websocket_is("UNHEALTHY"), engine)
        assert (await health())[0] == 503
        await wait_until("the alert", lambda: receiver.of("websocket"), engine)
        (alert,) = receiver.of("websocket")
        assert alert["kind"] == "alert" and alert["checks"] == THRESHOLD and "🏥" in alert["text"]
        assert alert["level"] in ("DEGRADED", "UNHEALTHY", "CRITICAL")
        await asyncio.sleep(4 * INTERVAL)     # still down: nothing repeated
        assert len(receiver.of("websocket")) == 1 and (await health())[1]["checks"] > stalled_at + THRESHOLD

        # 2. the fault clears: one recovery notice, 200 again
        await sim.control.clear_faults(fault["id"])
        await wait_until("the recovery notice", lambda: len(receiver.of("websocket")) == 2, engine)
        assert receiver.of("websocket")[1]["kind"] == "recovery"
        await wait_until("200 again", lambda: serving(), engine)
        code = await asyncio.to_thread(health_cli.run, argparse.Namespace(json=False), settings_for(env))
        out = capsys.readouterr().out
        assert code == 0 and "websocket  HEALTHY" in out and "database" in out   # slt health
        await asyncio.sleep(4 * INTERVAL)
        assert [b["kind"] for b in receiver.of("websocket")] == ["alert", "recovery"]

        # 3. the receiver is down during a second stall: the alert is retried until it is back
        await receiver.stop()
        tried = receiver.attempts
        fault = await sim.control.fault(**STALL)
        await wait_until("a second websocket alert in the log", lambda: engine.text().count("websocket UNHEALTHY for") >= 2
                    or engine.text().count(f"for {THRESHOLD} consecutive checks") >= 2, engine)
        await wait_until("a failed webhook attempt", lambda: "alert webhook: ClientConnectorError" in engine.text(), engine)
        await sim.control.clear_faults(fault["id"])
        before = await candles()
        await wait_until("candles again while the receiver is down", lambda: _more(candles, before), engine)
        await receiver.start()   # same port
        await wait_until("the retried alert and its recovery", lambda: len(receiver.of("websocket")) == 4, engine, 60)
        assert [b["kind"] for b in receiver.of("websocket")] == ["alert", "recovery", "alert", "recovery"]
        assert receiver.attempts == tried + 2

        # /metrics parses; the level per component is there
        async with http.get(base + "/metrics") as r:
            text = await r.text()
        families = {f.name: f for f in text_string_to_metric_families(text)}
        names = set(families)
        assert sum(s.value for s in families["slt_signals"].samples if s.name == "slt_signals_total") > 0
        assert sum(s.value for s in families["slt_orders"].samples if s.name == "slt_orders_total") > 0
        assert {"slt_candles", "slt_orders", "slt_fills", "slt_candle_to_ack_seconds", "slt_equity",
                "slt_health_level", "slt_regime", "slt_model_info", "slt_journal_pending_records"} <= names
        shown = json.dumps((await health())[1]) + text
    finally:
        if engine.process is not None and engine.process.poll() is None:
            assert engine.stop() == 0
        engine.close()
        await http.close()
        await receiver.stop()
        await sim.aclose()

    with connect(settings_for(env), read_only=True) as lake:
        rows = [e for e in reader.read(lake, HealthEvent) if e.component == "health.websocket"]
        stored = json.dumps([(e.message, e.detail) for e in reader.read(lake, HealthEvent)])
    assert [e.status for e in rows if e.status in ("alert", "recovery")] == ["alert", "recovery", "alert", "recovery"]
    assert "UNHEALTHY" in {e.status for e in rows} and "HEALTHY" in {e.status for e in rows}
    log = engine.text(since_start=False)
    for secret in ("plantedwebhooksecret", SECRET):
        assert secret not in log and secret not in shown and secret not in stored


async def _more(candles: Callable[[], Any], before: float) -> bool:
    return bool(await candles() > before + 3)
