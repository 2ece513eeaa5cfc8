"""Real models for the serving tests, registered in a real MLflow server the way `publish` does (a run
with the `interval` param, a version with `features` and `threshold` tags), and a few deliberately bad
ones. The bad ones live in this importable module, so the engine process can unpickle them."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from engine.learning.dataset import MarketData, build_dataset
from engine.learning.labels import ExitSpec
from engine.learning.names import MODEL_NAME

MARKET = Path(__file__).resolve().parents[2] / "data" / "market"
_EMPTY_MARK = pl.DataFrame(schema={"open_time": pl.Int64, "close": pl.Float64})
_EMPTY_FUNDING = pl.DataFrame(schema={"open_time": pl.Int64, "funding_rate": pl.Float64})


def minute_history(symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT"), bars: int = 4000) -> list[MarketData]:
    """The first `bars` one-minute candles of May 2025 per symbol (real data)."""
    out = []
    for symbol in symbols:
        frame = pl.read_parquet(MARKET / f"{symbol}-perp-klines-1m-2025-05.parquet").sort("open_time")[:bars]
        out.append(MarketData(symbol, "1m", frame, _EMPTY_MARK, _EMPTY_FUNDING))
    return out


def fit_logistic(history: list[MarketData], drop: tuple[str, ...] = ()) -> tuple[object, list[str]]:
    """A calibrated-enough logistic regression on the dataset's 1m rows; (model, its feature names)."""
    dataset = build_dataset(history, ExitSpec(max_hold_bars=60))
    names = [n for n in dataset.features if n not in drop]
    x = dataset.frame.select(names).to_numpy().astype(np.float64)
    model = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(),
                          LogisticRegression(C=0.1, max_iter=500))
    model.fit(x, dataset.frame["label"].to_numpy())
    return model, names


class NanOnLive:
    """Scores the known row (confidence 0.5) and returns NaN on every live signal."""

    def __init__(self, inner: object) -> None:
        self.inner = inner

    def predict_proba(self, x: object) -> np.ndarray:
        rows = np.asarray(x, dtype=float)
        out = self.inner.predict_proba(rows)  # type: ignore[attr-defined]
        out[:, 1] = np.where(rows[:, -1] == 0.5, out[:, 1], math.nan)
        return out


class RaisesAlways:
    def predict_proba(self, x: object) -> np.ndarray:
        raise RuntimeError("this model cannot score")


def register(uri: str, model: object, names: list[str], *, threshold: float = 0.0, interval: str = "1m",
             metrics: dict[str, float] | None = None, reference: dict[str, object] | None = None,
             tags: dict[str, str] | None = None) -> str:
    """Log and register one version (cloudpickle, so the test's own classes load); its number.
    `metrics`: the run's pooled validation figures; `reference`: its feature_reference.json."""
    import mlflow
    import mlflow.sklearn
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("signal-model")
    with mlflow.start_run():
        mlflow.log_params({"interval": interval, "features": len(names)})
        if metrics:
            mlflow.log_metrics(metrics)
        if reference is not None:
            mlflow.log_dict(reference, "feature_reference.json")
        with warnings.catch_warnings():   # MLflow's own modules warn about their type hints on import
            warnings.filterwarnings("ignore", message=".*type hint is inferred as AnyType", category=UserWarning)
            info = mlflow.sklearn.log_model(model, name="model", serialization_format="cloudpickle")
    version = mlflow.register_model(info.model_uri, MODEL_NAME, await_registration_for=60)
    client = MlflowClient(uri)
    for key, value in {"features": json.dumps(names), "threshold": repr(threshold), "decision": "refuse",
                       "reason": "registered by a test", **(tags or {})}.items():
        client.set_model_version_tag(MODEL_NAME, version.version, key, value)
    return str(version.version)
