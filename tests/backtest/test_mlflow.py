"""`slt backtest --mlflow` against a real MLflow server: one run in the experiment `backtests` with the
figures as metrics and the report, plot and JSON as artifacts; MLflow down is exit 1, one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.child import free_port, stop
from engine.cli import main
from tests.backtest.helpers import MARKET
from tests.learning.conftest import start_mlflow

pytestmark = pytest.mark.integration  # an MLflow server on 127.0.0.1


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SLT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SLT_MARKET_DATA_DIR", str(MARKET))
    monkeypatch.setenv("SLT_ENV_FILE", str(tmp_path / "no.env"))
    return tmp_path


def test_a_backtest_is_logged_as_an_mlflow_run(env: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    process, uri = start_mlflow(env / "mlflow")
    try:
        monkeypatch.setenv("SLT_MLFLOW_TRACKING_URI", uri)
        assert main(["backtest", "--from", "2024-03-01", "--to", "2024-03-08", "--mlflow", "--json"]) == 0
        captured = capsys.readouterr()
        assert captured.out.strip(), captured.err[-3000:]
        body = json.loads(captured.out)
        from mlflow.tracking import MlflowClient
        client = MlflowClient(tracking_uri=uri)
        run = client.get_run(body["mlflow_run"])
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    finally:
        stop(process)
    assert run.data.params["policy"] == "bootstrap" and run.data.params["symbols"] == "BTCUSDT,ETHUSDT,XRPUSDT"
    assert run.data.metrics["trades"] == body["trades"]["trades"]
    assert run.data.metrics["net_pnl"] == pytest.approx(float(body["curve"]["net_pnl"]))
    assert {"report.md", "equity.png", "report.json"} <= artifacts


def test_mlflow_down_is_exit_1_and_the_run_is_still_stored(env: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SLT_MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    assert main(["backtest", "--from", "2024-03-01", "--to", "2024-03-03", "--mlflow", "--json"]) == 1
    captured = capsys.readouterr()
    assert "slt backtest: MLflow" in captured.err and "does not answer" in captured.err
    assert json.loads(captured.out)["run_id"].startswith("bt-")
