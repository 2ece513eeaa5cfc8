"""Against a real MLflow server on 127.0.0.1 (started like `slt up` starts it): a small training is
logged and registered; the gate decides the aliases; MLflow down means a clear error and nothing
registered; a planted secret never reaches MLflow."""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from engine.child import free_port
from engine.cli import model as model_cli
from engine.config import Settings
from engine.learning.dataset import MarketData
from engine.learning.gate import Decision
from engine.learning.registry import (
    CHALLENGER,
    CHAMPION,
    MODEL_NAME,
    RegistryUnavailable,
    overview,
    promote,
    publish,
    rollback,
)
from engine.learning.sources import bundled
from engine.learning.training import Training, train
from tests.learning.conftest import MARKET

pytestmark = pytest.mark.integration
SECRET = "sk-planted-4f1d9a"


@pytest.fixture(scope="module")
def training(history: list[MarketData]) -> Training:
    os.environ["SLT_API_SECRET"] = SECRET  # planted: must never reach params, tags or artifacts
    try:
        return train(history, resamples=50)
    finally:
        del os.environ["SLT_API_SECRET"]


def test_a_run_is_logged_registered_and_refused_without_edge(mlflow_uri: str, training: Training,
                                                             tmp_path: Path) -> None:
    published = publish(training, mlflow_uri, code_commit="abc123")
    assert published.aliases == (CHALLENGER,) and not published.decision.promote
    client = MlflowClient(mlflow_uri)
    version = client.get_model_version_by_alias(MODEL_NAME, CHALLENGER)
    assert version.version == published.version and version.tags["decision"] == "refuse"
    assert "no edge" in version.tags["reason"]
    with pytest.raises(Exception, match="champion"):
        client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    run = client.get_run(published.run_id)
    assert run.data.params["code_commit"] == "abc123" and run.data.params["interval"] == "1h"
    assert {"auc", "auc_low", "auc_high", "brier", "base_brier", "gated_net", "ungated_net"} <= set(run.data.metrics)
    artifacts = {a.path for a in client.list_artifacts(published.run_id)}
    assert {"walk_forward.json", "calibration.svg", "feature_importance.svg", "dataset.json"} <= artifacts
    import mlflow.sklearn
    model = mlflow.sklearn.load_model(f"models:/{MODEL_NAME}@{CHALLENGER}")
    x = training.dataset.matrix()[:50]
    assert np.array_equal(model.predict_proba(x), training.final.model.predict_proba(x))
    local = Path(client.download_artifacts(published.run_id, "", str(tmp_path)))
    everything = [str(run.data.params), str(run.data.tags), str(version.tags)]
    everything += [p.read_bytes().decode("latin-1") for p in local.rglob("*") if p.is_file()]
    assert not any(SECRET in text for text in everything)


def test_a_passing_gate_sets_champion_and_records_the_previous(mlflow_uri: str, training: Training) -> None:
    passing = dataclasses.replace(training, decision=Decision(True, "edge (constructed for the test)"))
    first = publish(passing, mlflow_uri)
    assert CHAMPION in first.aliases
    client = MlflowClient(mlflow_uri)
    assert client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version == first.version
    # the same model again is judged against the champion on common rows: within noise, not promoted
    second = publish(training, mlflow_uri)
    assert second.aliases == (CHALLENGER,) and not second.decision.promote
    assert client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version == first.version


def test_mlflow_down_is_a_clear_error_and_registers_nothing(training: Training, caplog: pytest.LogCaptureFixture,
                                                           capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level("DEBUG")
    with pytest.raises(RegistryUnavailable, match=r"does not answer after 3 retries.*nothing was registered") as caught:
        publish(training, f"http://user:{SECRET}@127.0.0.1:{free_port()}")
    assert SECRET not in str(caught.value) and "http://127.0.0.1:" in str(caught.value)
    out, err = capfd.readouterr()
    assert SECRET not in caplog.text + out + err  # nor in any log line MLflow or urllib3 wrote while retrying


def test_promote_rollback_and_evaluate_on_unseen_candles(mlflow_uri: str, training: Training, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    client = MlflowClient(mlflow_uri)
    before = client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version
    previous, new = promote(mlflow_uri, "1")
    assert (previous, new) == (before, "1")
    assert client.get_model_version(MODEL_NAME, "1").tags["promoted"].startswith("by hand")
    assert rollback(mlflow_uri) == ("1", before)
    assert client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version == before
    assert overview(mlflow_uri)["champion"]["version"] == before  # type: ignore[index]

    later, seen = [], []
    for symbol in ("BTCUSDT", "ETHUSDT"):
        full = bundled(MARKET, symbol, "1h").candles.sort("open_time")
        start = full["open_time"].search_sorted(training.data_end + 1)
        for folder, rows, paths in (("later", slice(start - 300, start + 3000), later),
                                    ("seen", slice(start - 3000, start), seen)):
            path = tmp_path / folder / f"{symbol}-perp-klines-1h.parquet"
            path.parent.mkdir(exist_ok=True)
            full[rows].write_parquet(path)
            paths.append(str(path))
    settings = Settings(data_dir=tmp_path, mlflow_port=int(mlflow_uri.rsplit(":", 1)[1]))
    parser = argparse.ArgumentParser()
    model_cli.add_arguments(parser)
    assert model_cli.run(parser.parse_args(["evaluate", "--model", "challenger", "--candles", later[1]]),
                         settings) == 2
    assert "needs the features btc_" in capsys.readouterr().err
    assert model_cli.run(parser.parse_args(["evaluate", "--model", "challenger", "--candles", *later]),
                         settings) == 0
    out = capsys.readouterr()
    assert "signals it never saw" in out.out and "base rate Brier" in out.out and "verdict:" in out.out
    assert "left out" in out.err  # the 300 warm-up bars' signals were in the training window
    assert model_cli.run(parser.parse_args(["evaluate", "--model", "challenger", "--candles", *seen]),
                         settings) == 2
    assert "inside version" in capsys.readouterr().err
