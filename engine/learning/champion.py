"""What drift-check needs to know about the champion, read from MLflow (an edge, beside `registry`):
its version, its own validation figures (the pooled walk-forward metrics of its run) and the
training rows' feature deciles it was logged with."""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

from engine.learning.drift import Reference, Validation
from engine.learning.names import MODEL_NAME, shown
from engine.learning.registry import REFERENCE_FILE, _client, champion_version


@dataclass(frozen=True)
class Champion:
    validation: Validation
    features: list[str]
    reference: Reference | None      # None: logged before references were (drift-check says so)
    run_id: str
    experiment_id: str
    data_end: int
    interval: str = ""               # the candle interval it was trained on (its run's param)

    def run_url(self, tracking_uri: str) -> str:
        return f"{shown(tracking_uri).rstrip('/')}/#/experiments/{self.experiment_id}/runs/{self.run_id}"


def read_champion(tracking_uri: str) -> Champion | None:
    """The champion, or None when none is registered; `RegistryUnavailable` when MLflow is down."""
    client = _client(tracking_uri)
    version = champion_version(client)
    if version is None:
        return None
    run = client.get_run(version.run_id) if version.run_id else None
    metrics = run.data.metrics if run is not None else {}
    tags = version.tags
    nan = math.nan
    validation = Validation(str(version.version), float(metrics.get("brier", nan)),
                            float(metrics.get("base_brier", nan)), float(metrics.get("gated_net", nan)),
                            float(tags.get("base_rate", metrics.get("base_rate", nan))),
                            float(tags.get("threshold", "nan")))
    reference = None
    if run is not None:
        try:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(client.download_artifacts(version.run_id, REFERENCE_FILE, tmp))
                reference = Reference.from_json(json.loads(path.read_text()))
        except Exception:  # noqa: BLE001 - an older run has no reference file
            reference = None
    return Champion(validation, json.loads(tags.get("features", "[]")), reference, version.run_id or "",
                    str(run.info.experiment_id) if run is not None else "", int(tags.get("data_end", "0") or 0),
                    run.data.params.get("interval", "") if run is not None else "")


def load_model(tracking_uri: str, version: str) -> object:
    """That exact version's model (scikit-learn)."""
    _client(tracking_uri)
    import mlflow.sklearn

    return mlflow.sklearn.load_model(f"models:/{MODEL_NAME}/{version}")
