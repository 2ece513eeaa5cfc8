"""Against a real Prefect server on 127.0.0.1 (temporary PREFECT_HOME): `prepare` creates the pool and
the deployments (twice: idempotent), Late runs are cancelled at start, and a worker picks up a run the
scheduler created and completes it with regimes rows in the store and the table artifact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.config import Settings, load_settings
from engine.orchestration import POOL, PrefectApi, align_schedules, cancel_late, prepare, worker_service
from engine.services import Supervisor
from engine.store import connect
from engine.store.reader import query
from tests.orchestration.conftest import AT_START, DEPLOYMENTS, SPEC, wait
from tests.orchestration.data import market_candles, store_candles

pytestmark = pytest.mark.integration


def test_deploy_cancel_late_and_a_scheduled_run_completes(server: tuple[Settings, dict[str, str], Supervisor],
                                                          tmp_path: Path) -> None:
    settings, env, supervisor = server
    api = PrefectApi(settings.prefect_api_url)
    first = prepare(settings)
    assert first.pool_created and api.work_pool(POOL) is not None
    assert sorted(first.started) == AT_START == ["candle-backfill", "store-maintenance"]  # the at-start runs
    automations = api.call("POST", "/automations/filter", {})
    schedules = {d["name"]: d["schedules"] for d in api.deployments()}
    again = prepare(settings)                           # again: no error, no duplicate deployment, automation or run
    assert not again.pool_created and again.started == []
    assert len(api.call("POST", "/automations/filter", {})) == len(automations)
    assert len(automations) == sum(len(d.get("triggers", [])) for d in SPEC["deployments"])
    by_name = {d["name"]: d for d in api.deployments()}
    assert sorted(by_name) == DEPLOYMENTS
    # interval schedules keep their fixed anchor: a redeploy (each slt up) does not push them back
    assert {n: [s["schedule"] for s in d["schedules"]] for n, d in by_name.items()} == \
        {n: [s["schedule"] for s in v] for n, v in schedules.items()}
    assert by_name["retrain"]["schedules"][0]["schedule"]["anchor_date"].startswith("2026-01-01T02:00:00")
    assert [s["schedule"]["interval"] for s in by_name["regime-detection"]["schedules"]] == [300.0]
    assert [s["schedule"]["cron"] for s in by_name["candle-backfill"]["schedules"]] == ["5 * * * *"]
    at_start = api.flow_runs({"flow_runs": {"tags": {"all_": ["slt-up"]}}})
    assert len(at_start) == 2
    for run in at_start:  # this test has no exchange for candle-backfill: test_flows_cli runs them
        api.cancel(run["id"], "not in this test")
    deployments = [by_name["regime-detection"]]

    # retention is on: the server runs with the vacuum of old flow runs and events enabled
    vacuum = api.call("GET", "/admin/settings")["server"]["services"]["db_vacuum"]
    assert set(vacuum["enabled"]) == {"events", "flow_runs"} and vacuum["retention_period"] in (14 * 86400, "P14D")

    # runs that went Late while the system was down are cancelled, on-time ones are not
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    late = [api.call("POST", f"/deployments/{deployments[0]['id']}/create_flow_run",
                     {"state": {"type": "SCHEDULED", "state_details": {"scheduled_time": past}}})["id"] for _ in range(3)]
    assert cancel_late(api) == 3
    assert {api.call("GET", f"/flow_runs/{i}")["state_type"] for i in late} == {"CANCELLED"}

    # the scheduler (not a hand-made run) creates the run; the worker runs it
    store_candles(settings, market_candles("BTCUSDT", 26))
    fast = load_settings({**env, "RISK_REGIME_CHECK_INTERVAL": "15"}, env_file=tmp_path / "no.env")
    assert align_schedules(api, fast) == ["regime-detection"]
    supervisor.launch(worker_service(settings, poll_seconds=1))
    done = wait("a completed scheduled run", lambda: api.flow_runs({
        "deployments": {"id": {"any_": [deployments[0]["id"]]}},
        "flow_runs": {"state": {"type": {"any_": ["COMPLETED", "FAILED", "CRASHED"]}}}}))
    assert done[0]["state_type"] == "COMPLETED", done[0]["state"]
    assert done[0]["auto_scheduled"] is True
    with connect(settings, read_only=True) as lake:
        assert query(lake, "SELECT count(*) AS n FROM lake.regimes")[0]["n"] > 0
    artifacts = api.call("POST", "/artifacts/filter", {"artifacts": {"key": {"any_": ["regime-detection"]}}})
    assert artifacts and artifacts[0]["type"] == "table" and "BTCUSDT" in artifacts[0]["data"]
