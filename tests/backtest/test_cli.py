"""`slt backtest` on the bundled 1h history of three symbols: the summary, -o DIR (markdown, plot,
JSON), --json, and the run and its trades in a real DuckLake store (one query compares runs)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from engine.child import free_port
from engine.cli import main
from engine.config import load_settings
from engine.store.lake import connect
from tests.backtest.helpers import MARKET

PERIOD = ["--from", "2024-03-01", "--to", "2024-03-15"]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SLT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SLT_MARKET_DATA_DIR", str(MARKET))
    monkeypatch.setenv("SLT_ENV_FILE", str(tmp_path / "no.env"))
    monkeypatch.setenv("SLT_SYMBOLS", "BTCUSDT,ETHUSDT,XRPUSDT")
    return tmp_path


def test_backtest_writes_report_plot_and_store_rows(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = env / "report"
    assert main(["backtest", *PERIOD, "-o", str(out), "--quiet"]) == 0
    shown = capsys.readouterr().out
    assert "net PnL" in shown and "Sharpe" in shown and "stored      run bt-" in shown
    md = (out / "report.md").read_text()
    assert "## Per symbol" in md and "## Per regime" in md and "![equity and drawdown](equity.png)" in md
    assert (out / "equity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    body = json.loads((out / "report.json").read_text())
    assert set(body["per_symbol"]) == {"BTCUSDT", "ETHUSDT", "XRPUSDT"}

    assert main(["backtest", *PERIOD, "--json", "--ticks-per-bar", "6"]) == 0
    second = json.loads(capsys.readouterr().out)
    settings = load_settings()
    with connect(settings, read_only=True) as lake, lake.reading() as cur:
        runs = cur.execute("SELECT run_id, trades, net_pnl, bars FROM lake.backtest_runs ORDER BY event_time").fetchall()
        counts = dict(cur.execute("SELECT run_id, count(*) FROM lake.backtest_trades GROUP BY run_id").fetchall())
    assert len(runs) == 2 and runs[1][0] == second["run_id"]
    for run_id, trades, _net, bars in runs:
        assert counts.get(run_id, 0) == trades and bars == 14 * 24
    assert runs[0][1] == body["trades"]["trades"] and Decimal(str(runs[0][2])) == Decimal(body["curve"]["net_pnl"])


def test_bad_arguments_are_one_line_and_exit_2(env: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["backtest", "--equity", "-5", "--no-store"]) == 2
    assert "--equity must be > 0" in capsys.readouterr().err
    assert main(["backtest", "--from", "2024-03-02", "--to", "2024-03-01", "--no-store"]) == 2
    assert "--to must be after --from" in capsys.readouterr().err
    assert main(["backtest", "--policy", "latest", "--no-store"]) == 2
    assert "--policy must be bootstrap, champion, challenger or model:VERSION" in capsys.readouterr().err
    monkeypatch.setenv("SLT_MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    assert main(["backtest", "--policy", "champion", "--no-store"]) == 2
    assert "--policy: MLflow at http://127.0.0.1:" in capsys.readouterr().err
