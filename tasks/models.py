"""Model tasks: the training data, a training run, MLflow (register, read the champion), the drift
check's store reads, and the `slt.model.drift` event. One I/O step each; only MLflow being down and
the store being unreachable are retried."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event

from engine.config import Settings
from engine.core.errors import StoreUnavailable
from engine.core.types import Candle, SignalRecord
from engine.jobs import drift, freshness, outcomes, recalibration
from engine.learning.champion import Champion, load_model, read_champion
from engine.learning.dataset import MarketData
from engine.learning.incremental import publish_recalibration
from engine.learning.labels import ExitSpec
from engine.learning.lake_sources import Sources, training_sources
from engine.learning.names import MODEL_NAME, RegistryUnavailable
from engine.learning.recalibrate import Recalibrated
from engine.learning.registry import Published, publish
from engine.learning.training import Training, train
from tasks import retry_on

MLFLOW = {"retries": 2, "retry_delay_seconds": 10, "retry_condition_fn": retry_on(RegistryUnavailable),
          "cache_policy": NO_CACHE}
STORE = {"retries": 2, "retry_delay_seconds": 5, "retry_condition_fn": retry_on(StoreUnavailable),
         "cache_policy": NO_CACHE}


@task(name="read-training-data", **STORE)
def training_data(settings: Settings, symbols: Sequence[str], interval: str) -> Sources:
    """The bundled history extended by the store's candles, and the engine's own closed trades."""
    return training_sources(settings, tuple(symbols), interval)


@task(name="train-model", cache_policy=NO_CACHE)
def fit(history: list[MarketData], exits: ExitSpec, own: pl.DataFrame | None, folds: int, resamples: int) -> Training:
    """Dataset -> purged walk-forward -> final calibrated fit (threads capped by SLT_TRAIN_THREADS)."""
    return train(history, exits, folds=folds, resamples=resamples, own=own)


@task(name="register-model", **MLFLOW)
def register(training: Training, tracking_uri: str, code_commit: str) -> Published:
    """Log the run, register the version, let the gate set the aliases."""
    return publish(training, tracking_uri, code_commit=code_commit)


@task(name="read-champion", **MLFLOW)
def champion(tracking_uri: str) -> Champion | None:
    return read_champion(tracking_uri)


@task(name="read-pending-signals", **STORE)
def pending(settings: Settings, interval: str, exits: ExitSpec) -> tuple[list[SignalRecord], dict[str, list[Candle]]]:
    """Signals no trade took and no outcome resolved yet, with the candles after them."""
    with freshness.open_reader(settings) as lake:
        signals = outcomes.pending_signals(lake, interval)
        return signals, outcomes.candles_after(lake, signals, interval, exits) if signals else {}


@task(name="read-drift-inputs", **STORE)
def drift_inputs(settings: Settings, version: str, interval: str, window: int,
                 feature_window: int) -> tuple[drift.Ledger, dict[str, np.ndarray]]:
    """The champion's last resolved predictions and the recent signals' feature rows."""
    with freshness.open_reader(settings) as lake:
        return drift.champion_ledger(lake, version, window), drift.recent_features(lake, interval, feature_window)


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@task(name="emit-model-drift", cache_policy=NO_CACHE)
def emit_drift(payload: dict[str, Any]) -> None:
    """`slt.model.drift` with the figures (the retrain deployment's trigger passes them on)."""
    emit_event(event=drift.EVENT, resource={"prefect.resource.id": f"slt.model.{MODEL_NAME}",
                                            "prefect.resource.name": MODEL_NAME}, payload=_plain(payload))


@task(name="load-champion-model", **MLFLOW)
def champion_model(tracking_uri: str, version: str) -> object:
    return load_model(tracking_uri, version)


@task(name="read-recalibration-rows", **STORE)
def recalibration_rows(settings: Settings, interval: str, names: list[str], window: int) -> recalibration.Rows:
    """The latest resolved signals with their stored feature rows."""
    with freshness.open_reader(settings) as lake:
        return recalibration.resolved_rows(lake, interval, names, window)


@task(name="register-recalibration", **MLFLOW)
def register_recalibration(tracking_uri: str, champion: Champion, result: Recalibrated, rows: recalibration.Rows,
                           code_commit: str) -> Published:
    return publish_recalibration(tracking_uri, champion, result, rows.x, rows.last_time, code_commit)
