"""Permutation importance of the final model: how much the Brier score worsens when one feature's
values are shuffled across the held-out rows (scikit-learn's `permutation_importance`, unchanged).

What is made cheaper is the model it scores. Shuffling one column changes only the trees that
split on that column, so for a calibrated HistGradientBoosting model `CachedTrees` keeps every
tree's output on the unshuffled rows and re-walks only the trees that use a column that differs;
the raw score is then summed tree by tree in the model's own order, so the probabilities are the
model's own bit for bit (checked when the cache is built; any difference falls back to the model).
A feature used by few trees costs few tree walks instead of all of them.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.inspection import permutation_importance
from threadpoolctl import threadpool_limits

from engine.core.priority import train_threads

REPEATS = 2


def importance(model: Any, x: np.ndarray, y: np.ndarray, features: list[str], seed: int,
               repeats: int = REPEATS) -> dict[str, float]:
    """Mean Brier increase per feature when it is shuffled (`repeats` shuffles, seeded)."""
    with threadpool_limits(train_threads()):
        scored = cached(model, x)
        shuffled = permutation_importance(scored, x, y, scoring="neg_brier_score", n_repeats=repeats,
                                          random_state=seed)
    return dict(zip(features, map(float, shuffled.importances_mean), strict=True))


class CachedTrees(ClassifierMixin, BaseEstimator):
    """The decision function of a fitted binary HistGradientBoosting model on rows that differ from
    `reference` in a few columns: cached tree outputs for the trees that do not split on them."""

    def __init__(self, model: HistGradientBoostingClassifier, reference: np.ndarray) -> None:
        self.model = model
        self.reference = reference
        self.classes_ = model.classes_
        self._bitsets, self._f_idx_map = model._bin_mapper.make_known_categories_bitsets()
        self._trees = [(p, frozenset(p.nodes["feature_idx"][~p.nodes["is_leaf"].astype(bool)].tolist()))
                       for (p,) in model._predictors]
        self._outputs = [self._walk(p, reference) for p, _ in self._trees]
        self._nan = np.isnan(reference)

    def fit(self, x: np.ndarray, y: np.ndarray) -> CachedTrees:  # a scorer's estimator must have one
        raise TypeError("CachedTrees scores a fitted model; it does not fit")

    def _walk(self, predictor: Any, x: np.ndarray) -> np.ndarray:
        return predictor.predict(x, known_cat_bitsets=self._bitsets, f_idx_map=self._f_idx_map,
                                 n_threads=train_threads())

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float64)
        same = (x == self.reference) | (np.isnan(x) & self._nan)
        changed = set(np.flatnonzero(~same.all(axis=0)).tolist())
        raw = np.zeros(len(x), dtype=self.model._baseline_prediction.dtype)
        raw += self.model._baseline_prediction[0]
        for (predictor, used), output in zip(self._trees, self._outputs, strict=True):
            raw += self._walk(predictor, x) if used & changed else output
        return raw


def cached(model: Any, reference: np.ndarray) -> Any:
    """`model` itself, or (a calibrated binary HistGradientBoosting) a copy whose trees are
    `CachedTrees` on `reference`, when its probabilities equal the model's exactly."""
    if not isinstance(model, CalibratedClassifierCV) or len(model.calibrated_classifiers_) != 1:
        return model
    inner = model.calibrated_classifiers_[0]
    trees = inner.estimator.estimator if isinstance(inner.estimator, FrozenEstimator) else inner.estimator
    if (not isinstance(trees, HistGradientBoostingClassifier) or trees.n_trees_per_iteration_ != 1
            or getattr(trees, "_preprocessor", None) is not None or len(reference) == 0):
        return model
    fast = copy.copy(model)
    fast.calibrated_classifiers_ = [copy.copy(inner)]
    fast.calibrated_classifiers_[0].estimator = CachedTrees(trees, reference)
    probe = reference.copy()
    column = min(min(used, default=0) for _, used in fast.calibrated_classifiers_[0].estimator._trees)
    probe[:, column] = probe[::-1, column]  # a column some tree splits on: the re-walking path too
    for rows in (reference, probe):
        if not np.array_equal(fast.predict_proba(rows), model.predict_proba(rows)):
            return model
    return fast
