"""The MLflow edge: log a training run, register its model as `signal-model`, and let the gate
choose the aliases. Everything else in engine.learning is pure; this module alone talks to MLflow.

Each training is one run of the experiment `signal-model` (params, pooled metrics with their
interval bounds, per-fold metrics as `fold_*` steps, the walk-forward table, calibration and feature
importance plots, the dataset hash and row count, the model with its signature and an input
example). The new version gets the alias `challenger` and the tags `decision` (promote/refuse)
and `reason`; it gets `champion` only when the gate passes. Aliases are set last, after the run
and the version are complete, so no alias ever points at a half-registered version.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from engine.core.errors import SltError
from engine.learning.dataset import Dataset
from engine.learning.drift import reference
from engine.learning.gate import Decision, against_champion, common_rows
from engine.learning.metrics import Scores
from engine.learning.names import (
    CHALLENGER,
    CHAMPION,
    EXPERIMENT,
    MODEL_NAME,
    TRUSTED_TYPES,
    RegistrationFailed,
    RegistryUnavailable,
    shown,
)
from engine.learning.plots import calibration_svg, importance_svg
from engine.learning.training import Training

T = TypeVar("T")
RETRIES = 3
TIMEOUT_S = 10
REFERENCE_FILE = "feature_reference.json"
# MLflow's client reports usage to the internet unless told not to (the servers `slt up` starts are
# told too): no network beyond the tracking server, and no exit-time flush of a telemetry queue.
NO_TELEMETRY = "MLFLOW_DISABLE_TELEMETRY"


def _client(tracking_uri: str) -> Any:
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(RETRIES))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(TIMEOUT_S))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault(NO_TELEMETRY, "true")
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        client.search_experiments(max_results=1)
    except Exception as exc:  # noqa: BLE001 - any transport failure means "not reachable"
        raise RegistryUnavailable(
            f"MLflow at {shown(tracking_uri)} does not answer after {RETRIES} retries "
            f"({type(exc).__name__}); nothing was registered. Start it with `make run` (slt up) or point "
            "SLT_MLFLOW_TRACKING_URI at a running server.") from None
    return client


@dataclass(frozen=True)
class Published:
    run_id: str
    version: str
    decision: Decision
    aliases: tuple[str, ...]
    experiment_id: str = ""

    def run_url(self, tracking_uri: str) -> str:
        """The run's page in the MLflow UI (what a browser opens; no credentials in it)."""
        return f"{shown(tracking_uri).rstrip('/')}/#/experiments/{self.experiment_id}/runs/{self.run_id}"


def champion_version(client: Any) -> Any | None:
    try:
        return client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    except Exception:  # noqa: BLE001 - no registered model or no champion yet
        return None


def decide(client: Any, training: Training) -> Decision:
    """First champion: the gate on the pooled out-of-sample rows. Otherwise the challenger against
    the champion on the out-of-sample rows after the champion's training data ended, and it must
    still pass the first champion's test: better than a weak champion is not an edge."""
    champion = champion_version(client)
    if champion is None:
        return training.decision
    import mlflow.sklearn

    model = mlflow.sklearn.load_model(f"models:/{MODEL_NAME}@{CHAMPION}")
    data_end = int(champion.tags.get("data_end", "0"))
    threshold = float(champion.tags.get("threshold", "1"))
    open_time = training.dataset.frame["open_time"].to_numpy()[training.walk.rows]
    rows = common_rows(open_time, data_end)
    ours = training.walk.scores.take(rows)
    x = training.dataset.matrix()[training.walk.rows][rows]
    p = model.predict_proba(x)[:, 1] if len(rows) else np.empty(0)
    theirs = Scores(ours.y, p, ours.base, ours.net, p > threshold)
    relative = against_champion(ours, theirs, training.seed)
    if relative.promote and not training.decision.promote:   # beating a weak champion is not an edge
        return Decision(False, f"{relative.reason}; but {training.decision.reason}")
    return relative


def publish(training: Training, tracking_uri: str, *, code_commit: str = "unknown") -> Published:
    """Log, register and alias one training; raises RegistryUnavailable when MLflow is down and
    RegistrationFailed (no alias moved) when it fails on the way."""
    client = _client(tracking_uri)

    def steps() -> Published:
        run_id, info = start(training.final.model, example_rows(training.dataset.matrix()), run_name(training.dataset),
                             {**training.params(), "code_commit": code_commit})
        return finish(client, training, run_id, info)

    return translated(tracking_uri, steps)


def translated(tracking_uri: str, steps: Callable[[], T]) -> T:
    """`steps()`, with whatever MLflow raised on the way turned into RegistrationFailed."""
    try:
        return steps()
    except SltError:
        raise
    except Exception as exc:  # noqa: BLE001 - MLflow raises many types; the aliases are set last
        raise RegistrationFailed(f"registering the signal model in MLflow at {shown(tracking_uri)} failed: "
                                 f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}; "
                                 "no alias was moved") from exc


def example_rows(x: np.ndarray) -> np.ndarray:
    """The input example logged with the model."""
    return x[:5]


def run_name(dataset: Dataset) -> str:
    return f"train {dataset.version}"


def start(model: Any, example: np.ndarray, name: str, params: dict[str, Any]) -> tuple[str, Any]:
    """Start the training's run (left active) and log its params and its model with a signature and
    the input example: what needs only the final model. (run id, MLflow's ModelInfo)."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    mlflow.set_experiment(EXPERIMENT)
    signature = infer_signature(example, model.predict_proba(example))
    run = mlflow.start_run(run_name=name)
    try:
        mlflow.log_params(params)
        with warnings.catch_warnings():  # MLflow's own modules warn about their type hints on import
            warnings.filterwarnings("ignore", message=".*type hint is inferred as AnyType", category=UserWarning)
            info = mlflow.sklearn.log_model(model, name="model", signature=signature, input_example=example,
                                            skops_trusted_types=TRUSTED_TYPES, pip_requirements=requirements())
    except BaseException:
        mlflow.end_run(status="FAILED")
        raise
    return run.info.run_id, info


def finish(client: Any, training: Training, run_id: str, info: Any) -> Published:
    """The rest, once the walk-forward is done: the gate's decision, tags, figures and artifacts on
    the run started by `start` (then ended), and the version registered with its tags; the aliases
    last, so no alias ever points at an incomplete version. A failure ends the run as FAILED."""
    import mlflow

    try:
        decision = decide(client, training)
        tags = {"decision": decision.word, "reason": decision.reason, "threshold": repr(training.final.threshold),
                "data_end": str(training.data_end), "feature_version": training.dataset.version,
                "features": json.dumps(training.dataset.features), "model": training.final.kind,
                "base_rate": repr(training.final.base_rate)}
        mlflow.set_tags(tags)
        # After the model, so the figures go in one batch linked to it: logged before, MLflow would
        # re-read every metric's history (one request each) to link the step-0 ones to the model.
        client.log_batch(run_id, metrics=run_metrics(training, info.model_id))
        with tempfile.TemporaryDirectory() as tmp:
            write_artifacts(Path(tmp), training, decision)
            mlflow.log_artifacts(tmp)
    except BaseException:
        mlflow.end_run(status="FAILED")
        raise
    run = mlflow.active_run()
    experiment_id = str(run.info.experiment_id) if run is not None else ""
    mlflow.end_run()
    version = mlflow.register_model(info.model_uri, MODEL_NAME, await_registration_for=60, tags=tags)
    previous = champion_version(client)
    client.set_registered_model_alias(MODEL_NAME, CHALLENGER, version.version)
    aliases = [CHALLENGER]
    if decision.promote:
        if previous is not None:
            client.set_model_version_tag(MODEL_NAME, version.version, "previous_champion", previous.version)
        client.set_registered_model_alias(MODEL_NAME, CHAMPION, version.version)
        aliases.append(CHAMPION)
    return Published(run_id, str(version.version), decision, tuple(aliases), experiment_id)


def run_metrics(training: Training, model_id: str) -> list[Any]:
    """The pooled figures (step 0, linked to the logged model) and each fold's as `fold_*` at step
    = fold number; non-finite values are left out (MLflow stores them badly)."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    out = [Metric(k, float(v), now, 0, model_id=model_id) for k, v in training.metrics().items() if np.isfinite(v)]
    for fold in training.walk.folds:
        out += [Metric(f"fold_{k}", float(v), now, fold.fold.number) for k, v in fold.row().items()
                if isinstance(v, float) and np.isfinite(v)]
    return out


def requirements() -> list[str]:
    """What loading the model needs, pinned as installed (MLflow would otherwise infer it by
    importing the model in a child process, which takes seconds)."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("scikit-learn", "numpy", "scipy", "skops")]


def write_artifacts(folder: Path, training: Training, decision: Decision) -> None:
    """walk_forward.json, dataset.json, decision.txt, calibration.svg, feature_importance.svg, and
    feature_reference.json (the training rows' deciles per feature, what drift-check compares with)."""
    (folder / "walk_forward.json").write_text(json.dumps(training.walk.table(), indent=1, default=float))
    (folder / "dataset.json").write_text(json.dumps(
        {"rows": training.dataset.rows, "sha256": training.params()["dataset_sha256"],
         "features": training.dataset.features, "feature_version": training.dataset.version}, indent=1))
    (folder / "decision.txt").write_text(f"{decision.word}: {decision.reason}\n")
    (folder / REFERENCE_FILE).write_text(json.dumps(
        reference(training.dataset.matrix(), training.dataset.features).as_json()))
    (folder / "calibration.svg").write_text(calibration_svg(training.walk.scores))
    (folder / "feature_importance.svg").write_text(importance_svg(training.importance))


def _version(client: Any, which: str) -> Any:
    """A version by alias (champion, challenger) or number; RegistrationFailed names what is missing."""
    try:
        if which.isdigit():
            return client.get_model_version(MODEL_NAME, which)
        return client.get_model_version_by_alias(MODEL_NAME, which)
    except Exception:  # noqa: BLE001 - MLflow raises RestException for "not found"
        raise RegistrationFailed(f"{MODEL_NAME} has no version {which!r}") from None


def overview(tracking_uri: str) -> dict[str, dict[str, str] | None]:
    """Champion and challenger: version, decision, reason and their pooled figures."""
    client = _client(tracking_uri)
    out: dict[str, dict[str, str] | None] = {}
    for alias in (CHAMPION, CHALLENGER):
        try:
            v = client.get_model_version_by_alias(MODEL_NAME, alias)
        except Exception:  # noqa: BLE001 - no such alias yet
            out[alias] = None
            continue
        metrics = client.get_run(v.run_id).data.metrics if v.run_id else {}
        figures = {k: f"{metrics[k]:.4f} [{metrics[k + '_low']:.4f}, {metrics[k + '_high']:.4f}]"
                   for k in ("auc", "brier", "base_brier") if k in metrics and k + "_low" in metrics}
        if "gated_net" in metrics and "ungated_net" in metrics:
            figures["gated / ungated net"] = (f"{metrics['gated_net'] * 1e4:+.1f} / "
                                              f"{metrics['ungated_net'] * 1e4:+.1f} bp per trade")
        out[alias] = {"version": str(v.version), **{k: v.tags.get(k, "") for k in ("decision", "reason")},
                      **figures}
    return out


def promote(tracking_uri: str, which: str) -> tuple[str | None, str]:
    """Make a version champion by hand (recorded on it); (previous champion, new champion)."""
    client = _client(tracking_uri)
    version = _version(client, which)
    previous = champion_version(client)
    if previous is not None and previous.version != version.version:
        client.set_model_version_tag(MODEL_NAME, version.version, "previous_champion", previous.version)
    client.set_model_version_tag(MODEL_NAME, version.version, "promoted", "by hand (slt model promote)")
    client.set_registered_model_alias(MODEL_NAME, CHAMPION, version.version)
    return (None if previous is None else str(previous.version)), str(version.version)


def rollback(tracking_uri: str) -> tuple[str, str]:
    """Point champion back at the version it replaced (recorded); (from, to)."""
    client = _client(tracking_uri)
    current = champion_version(client)
    if current is None:
        raise RegistrationFailed(f"{MODEL_NAME} has no champion to roll back")
    target = current.tags.get("previous_champion")
    if not target:
        raise RegistrationFailed(f"champion version {current.version} replaced no earlier champion; nothing to roll "
                                 "back to")
    client.set_model_version_tag(MODEL_NAME, target, "rolled_back_from", str(current.version))
    client.set_registered_model_alias(MODEL_NAME, CHAMPION, target)
    return str(current.version), target


@dataclass(frozen=True)
class Loaded:
    model: Any
    version: str
    threshold: float
    data_end: int               # the last signal time it trained on (ms)
    features: list[str]


def load(tracking_uri: str, which: str) -> Loaded:
    """A version (by alias or number) with what scoring it needs."""
    client = _client(tracking_uri)
    version = _version(client, which)
    import mlflow.sklearn

    model = mlflow.sklearn.load_model(f"models:/{MODEL_NAME}/{version.version}")
    return Loaded(model, str(version.version), float(version.tags.get("threshold", "1")),
                  int(version.tags.get("data_end", "0")), json.loads(version.tags.get("features", "[]")))
