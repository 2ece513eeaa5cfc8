"""`slt health` against a real /health server on 127.0.0.1: the text report, --json, the exit code
by level, a starting engine, and an engine that does not answer."""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import replace

import pytest

from engine.cli import health as health_cli
from engine.config import Settings
from engine.health.levels import ComponentHealth, Level
from engine.health.metrics import Metrics
from engine.health.report import HealthReport
from engine.health.server import HealthServer
from tests.conftest import free_port


def report(level: Level) -> HealthReport:
    return HealthReport(1_764_700_000_000, 7, (
        ComponentHealth("websocket", level, ("no market frame for 9 s",), {"silence_s": 9.0}),
        ComponentHealth("memory", Level.HEALTHY, (), {"rss_mb": 210.5})), {"websocket": 2})


@pytest.mark.integration
async def test_the_report_its_json_and_the_exit_code_follow_the_engines_health(
        settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    served: list[HealthReport | None] = [None]
    server = HealthServer(lambda: served[-1], Metrics(), "127.0.0.1", 0)
    await server.start()
    mine = replace(settings, health_host="127.0.0.1", health_port=server.port)

    async def slt_health(as_json: bool = False) -> tuple[int, str, str]:
        code = await asyncio.to_thread(health_cli.run, argparse.Namespace(json=as_json), mine)
        out, err = capsys.readouterr()
        return code, out, err

    try:
        code, out, _ = await slt_health()
        assert code == 1 and "starting" in out
        served.append(report(Level.DEGRADED))
        code, out, _ = await slt_health()
        assert code == 0 and out.startswith("🏥 DEGRADED at 2025-12-02")
        assert "websocket  DEGRADED   no market frame for 9 s  2 checks down" in out and "rss_mb 210.5" in out
        served.append(report(Level.CRITICAL))
        code, out, _ = await slt_health(as_json=True)
        assert code == 1 and json.loads(out) == served[-1].as_dict()  # type: ignore[union-attr]
    finally:
        await server.stop()


def test_an_engine_that_does_not_answer_is_named(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()   # nothing listens there
    code = health_cli.run(argparse.Namespace(json=False), replace(settings, health_port=port))
    err = capsys.readouterr().err
    assert code == 1 and f"does not answer on http://127.0.0.1:{port}/health" in err and "SLT_HEALTH_PORT" in err
