"""The incremental step between full retrains (pure): the champion's scores recalibrated on the latest
resolved outcomes, judged by the same gate.

The champion's estimator is kept as it is (frozen); only its isotonic calibration and its admission
threshold are refitted, on the older two thirds of the latest resolved signals (their stored feature
rows and real outcomes). The newer third, which neither calibration saw, judges the recalibrated
model against the champion with the gate (`against_champion`, and the first champion's own test, so
a recalibration without an edge is refused too). Cheap: no walk-forward, no new trees."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator

from engine.learning.gate import Decision, against_champion, first_champion
from engine.learning.metrics import Scores, intervals
from engine.learning.model import break_even

FIT_FRACTION = 2 / 3
MIN_ROWS = 200


@dataclass(frozen=True)
class Recalibrated:
    model: CalibratedClassifierCV
    threshold: float
    base_rate: float
    fit_rows: int
    eval_rows: int
    scores: Scores           # the recalibrated model on the evaluation rows
    champion_scores: Scores  # the champion on the same rows
    decision: Decision

    def metrics(self) -> dict[str, float]:
        f = intervals(self.scores, 0, 200)
        out: dict[str, float] = {}
        for name in ("brier", "base_brier", "gated_net", "ungated_net", "auc"):
            out[name], out[f"{name}_low"], out[f"{name}_high"] = f[name].value, f[name].low, f[name].high
        out["champion_brier"] = float(np.mean((self.champion_scores.p - self.champion_scores.y) ** 2))
        return out


def base_estimator(model: Any) -> FrozenEstimator:
    """The champion's estimator without its calibration (frozen), or the whole model when it has none."""
    calibrated = getattr(model, "calibrated_classifiers_", None)
    if calibrated:
        inner = calibrated[0].estimator
        return inner if isinstance(inner, FrozenEstimator) else FrozenEstimator(inner)
    return FrozenEstimator(model)


def recalibrate(champion: Any, champion_threshold: float, x: np.ndarray, y: np.ndarray, net: np.ndarray,
                seed: int = 0) -> Recalibrated:
    """Refit calibration and threshold on the older rows, judge on the newer (rows oldest first)."""
    n = len(y)
    cut = int(n * FIT_FRACTION)
    if n < MIN_ROWS or len(np.unique(y[:cut])) < 2:
        raise ValueError(f"too few resolved outcomes to recalibrate ({n}, at least {MIN_ROWS} with both labels)")
    model = CalibratedClassifierCV(base_estimator(champion), method="isotonic")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Since FrozenEstimator does not appear to accept sample_weight")
        model.fit(x[:cut], y[:cut])
    threshold = break_even(y[:cut], net[:cut])
    base_rate = float(y[:cut].mean())
    ye, ne = y[cut:].astype(float), net[cut:].astype(float)
    p = model.predict_proba(x[cut:])[:, 1]
    old = champion.predict_proba(x[cut:])[:, 1]
    ours = Scores(ye, p, np.full(len(ye), base_rate), ne, p > threshold)
    theirs = Scores(ye, old, np.full(len(ye), base_rate), ne, old > champion_threshold)
    relative = against_champion(ours, theirs, seed)
    absolute = first_champion(ours, seed)
    if relative.promote and not absolute.promote:
        decision = Decision(False, f"{relative.reason}; but {absolute.reason}")
    else:
        decision = relative
    return Recalibrated(model, threshold, base_rate, cut, n - cut, ours, theirs, decision)
