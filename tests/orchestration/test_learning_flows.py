"""drift-check and retrain as deployments, all real: a Prefect server and worker, an MLflow server and
a DuckLake store on 127.0.0.1. With no champion drift-check says so and succeeds; with a champion
whose live outcomes stay within noise of its validation figures nothing is emitted; outcomes that
destroy its edge make drift-check emit slt.model.drift, and the retrain deployment runs from that
trigger with the drift figures as its parameter, then publishes its fold table, decision and a link
to the MLflow run; the recalibrate deployment refits the champion's calibration on the same ledger."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.child import stop
from engine.config import Settings, load_settings
from engine.core.types import Side, SignalOutcome, SignalRecord
from engine.learning.drift import reference
from engine.learning.registry import promote
from engine.orchestration import PrefectApi, align_schedules, prepare, worker_service
from engine.services import Supervisor
from engine.store import init_store, open_store
from engine.store.writer import write_records
from tests.learning.conftest import start_mlflow
from tests.learning.models import fit_logistic, minute_history, register
from tests.orchestration.conftest import wait

pytestmark = [pytest.mark.integration, pytest.mark.slow]
T0 = 1_700_000_000_000
MINUTE = 60_000
FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


def outcomes(signal: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predictions p and outcomes y ~ Bernoulli(0.4 + signal * (p - 0.4)): signal 1 = calibrated, 0 = no edge."""
    rng = np.random.default_rng(seed)
    p = np.clip(rng.beta(4, 6, n), 0.01, 0.99)
    y = rng.random(n) < 0.4 + signal * (p - 0.4)
    return p, y, np.where(y, 0.02, -0.01)


def validation_metrics() -> dict[str, float]:
    """The champion's 'validation' figures: the calibrated generator on many rows."""
    p, y, net = outcomes(1.0, 50_000, 0)
    return {"brier": float(np.mean((p - y) ** 2)), "base_brier": float(np.mean((0.4 - y) ** 2)),
            "gated_net": float(net[p > 0.45].mean())}


def predictions(settings: Settings, version: str, names: list[str], *, signal: float, start: int, n: int,
                seed: int) -> None:
    """n signals scored by `version`, resolved (signal_outcomes), with feature rows."""
    p, y, _ = outcomes(signal, n, seed)
    rng = np.random.default_rng(seed + 100)
    records: list[Any] = []
    for i in range(n):
        t = start + i * MINUTE
        row = {name: float(rng.normal()) for name in names}
        records.append(SignalRecord(f"{version}-{start}-{i}", "signal-model", "BTCUSDT", "1m", Side.BUY, 0.4,
                                    float(p[i]), 30_000.0, 50.0, False, "model", "test", t, t + MINUTE, t + MINUTE,
                                    model_version=version, features=json.dumps(row)))
        net = 0.02 if y[i] else -0.01
        records.append(SignalOutcome(f"{version}-{start}-{i}", "BTCUSDT", net, int(y[i]), t + 30 * MINUTE))
    with open_store(settings) as lake:
        write_records(lake, records)


def run_deployment(api: PrefectApi, deployment: dict[str, Any]) -> dict[str, Any]:
    created = api.call("POST", f"/deployments/{deployment['id']}/create_flow_run", {})
    return wait(f"{deployment['name']} to finish", lambda: (r := api.call("GET", f"/flow_runs/{created['id']}"))
                and r["state_type"] in FINAL and r, timeout=300)


def by_hand(api: PrefectApi, deployment: dict[str, Any]) -> list[dict[str, Any]]:
    """The deployment's runs that no schedule created (the trigger's, or this test's)."""
    return [r for r in api.flow_runs({"deployments": {"id": {"any_": [deployment["id"]]}}})
            if not r["auto_scheduled"]]


def artifact(api: PrefectApi, key: str) -> list[dict[str, Any]]:
    return api.call("POST", "/artifacts/filter", {"artifacts": {"key": {"any_": [key]}}, "sort": "CREATED_DESC"})


def test_drift_emits_the_event_and_the_trigger_runs_retrain(server: tuple[Settings, dict[str, str], Supervisor],
                                                          tmp_path: Path) -> None:
    settings, env, supervisor = server
    mlflow, uri = start_mlflow(tmp_path / "mlflow")
    old = os.environ.get("SLT_MLFLOW_TRACKING_URI")
    os.environ["SLT_MLFLOW_TRACKING_URI"] = uri            # the worker's flow runs read it
    try:
        init_store(settings)
        api = PrefectApi(settings.prefect_api_url)
        prepare(settings)
        by_name = {d["name"]: d for d in api.deployments()}
        for deployment in by_name.values():                 # only the runs this test starts (and retrain's schedule)
            if deployment["name"] == "retrain":
                continue
            for schedule in deployment.get("schedules", []):
                api.call("DELETE", f"/deployments/{deployment['id']}/schedules/{schedule['id']}")
        for run in api.flow_runs({"flow_runs": {"state": {"type": {"any_": ["SCHEDULED", "PENDING", "RUNNING"]}}}}):
            api.cancel(run["id"], "not in this test")
        automations = api.call("POST", "/automations/filter", {})
        assert any(a["trigger"].get("expect") == ["slt.model.drift"] for a in automations), automations
        supervisor.launch(worker_service(settings, poll_seconds=1))

        first = run_deployment(api, by_name["drift-check"])
        assert first["state_type"] == "COMPLETED", first["state"]
        assert "No champion is registered" in artifact(api, "drift-check")[0]["data"]

        model, names = fit_logistic(minute_history(("BTCUSDT",), bars=3000))
        rng = np.random.default_rng(0)
        train_rows = rng.normal(size=(5000, len(names)))
        version = register(uri, model, names, threshold=0.45, interval="1m",
                           metrics=validation_metrics(),
                           reference=reference(train_rows, names).as_json(), tags={"base_rate": "0.4"})
        promote(uri, version)
        predictions(settings, version, names, signal=1.0, start=T0, n=600, seed=1)     # the edge holds
        held = run_deployment(api, by_name["drift-check"])
        assert held["state_type"] == "COMPLETED", held["state"]
        text = artifact(api, "drift-check")[0]["data"]
        assert "**Decision: no drift.**" in text, text
        assert not by_hand(api, by_name["retrain"])

        predictions(settings, version, names, signal=0.0, start=T0 + 10**9, n=600, seed=2)  # the edge is gone
        drifted = run_deployment(api, by_name["drift-check"])
        assert drifted["state_type"] == "COMPLETED", drifted["state"]
        assert "**Decision: drift.**" in artifact(api, "drift-check")[0]["data"]
        assert artifact(api, "drift-check-features")
        retrain = wait("the retrain run the trigger started", lambda: by_hand(api, by_name["retrain"]), timeout=120)[0]
        assert retrain["parameters"]["drift"]["version"] == version
        assert retrain["parameters"]["drift"]["drifted"] is True
        done = wait("retrain to finish", lambda: (r := api.call("GET", f"/flow_runs/{retrain['id']}"))
                    and r["state_type"] in FINAL and r, timeout=600)
        assert done["state_type"] == "COMPLETED", done["state"]
        assert artifact(api, "retrain-folds")[0]["type"] == "table"
        decision = artifact(api, "retrain-decision")[0]["data"]
        assert "Started by `slt.model.drift`" in decision and "**refuse**" in decision, decision
        # better than the test's champion (a 1m model scoring 1h rows), but no edge of its own: refused
        assert "better than the champion" in decision and "no edge" in decision, decision
        link = artifact(api, "retrain-mlflow-run")[0]["data"]
        assert f"]({uri}/#/experiments/" in link and "/runs/" in link, link

        # the incremental step on the same ledger: the champion's calibration refitted, judged, registered
        recalibrated = run_deployment(api, by_name["recalibrate"])
        assert recalibrated["state_type"] == "COMPLETED", recalibrated["state"]
        text = artifact(api, "recalibrate-decision")[0]["data"]
        assert f"## Recalibration of version {version}:" in text and "refitted on 800 resolved signals" in text, text

        # the schedule (not a hand-made run) starts retrain: its interval aligned to a short ML_RETRAIN_INTERVAL_HOURS
        fast = load_settings({**env, "ML_RETRAIN_INTERVAL_HOURS": "0.006"}, env_file=tmp_path / "no.env")
        assert "retrain" in align_schedules(api, fast)
        scheduled = wait("a completed scheduled retrain", lambda: [r for r in api.flow_runs({
            "deployments": {"id": {"any_": [by_name["retrain"]["id"]]}},
            "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}) if r["auto_scheduled"]], timeout=400)[0]
        assert scheduled["auto_scheduled"] is True
        folds = [a for a in artifact(api, "retrain-folds") if a["flow_run_id"] == scheduled["id"]]
        assert folds and folds[0]["type"] == "table"
    finally:
        stop(mlflow)
        if old is None:
            os.environ.pop("SLT_MLFLOW_TRACKING_URI", None)
        else:
            os.environ["SLT_MLFLOW_TRACKING_URI"] = old
