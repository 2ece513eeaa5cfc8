"""The signal model: HistGradientBoosting against a logistic-regression baseline, the better on
held-out data wins, then isotonic calibration on that held-out part (out of sample), and the
admission threshold: the probability above which the expected net return is positive.

Fits run with at most `train_threads()` threads (SLT_TRAIN_THREADS), leaving a core to the engine.
A fixed seed makes the same data give the same predictions."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from engine.core.priority import train_threads
from engine.learning.metrics import logloss

CALIBRATION_FRACTION = 0.25


def candidates(seed: int) -> dict[str, ClassifierMixin]:
    return {
        "hist_gradient_boosting": HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=100, l2_regularization=1.0,
            early_stopping=False, random_state=seed),
        "logistic_regression": make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                                             LogisticRegression(C=0.1, max_iter=1000)),
    }


@dataclass(frozen=True)
class Fitted:
    """A calibrated model, which candidate it is, and its admission threshold."""

    model: CalibratedClassifierCV
    kind: str
    threshold: float
    base_rate: float
    candidate_loss: dict[str, float]

    def probability(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(x)[:, 1]


def break_even(y: np.ndarray, net: np.ndarray) -> float:
    """The win probability at which p * mean win + (1 - p) * mean loss = 0 on these rows."""
    win = net[y == 1].mean() if (y == 1).any() else 0.0
    loss = net[y == 0].mean() if (y == 0).any() else 0.0
    return float(-loss / (win - loss)) if win > loss else 1.0


def split_for_calibration(open_time: np.ndarray, label_end: np.ndarray, embargo_ms: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit rows, calibration rows): the last quarter in time calibrates; fit rows whose label
    window reaches into it (plus the embargo) are purged."""
    n = len(open_time)
    cut = int(n * (1 - CALIBRATION_FRACTION))
    start = open_time[cut]
    fit = np.flatnonzero((np.arange(n) < cut) & (label_end + embargo_ms <= start))
    return fit, np.arange(cut, n)


def _fit_weighted(name: str, model: ClassifierMixin, x: np.ndarray, y: np.ndarray, weight: np.ndarray | None) -> None:
    if weight is None:
        model.fit(x, y)
    elif name == "logistic_regression":   # a pipeline: the weight goes to its last step
        model.fit(x, y, logisticregression__sample_weight=weight)
    else:
        model.fit(x, y, sample_weight=weight)


def fit(x: np.ndarray, y: np.ndarray, net: np.ndarray, open_time: np.ndarray, label_end: np.ndarray,
        embargo_ms: int, seed: int = 0, weight: np.ndarray | None = None) -> Fitted:
    """Fit both candidates on the older rows, keep the one with the lower log loss on the newer
    rows, calibrate it there (isotonic) and choose the break-even threshold there too. `weight`:
    per-row sample weights (the engine's own trades count more), None for equal weights."""
    fit_rows, cal_rows = split_for_calibration(open_time, label_end, embargo_ms)
    if len(fit_rows) < 50 or len(np.unique(y[fit_rows])) < 2 or len(np.unique(y[cal_rows])) < 2:
        raise ValueError(f"too few rows to fit and calibrate ({len(fit_rows)} fit, {len(cal_rows)} calibration)")
    losses, fitted = {}, {}
    threads = train_threads()
    # joblib/loky (which scikit-learn asks for its core count) honours this cap too, and with a cap
    # below the machine's count it need not run `lscpu` to count physical cores.
    os.environ.setdefault("LOKY_MAX_CPU_COUNT", str(threads))
    with threadpool_limits(threads):
        for name, model in candidates(seed).items():
            _fit_weighted(name, model, x[fit_rows], y[fit_rows], None if weight is None else weight[fit_rows])
            fitted[name] = model
            losses[name] = logloss(y[cal_rows], model.predict_proba(x[cal_rows])[:, 1])
        kind = min(losses, key=losses.__getitem__)
        calibrated = CalibratedClassifierCV(FrozenEstimator(fitted[kind]), method="isotonic")
        with warnings.catch_warnings():  # the estimator is frozen on purpose: the weights go to the calibration
            warnings.filterwarnings("ignore", message="Since FrozenEstimator does not appear to accept sample_weight")
            calibrated.fit(x[cal_rows], y[cal_rows], sample_weight=None if weight is None else weight[cal_rows])
    return Fitted(calibrated, kind, break_even(y[cal_rows], net[cal_rows]), float(y[fit_rows].mean()), losses)
