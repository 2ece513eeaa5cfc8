"""`--mlflow`: one MLflow run per backtest in the experiment `backtests`, with the headline figures
as metrics, the request as params, and report.md, equity.png and report.json as artifacts."""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path
from typing import Any

from engine.backtest.output import write_outputs
from engine.backtest.session import Outcome
from engine.config import Settings
from engine.core.errors import SltError

EXPERIMENT = "backtests"


class TrackingFailed(SltError):
    """MLflow did not answer or refused the run."""


def log_run(settings: Settings, outcome: Outcome, written: dict[str, Path]) -> str:
    """The MLflow run id."""
    from engine.learning.registry import RegistryUnavailable, _client, shown

    uri = settings.mlflow_tracking_uri
    try:
        client = _client(uri)
    except RegistryUnavailable as exc:
        raise TrackingFailed(str(exc).replace("nothing was registered", "the backtest was not logged")) from None
    try:
        # MLflow prints "View run ... at ..." on stdout, which must stay the report (--json)
        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(sys.stderr):
            files = written or write_outputs(outcome, Path(tmp))
            return _log(client, outcome, files)
    except Exception as exc:  # noqa: BLE001 - any MLflow failure is one message
        raise TrackingFailed(f"MLflow at {shown(uri)} refused the run: {type(exc).__name__}: {exc}") from None


def _log(client: Any, outcome: Outcome, files: dict[str, Path]) -> str:
    experiment = client.get_experiment_by_name(EXPERIMENT)
    experiment_id = experiment.experiment_id if experiment is not None else client.create_experiment(EXPERIMENT)
    c, t, s = outcome.report.curve, outcome.report.trades, outcome.settings
    run = client.create_run(experiment_id, tags={"policy": outcome.policy, "data_hash": outcome.data_hash,
                                                 "mlflow.runName": f"{outcome.policy} {','.join(s.symbols)} {s.interval}"})
    run_id = run.info.run_id
    params = {"policy": outcome.policy, "symbols": ",".join(s.symbols), "interval": s.interval,
              "start_ms": outcome.report.start_ms, "end_ms": outcome.report.end_ms,
              "initial_equity": str(c.initial_equity), "leverage": s.leverage,
              "entry_equity_fraction": s.entry_equity_fraction, "stop_loss_atr": s.stop_loss_atr,
              "take_profit_atr": s.take_profit_atr, "accounts": len(s.accounts) or 1}
    for key, value in params.items():
        client.log_param(run_id, key, str(value))
    metrics = {"net_pnl": float(c.net_pnl), "total_return": c.total_return, "fees": float(c.fees),
               "funding": float(c.funding), "trades": t.trades, "win_rate": t.win_rate,
               "expectancy": float(t.expectancy), "max_drawdown": c.max_drawdown, "exposure": c.exposure,
               "turnover": c.turnover}
    for name, value in (("profit_factor", t.profit_factor), ("sharpe", c.sharpe), ("sortino", c.sortino)):
        if value is not None:
            metrics[name] = value
    for key, value in metrics.items():
        client.log_metric(run_id, key, float(value))
    for path in files.values():
        client.log_artifact(run_id, str(path))
    client.set_terminated(run_id)
    return str(run_id)
