"""`slt backtest --mlflow` against a real MLflow server: one run in the experiment `backtests` with the
figures as metrics and the report, plot and JSON as artifacts; MLflow down is exit 1, one line."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest

from engine.backtest.driver import Backtest, build_sim
from engine.backtest.policies import choose
from engine.backtest.session import Request, prepare
from engine.child import free_port, stop
from engine.cli import main
from engine.config import load_settings
from engine.core.types import SignalRecord, TradeExit
from engine.learning.registry import publish
from engine.learning.sources import bundled
from engine.learning.training import train
from tests.backtest.helpers import MARKET
from tests.learning.conftest import sliced, start_mlflow

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


def test_a_registered_model_is_backtested_as_the_engine_would_serve_it(env: Path, monkeypatch: pytest.MonkeyPatch,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A trained and registered challenger, offered with the engine's checks, scores the signals once
    BOOTSTRAP_TRADE_LIMIT trades have closed (every signal after that carries its version)."""
    history = []
    for symbol in ("BTCUSDT", "ETHUSDT", "XRPUSDT"):
        full = bundled(MARKET, symbol, "1h")
        start = full.candles["open_time"].search_sorted(1_640_995_200_000)  # 2022-01-01
        history.append(sliced(full, start, start + 6000))
    training = train(history, resamples=50)
    process, uri = start_mlflow(env / "mlflow")
    try:
        published = publish(training, uri)
        capsys.readouterr()                       # MLflow's own "View run" lines from publishing
        monkeypatch.setenv("SLT_MLFLOW_TRACKING_URI", uri)
        monkeypatch.setenv("BOOTSTRAP_TRADE_LIMIT", "5")
        assert main(["backtest", "--policy", "challenger", "--from", "2024-03-01", "--to", "2024-03-08",
                     "--json", "--no-store"]) == 0
        captured = capsys.readouterr()
        assert captured.out.strip(), captured.err[-2000:]
        body = json.loads(captured.out)
        assert body["policy"] == f"model v{published.version} (challenger)"
        assert main(["backtest", "--policy", "model:999", "--no-store"]) == 2
        assert "has no signal-model version 999" in capsys.readouterr().err

        settings = load_settings(env_file=None)
        choice = choose(f"model:{published.version}", settings)
        config, options, _, _, _ = prepare(settings, Request(start_ms=1_709_251_200_000, end_ms=1_709_856_000_000))
        sim, accounts = build_sim(config, options, Decimal(10_000))
        run = asyncio.run(Backtest(config, sim, accounts, model=choice.model).run())
    finally:
        stop(process)
    signals = run.records.of(SignalRecord)
    fifth = sorted(run.records.of(TradeExit), key=lambda x: x.event_time)[4].event_time
    scored = [s for s in signals if s.model_version]
    assert scored and all(s.model_version == published.version and s.policy == "signal-model" for s in scored)
    assert all(s.event_time > fifth for s in scored)                 # not before the fifth trade closed
    assert not [s for s in signals if s.event_time > fifth + 3_600_000 and not s.model_version]
