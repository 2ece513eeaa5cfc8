"""retrain: a full training of the signal model, every ML_RETRAIN_INTERVAL_HOURS and on drift.

Reads: the bundled history (data/market) extended by the store's candles, and the engine's own
closed trades with the features they were scored on (the prediction ledger; weighted up). Does:
dataset -> purged walk-forward -> final calibrated fit (threads capped by SLT_TRAIN_THREADS, the
process at lower priority) -> MLflow run -> version registered -> the gate (champion only with an
edge). Publishes: the table artifact `retrain-folds` (per fold, with intervals), the markdown
`retrain-decision` (decision and reason) and the link `retrain-mlflow-run` (the run's page in the
MLflow UI). Started by the `slt.model.drift` event too, with the drift figures as `drift`.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.states import State

from engine.cli.train import HISTORY_INTERVAL, code_commit
from engine.core.errors import DataError
from engine.learning.labels import ExitSpec
from engine.learning.report import decision_markdown, fold_rows
from engine.learning.validation import FOLDS, NotEnoughData
from flows import begin, failed
from tasks import models, publish


@flow(name="retrain", description=__doc__.split("\n")[0])
def retrain(drift: dict[str, Any] | None = None, interval: str = HISTORY_INTERVAL, folds: int = FOLDS,
            resamples: int = 400, publish_model: bool = True) -> dict[str, Any] | State:
    settings = begin()
    if isinstance(settings, State):
        return settings
    log = get_run_logger()
    if drift:
        log.info("started by slt.model.drift: %s", drift.get("reason", drift))
    try:
        sources = models.training_data(settings, list(settings.symbols), interval)
        log.info("training data: %s", sources.note)
        training = models.fit(sources.history, ExitSpec.from_settings(settings), sources.own, folds, resamples)
    except (DataError, NotEnoughData, ValueError) as exc:
        return failed(f"retrain: {exc}; nothing registered")
    publish.table("retrain-folds", fold_rows(training),
                  f"Walk-forward folds of the signal model on {interval} ({training.dataset.rows} signals, "
                  f"{training.dataset.own_rows} of them the engine's own trades)")
    decision, out = training.decision, {"rows": training.dataset.rows, "own_trades": training.dataset.own_rows}
    if publish_model:
        published = models.register(training, settings.mlflow_tracking_uri, code_commit())
        decision = published.decision
        url = published.run_url(settings.mlflow_tracking_uri)
        publish.link("retrain-mlflow-run", url, f"MLflow run of signal-model version {published.version}",
                     "The training run: params, per-fold metrics, calibration and importance plots, the model")
        out |= {"version": published.version, "aliases": list(published.aliases), "run_url": url}
    publish.markdown("retrain-decision", decision_markdown(training, decision, drift),
                     "The promotion gate's decision and its reason")
    log.info("decision: %s: %s", decision.word, decision.reason)
    return out | {"decision": decision.word, "reason": decision.reason}
