"""Registering a recalibration (the MLflow edge of `recalibrate`): a run of its own (params naming the
base version and the rows, metrics on the evaluation rows with intervals, the champion's feature
reference), a new version of `signal-model` tagged like any other (features, threshold, decision,
reason), alias `challenger`, and `champion` only when the gate passed. Aliases last, as `registry`."""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import numpy as np

from engine.core.errors import SltError
from engine.learning.champion import Champion
from engine.learning.names import CHALLENGER, CHAMPION, EXPERIMENT, MODEL_NAME, TRUSTED_TYPES, RegistrationFailed, shown
from engine.learning.recalibrate import Recalibrated
from engine.learning.registry import REFERENCE_FILE, Published, _client, requirements


def publish_recalibration(tracking_uri: str, champion: Champion, result: Recalibrated, x_example: np.ndarray,
                          data_end: int, code_commit: str = "unknown") -> Published:
    client = _client(tracking_uri)
    try:
        return _publish(client, champion, result, x_example, data_end, code_commit)
    except SltError:
        raise
    except Exception as exc:  # noqa: BLE001 - aliases are set last: none moved
        raise RegistrationFailed(f"registering the recalibration in MLflow at {shown(tracking_uri)} failed: "
                                 f"{type(exc).__name__}: {exc}; no alias was moved") from exc


def _publish(client: object, champion: Champion, result: Recalibrated, x_example: np.ndarray, data_end: int,
             code_commit: str) -> Published:
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    base = champion.validation.version
    decision = result.decision
    tags = {"decision": decision.word, "reason": decision.reason, "threshold": repr(result.threshold),
            "data_end": str(data_end), "features": json.dumps(champion.features), "model": f"recalibrated v{base}",
            "base_rate": repr(result.base_rate), "recalibrated_from": base}
    mlflow.set_experiment(EXPERIMENT)
    example = x_example[:5]
    with mlflow.start_run(run_name=f"recalibrate v{base}") as run:
        mlflow.log_params({"kind": "recalibration", "base_version": base, "fit_rows": result.fit_rows,
                           "eval_rows": result.eval_rows, "interval": champion.interval, "code_commit": code_commit})
        mlflow.log_metrics({k: v for k, v in result.metrics().items() if np.isfinite(v)})
        mlflow.set_tags(tags)
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "decision.txt").write_text(f"{decision.word}: {decision.reason}\n")
            if champion.reference is not None:
                (Path(tmp) / REFERENCE_FILE).write_text(json.dumps(champion.reference.as_json()))
            mlflow.log_artifacts(tmp)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*type hint is inferred as AnyType", category=UserWarning)
            info = mlflow.sklearn.log_model(result.model, name="model",
                                            signature=infer_signature(example, result.model.predict_proba(example)),
                                            input_example=example, skops_trusted_types=TRUSTED_TYPES,
                                            pip_requirements=requirements())
    version = mlflow.register_model(info.model_uri, MODEL_NAME, await_registration_for=60)
    for key, value in tags.items():
        client.set_model_version_tag(MODEL_NAME, version.version, key, value)  # type: ignore[attr-defined]
    client.set_registered_model_alias(MODEL_NAME, CHALLENGER, version.version)  # type: ignore[attr-defined]
    aliases = [CHALLENGER]
    if decision.promote:
        client.set_model_version_tag(MODEL_NAME, version.version, "previous_champion", base)  # type: ignore[attr-defined]
        client.set_registered_model_alias(MODEL_NAME, CHAMPION, version.version)  # type: ignore[attr-defined]
        aliases.append(CHAMPION)
    return Published(run.info.run_id, str(version.version), decision, tuple(aliases), str(run.info.experiment_id))
