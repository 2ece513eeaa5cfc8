"""health-sweep's logic as plain functions: the alert rule for a silent engine (once per outage, one
recovery), the incidents read from a real DuckLake store, the engine's real /health server asked over
HTTP, and the alert task delivering to a local webhook receiver."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import pytest

from engine.config import Settings
from engine.core.secret import Secret
from engine.core.types import HealthEvent
from engine.health.alerts import NoticeKind
from engine.health.levels import ComponentHealth, Level
from engine.health.metrics import Metrics
from engine.health.report import HealthReport
from engine.health.server import HealthServer
from engine.jobs import health_sweep as sweep
from engine.store import connect, init_store, open_store
from engine.store.writer import write_records
from tasks import health as health_tasks
from tests.conftest import free_port
from tests.health.receiver import Receiver

NOW = 1_764_700_000_000
HOUR = 3_600_000
URL = "http://127.0.0.1:8766/health"
REPORT = {"status": "DEGRADED", "checks": 42, "components": {
    "websocket": {"status": "DEGRADED", "reasons": ["no market frame for 40 s"]},
    "memory": {"status": "HEALTHY", "reasons": []}}}


def event(component: str, status: str, at: int, message: str = "") -> HealthEvent:
    return HealthEvent(f"{component}:{status}:{at}", component, status, message or f"{component} {status}",
                       event_time=at, received_time=at)


def answered() -> sweep.EngineAnswer:
    return sweep.EngineAnswer(URL, 200, REPORT)


def silent() -> sweep.EngineAnswer:
    return sweep.EngineAnswer(URL, error="ConnectionRefusedError: [Errno 111] Connection refused")


def test_a_silent_engine_alerts_once_per_outage_and_recovers_once() -> None:
    first = sweep.sweep(silent(), [], None, now_ms=NOW, window_ms=HOUR)
    assert first.notice is not None and first.notice.kind is NoticeKind.ALERT and first.notice.level is Level.CRITICAL
    assert first.notice.text == ("🏥 engine CRITICAL for 1 consecutive checks: the engine did not answer on "
                                 f"{URL}: ConnectionRefusedError: [Errno 111] Connection refused")
    assert first.verdict is not None and first.verdict.component == "health.engine" and first.verdict.status == "alert"
    assert json.loads(first.verdict.detail)["kind"] == "alert"

    still = sweep.sweep(silent(), [], first.verdict, now_ms=NOW + HOUR, window_ms=HOUR)
    assert still.notice is None and still.verdict is None          # nothing repeated while it stays silent

    back = sweep.sweep(answered(), [], first.verdict, now_ms=NOW + 2 * HOUR, window_ms=HOUR)
    assert back.notice is not None and back.notice.kind is NoticeKind.RECOVERY
    assert back.notice.since_ms == NOW and "recovered (HEALTHY) after 1 checks (120.0 min) down" in back.notice.text
    assert back.verdict is not None and back.verdict.status == "recovery"

    after = sweep.sweep(answered(), [], back.verdict, now_ms=NOW + 3 * HOUR, window_ms=HOUR)
    assert after.notice is None
    assert sweep.sweep(answered(), [], None, now_ms=NOW, window_ms=HOUR).notice is None   # answering: no news


def test_table_and_markdown_name_the_incidents_and_the_engine_level() -> None:
    recent = [event("health.websocket", "UNHEALTHY", NOW - 50 * 60_000, "no market frame for 65 s"),
              event("health.websocket", "alert", NOW - 48 * 60_000),
              event("health.websocket", "HEALTHY", NOW - 30 * 60_000)]
    result = sweep.sweep(answered(), recent, None, now_ms=NOW, window_ms=HOUR)
    rows = sweep.table(result)
    assert [r["status"] for r in rows] == ["HEALTHY", "alert", "UNHEALTHY"]     # newest first
    assert rows[2] == {"at": "2025-12-02T17:36:40Z", "component": "websocket", "status": "UNHEALTHY",
                       "message": "no market frame for 65 s"}
    text = sweep.markdown(result)
    assert "**Engine: DEGRADED** (HTTP 200 from `http://127.0.0.1:8766/health`, 42 checks since start)" in text
    assert "| websocket | DEGRADED | no market frame for 40 s |" in text and "| memory | HEALTHY | - |" in text
    assert "Last 60 min: 3 health events (1 HEALTHY, 1 UNHEALTHY, 1 alert)." in text
    quiet = sweep.sweep(silent(), [], None, now_ms=NOW, window_ms=HOUR)
    assert sweep.table(quiet)[0]["message"] == "no incidents in the last 60 min"
    assert "**Engine: NOT ANSWERING** on `http://127.0.0.1:8766/health`" in sweep.markdown(quiet)
    assert "Sent: 🏥 engine CRITICAL" in sweep.markdown(quiet)


def test_incidents_and_the_last_verdict_come_from_the_store(settings: Settings) -> None:
    init_store(settings)
    rows = [event("health.websocket", "UNHEALTHY", NOW - 2 * HOUR),           # before the window
            event("health.websocket", "HEALTHY", NOW - 30 * 60_000),
            event("store", "ok", NOW - 20 * 60_000),                           # not the monitor's
            event("health.engine", "alert", NOW - 3 * HOUR),
            event("health.engine", "recovery", NOW - 10 * 60_000)]
    with open_store(settings) as lake:
        write_records(lake, rows)
    with connect(settings, read_only=True) as lake:
        found = sweep.incidents(lake, NOW - HOUR)
        verdict = sweep.last_engine_verdict(lake)
    assert [(e.component, e.status) for e in found] == [("health.websocket", "HEALTHY"), ("health.engine", "recovery")]
    assert verdict is not None and verdict.status == "recovery"


@pytest.mark.integration
async def test_the_engines_health_server_answers_200_503_or_not_at_all() -> None:
    served = [HealthReport(NOW, 3, (ComponentHealth("websocket", Level.HEALTHY, (), {}),), {})]
    server = HealthServer(lambda: served[-1], Metrics(), "127.0.0.1", 0)
    await server.start()
    try:
        url = f"http://127.0.0.1:{server.port}/health"
        ok = await asyncio.to_thread(sweep.engine_health, url, 5.0)
        assert ok.answered and ok.status == 200 and ok.level == "HEALTHY"
        served.append(HealthReport(NOW, 4, (ComponentHealth("websocket", Level.UNHEALTHY, ("silent",), {}),), {}))
        down = await asyncio.to_thread(sweep.engine_health, url, 5.0)
        assert down.answered and down.status == 503 and down.level == "UNHEALTHY"
    finally:
        await server.stop()
    gone = await asyncio.to_thread(sweep.engine_health, f"http://127.0.0.1:{free_port()}/health", 2.0)
    assert not gone.answered and gone.level == "NOT ANSWERING" and "Connection refused" in (gone.error or "")


@pytest.mark.integration
async def test_the_alert_task_logs_and_posts_to_the_webhook_without_showing_its_url(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    receiver = await Receiver(fail=1).start()      # the first post fails: the task retries
    try:
        notice = sweep.sweep(silent(), [], None, now_ms=NOW, window_ms=HOUR).notice
        assert notice is not None
        mine = replace(settings, alert_webhook_url=Secret(receiver.url))
        outcome = await asyncio.to_thread(health_tasks.send_alert.fn, mine, notice)
        assert outcome == "logged and sent to the webhook" and receiver.attempts == 2
        [body] = receiver.of("engine")
        assert body["kind"] == "alert" and body["text"] == notice.text and body["level"] == "CRITICAL"
        assert await asyncio.to_thread(health_tasks.send_alert.fn, settings, notice) == \
            "logged (no SLT_ALERT_WEBHOOK_URL)"
    finally:
        await receiver.stop()
    assert "plantedwebhooksecret" not in caplog.text and notice.text in caplog.text
