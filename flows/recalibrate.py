"""recalibrate: the incremental step between full retrains, every 6 h.

Reads: the champion from MLflow (version, features, threshold) and the latest `window` resolved
signals on its interval with the feature rows they were scored on (the prediction ledger). Does:
refits only the champion's isotonic calibration and threshold on the older two thirds of them,
judges the result against the champion on the newer third with the promotion gate
(engine/learning/recalibrate.py), and registers it as a new version like any other (challenger;
champion only when the gate passes). Publishes: the markdown `recalibrate-decision` and the link
`recalibrate-mlflow-run`. With no champion, or too few resolved outcomes, it says so and succeeds.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.states import State

from engine.cli.train import code_commit
from engine.learning.recalibrate import MIN_ROWS, recalibrate
from flows import begin, failed
from tasks import models, publish, store


@flow(name="recalibrate", description=__doc__.split("\n")[0])
def recalibrate_flow(window: int = 2000, min_rows: int = MIN_ROWS) -> dict[str, Any] | State:
    settings = begin()
    if isinstance(settings, State):
        return settings
    log = get_run_logger()
    champion = models.champion(settings.mlflow_tracking_uri)
    if champion is None:
        text = "No champion is registered: there is no calibration to refit (the engine trades on the bootstrap policy)."
        publish.markdown("recalibrate-decision", f"## Recalibration\n\n{text}", "No champion")
        log.info(text)
        return {"champion": None}
    if (problem := store.check_store(settings)) is not None:
        return failed(problem)
    version = champion.validation.version
    interval = champion.interval or settings.interval
    rows = models.recalibration_rows(settings, interval, champion.features, window)
    if rows.count < max(min_rows, MIN_ROWS):
        text = (f"{rows.count} resolved signals on {interval} with stored features, {max(min_rows, MIN_ROWS)} needed: "
                f"champion version {version} is kept as it is.")
        publish.markdown("recalibrate-decision", f"## Recalibration of version {version}\n\n{text}", "Too few outcomes")
        log.info(text)
        return {"champion": version, "rows": rows.count, "decision": "skipped"}
    model = models.champion_model(settings.mlflow_tracking_uri, version)
    result = recalibrate(model, champion.validation.threshold, rows.x, rows.y, rows.net)
    published = models.register_recalibration(settings.mlflow_tracking_uri, champion, result, rows, code_commit())
    url = published.run_url(settings.mlflow_tracking_uri)
    publish.markdown("recalibrate-decision",
                     f"## Recalibration of version {version}: **{published.decision.word}**\n\n"
                     f"{published.decision.reason}\n\nCalibration and threshold refitted on {result.fit_rows} resolved "
                     f"signals, judged on the {result.eval_rows} newer ones; new version {published.version} "
                     f"(aliases: {', '.join(published.aliases)}).", "The gate's decision on the recalibrated model")
    publish.link("recalibrate-mlflow-run", url, f"MLflow run of signal-model version {published.version}",
                 "The recalibration run")
    log.info("recalibration of %s -> version %s: %s", version, published.version, published.decision.reason)
    return {"champion": version, "version": published.version, "decision": published.decision.word,
            "rows": rows.count, "run_url": url}
