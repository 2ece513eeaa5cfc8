"""drift-check: is the champion's edge still there, hourly.

First resolves the prediction ledger: every signal no trade took and whose label window has closed
gets its outcome on the following bars (`signal_outcomes`, engine/jobs/outcomes.py). Then, with a
champion registered: performance drift (its last `window` resolved predictions against its own
validation figures: Brier skill over the base rate and gated net return per trade, a drop of more
than ML_DRIFT_THRESHOLD relative beyond the 95 % interval, at least SLT_DRIFT_MIN_SAMPLES outcomes)
and feature drift (PSI per feature of the last `feature_window` signals against the training deciles).
Publishes: the markdown `drift-check` (decision and figures), the table `drift-check-features` (PSI
per feature), and on drift the event `slt.model.drift` with the figures (it starts `retrain`).
With no champion it says so and succeeds.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.states import State

from engine.core.clock import wall_ms
from engine.jobs import drift, outcomes
from engine.learning.labels import ExitSpec
from flows import begin, failed
from tasks import models, publish, store


@flow(name="drift-check", description=__doc__.split("\n")[0])
def drift_check(window: int = 500, feature_window: int = 2000, min_samples: int | None = None,
                threshold: float | None = None) -> dict[str, Any] | State:
    settings = begin()
    if isinstance(settings, State):
        return settings
    log = get_run_logger()
    if (problem := store.check_store(settings)) is not None:
        return failed(problem)
    exits = ExitSpec.from_settings(settings)
    signals, candles = models.pending(settings, settings.interval, exits)
    resolved = outcomes.label_outcomes(signals, candles, exits, settings.interval, wall_ms())
    written = store.write(settings, resolved) if resolved else None
    log.info("prediction ledger: %d signals pending, %d resolved now", len(signals), len(resolved))
    out: dict[str, Any] = {"pending": len(signals), "outcomes_written": written.inserted if written else 0}
    champion = models.champion(settings.mlflow_tracking_uri)
    if champion is None:
        publish.markdown("drift-check", f"## Drift check\n\n{drift.NO_CHAMPION}", "No champion: nothing to check")
        log.info(drift.NO_CHAMPION)
        return out | {"champion": None, "drifted": False}
    version = champion.validation.version
    ledger, live = models.drift_inputs(settings, version, settings.interval, window, feature_window)
    report = drift.check(champion, ledger, live, threshold=threshold or settings.ml_drift_threshold,
                         min_samples=min_samples or settings.drift_min_samples)
    publish.table("drift-check-features", report.table(), f"PSI per feature of champion version {version}'s inputs "
                                                          "(live against its training rows; flag above 0.25)")
    publish.markdown("drift-check", report.markdown(), f"Drift decision for champion version {version}")
    if report.drifted:
        models.emit_drift(report.payload())
    log.info("champion %s: %s; flagged features: %s", version, report.performance.reason,
             ", ".join(report.flagged) or "none")
    return out | {"champion": version, "drifted": report.drifted, "samples": report.performance.samples,
                  "flagged_features": report.flagged}
