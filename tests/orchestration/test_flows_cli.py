"""`slt flows` and `slt flows run NAME` against a real Prefect server, its worker and the simulator:
candle-backfill fills an empty store over its window from the exchange's REST klines, a rerun stores
nothing twice, a hole punched into the store is filled with exactly the bars it lacked; then
store-maintenance completes with its artifact, and the listing shows each deployment's last run."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable

import pytest

from engine.config import Settings
from engine.core.intervals import INTERVAL_MS
from engine.orchestration import PrefectApi, prepare, wait_worker_online, worker_service
from engine.services import Supervisor
from engine.store import connect, init_store, open_store
from engine.store.reader import query
from tests.conftest import REPO
from tests.orchestration.conftest import AT_START, DEPLOYMENTS
from tests.sim.harness import SimHandle

pytestmark = pytest.mark.integration


def slt(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)


def open_times(settings: Settings) -> list[int]:
    with connect(settings, read_only=True) as lake:
        return [r["open_time"] for r in query(lake, "SELECT open_time FROM lake.candles WHERE symbol = 'BTCUSDT' "
                                                    "AND interval = '1m' ORDER BY open_time")]


def test_backfill_and_maintenance_through_server_and_worker(server: tuple[Settings, dict[str, str], Supervisor],
                                                            sim_process_factory: Callable[..., SimHandle],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    settings, env, supervisor = server
    sim = sim_process_factory("--paused", "--symbols", "BTCUSDT")
    monkeypatch.setenv("SLT_SIM_PORT", sim.rest_url.rsplit(":", 1)[1])  # the worker's flow runs read it
    cli_env = {**os.environ, "SLT_LOG_LEVEL": "warning"}
    prepared = prepare(settings)
    api = PrefectApi(settings.prefect_api_url)
    for run in api.flow_runs({"flow_runs": {"tags": {"all_": ["slt-up"]}}}):  # this test starts its own runs
        api.cancel(run["id"], "not in this test")
    assert sorted(prepared.started) == AT_START
    init_store(settings)  # what slt up does before the flows run
    supervisor.launch(worker_service(settings, poll_seconds=1))
    assert wait_worker_online(api, threading.Event())

    done = slt(cli_env, "flows", "run", "candle-backfill", "-p", "lookback_hours=2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "candle-backfill: Completed" in done.stdout and "artifact candle-backfill (table)" in done.stdout
    times = open_times(settings)
    step = INTERVAL_MS["1m"]
    assert len(times) == 120 and times == list(range(times[0], times[0] + 120 * step, step))

    assert slt(cli_env, "flows", "run", "candle-backfill", "-p", "lookback_hours=2").returncode == 0
    assert open_times(settings) == times  # a rerun stores nothing twice

    with open_store(settings) as lake, lake.write_transaction() as con:  # the engine was down for 30 minutes
        con.execute("DELETE FROM lake.candles WHERE open_time BETWEEN ? AND ?", [times[40], times[69]])
    assert len(open_times(settings)) == 90
    assert slt(cli_env, "flows", "run", "candle-backfill", "-p", "lookback_hours=2").returncode == 0
    assert open_times(settings) == times

    done = slt(cli_env, "flows", "run", "store-maintenance", "-p", "grace_minutes=0")
    assert done.returncode == 0 and "artifact store-maintenance (table)" in done.stdout, done.stdout + done.stderr
    assert open_times(settings) == times

    listing = slt(cli_env, "flows")
    assert listing.returncode == 0, listing.stderr
    rows = {line.split()[0]: line for line in listing.stdout.splitlines()[2:-1]}
    assert sorted(rows) == DEPLOYMENTS
    assert "Completed" in rows["candle-backfill"] and "Completed" in rows["store-maintenance"]
    assert "every 300 s" in rows["regime-detection"] and "cron 5 * * * *" in rows["candle-backfill"]

    wrong = slt(cli_env, "flows", "run", "candle-backfill", "-p", "lookback=2")  # refused before any run exists
    assert wrong.returncode == 1 and "candle-backfill has no parameter lookback" in wrong.stderr, wrong.stderr

    missing = slt(cli_env, "flows", "run", "no-such-flow")
    assert missing.returncode == 1 and "no deployment named 'no-such-flow'" in missing.stderr
