"""The health-sweep and benchmarks flows run for real: a temporary Prefect server (prefect_test_harness),
the simulator on 127.0.0.1, a DuckLake store, no engine on its health port (so the sweep alerts once,
to a local webhook receiver) and the benchmark's test orders placing nothing."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prefect.settings import get_current_settings
from prefect.testing.utilities import prefect_test_harness

from engine.config import load_settings
from engine.core.types import HealthEvent
from engine.health.grading import CHECKS, BenchmarkResult
from engine.store import connect, init_store, reader
from tests.conftest import MARKET_DATA, REPO, free_port
from tests.health.receiver import Receiver
from tests.sim.harness import SimHandle

pytestmark = pytest.mark.integration


def test_health_sweep_alerts_once_and_benchmarks_store_a_graded_run(
        sim_process_factory: Callable[..., SimHandle], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The flows run in processes of their own, as a worker runs them (Prefect's client in this process
    would leave a socket open past the harness); the simulator is a process, the receiver a thread."""
    sim = sim_process_factory("--paused")
    admin("POST", f"{sim.rest_url}/admin/clock/step", {"bars": 1100})
    receiver, stop_receiver = receiver_thread()
    health_port = free_port()      # no engine there: the sweep finds it silent
    env = {"SLT_DATA_DIR": str(tmp_path / "data"), "SLT_MARKET_DATA_DIR": str(MARKET_DATA),
           "SLT_EXCHANGE_REST_URL": sim.rest_url, "SLT_EXCHANGE_WS_URL": sim.ws_url,
           "SLT_HEALTH_PORT": str(health_port), "SLT_ALERT_WEBHOOK_URL": receiver.url}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings(env, env_file=tmp_path / "no.env")
    init_store(settings)
    try:
        with prefect_test_harness(server_startup_timeout=120):
            api = str(get_current_settings().api.url)
            monkeypatch.setenv("PREFECT_API_URL", api)      # for the flows' processes
            first = run_flow("health_sweep", "health_sweep", window_minutes=60, timeout_seconds=2)
            second = run_flow("health_sweep", "health_sweep", window_minutes=60, timeout_seconds=2)
            ran = run_flow("benchmarks", "benchmarks", clients=2, trend_runs=5, trend_days=1)
            summary = artifact(api, "health-sweep-summary")
            table = artifact(api, "benchmarks")
            trend = artifact(api, "benchmarks-trend")
    finally:
        stop_receiver()

    assert first["engine"] == "NOT ANSWERING" and first["notice"] == "alert"
    assert first["delivery"] == "logged and sent to the webhook"
    assert second["notice"] is None and second["incidents"] == 1     # the first sweep's alert row; not repeated
    [alert] = receiver.of("engine")
    assert alert["kind"] == "alert" and f"127.0.0.1:{health_port}/health" in alert["text"]
    assert "**Engine: NOT ANSWERING**" in summary
    for published in (summary, table, trend):   # the planted webhook URL and the API secret appear in no artifact
        assert "plantedwebhooksecret" not in published and sim.secret not in published

    assert ran["total_tests"] == 6 and ran["unmeasured"] == [] and ran["stored"] == 6
    assert [row["check"] for row in json.loads(table)] == list(CHECKS)
    assert f"Latest run `{ran['run_id']}`" in trend
    with connect(settings, read_only=True) as lake:
        stored = reader.read(lake, BenchmarkResult)
        verdicts = reader.read(lake, HealthEvent, **{"component = ?": "health.engine"})
    assert {r.run_id for r in stored} == {ran["run_id"]} and len(stored) == 6
    assert [v.status for v in verdicts] == ["alert"]
    account = admin("GET", f"{sim.rest_url}/admin/accounts/{sim.key}")
    assert account["orders"] == [] and account["trades"] == []


def run_flow(module: str, name: str, **parameters: Any) -> Any:
    """The flow in a process of its own (as a worker would run it), against the harness's server."""
    code = (f"import json, sys; from flows.{module} import {name}; "
            f"print('RESULT=' + json.dumps({name}(**json.loads(sys.argv[1]))))")
    done = subprocess.run([sys.executable, "-c", code, json.dumps(parameters)], cwd=REPO, env=dict(os.environ),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    [line] = [line for line in done.stdout.splitlines() if line.startswith("RESULT=")]
    return json.loads(line.removeprefix("RESULT="))


def artifact(api: str, key: str) -> str:
    """The latest artifact with `key`, its data as text (Prefect's REST API)."""
    found = admin("POST", f"{api}/artifacts/latest/filter", {"artifacts": {"key": {"any_": [key]}}, "limit": 1})
    assert found, f"no artifact {key!r}"
    return str(found[0]["data"])


def admin(method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def receiver_thread() -> tuple[Receiver, Callable[[], None]]:
    """The webhook receiver on an event loop in a thread; the call that stops both."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="webhook-receiver", daemon=True)
    thread.start()
    receiver = asyncio.run_coroutine_threadsafe(Receiver().start(), loop).result(10)

    def stop() -> None:
        asyncio.run_coroutine_threadsafe(receiver.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
    return receiver, stop
