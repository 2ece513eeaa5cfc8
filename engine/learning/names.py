"""The registry's names and its two errors, light enough for the engine to import (no scikit-learn,
no MLflow): `registry` (training's side) and `serving` (the engine's side) share them."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from engine.core.errors import SltError

EXPERIMENT = "signal-model"
MODEL_NAME = "signal-model"
CHAMPION, CHALLENGER = "champion", "challenger"
# skops (MLflow's safe sklearn format) asks to trust these types of a calibrated model explicitly.
# We write these files ourselves (HistGradientBoosting's trees are TreePredictor objects).
TRUSTED_TYPES = ["numpy.dtype", "sklearn.calibration._CalibratedClassifier",
                 "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]


class RegistryUnavailable(SltError):
    """MLflow did not answer (after retries); nothing was registered."""


class RegistrationFailed(SltError):
    """MLflow refused part of a registration; no alias was moved."""


def shown(uri: str) -> str:
    """The tracking URI without any user:password part."""
    parts = urlsplit(uri)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
