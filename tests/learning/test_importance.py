"""The permutation importance with cached tree outputs is scikit-learn's, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.inspection import permutation_importance

from engine.learning.dataset import MarketData, build_dataset
from engine.learning.importance import CachedTrees, cached, importance
from engine.learning.labels import ExitSpec
from engine.learning.model import Fitted, candidates, fit, split_for_calibration
from engine.learning.validation import embargo_ms

EXITS = ExitSpec()


@pytest.fixture(scope="module")
def fitted(history: list[MarketData]) -> tuple[Fitted, np.ndarray, np.ndarray, list[str]]:
    dataset = build_dataset(history, EXITS)
    f = dataset.frame
    x, y, net = dataset.matrix(), f["label"].to_numpy(), f["net_return"].to_numpy()
    open_time, label_end = f["open_time"].to_numpy(), f["label_end"].to_numpy()
    embargo = embargo_ms(EXITS, "1h")
    model = fit(x, y, net, open_time, label_end, embargo, 0)
    _, held_out = split_for_calibration(open_time, label_end, embargo)
    return model, x[held_out[-800:]], y[held_out[-800:]], dataset.features


def calibrated_trees(x: np.ndarray, y: np.ndarray) -> CalibratedClassifierCV:
    trees = candidates(0)["hist_gradient_boosting"].set_params(max_iter=60).fit(x[:400], y[:400])
    return CalibratedClassifierCV(FrozenEstimator(trees), method="isotonic").fit(x[400:], y[400:])


def test_cached_trees_give_the_models_probabilities(fitted: tuple[Fitted, np.ndarray, np.ndarray, list[str]]) -> None:
    _, x, y, _ = fitted
    model = calibrated_trees(x, y)
    fast = cached(model, x)
    assert isinstance(fast.calibrated_classifiers_[0].estimator, CachedTrees)
    rng = np.random.default_rng(0)
    for column in range(x.shape[1]):
        shuffled = x.copy()
        shuffled[:, column] = shuffled[rng.permutation(len(x)), column]
        assert np.array_equal(fast.predict_proba(shuffled), model.predict_proba(shuffled)), column
    assert np.array_equal(fast.predict_proba(x), model.predict_proba(x))


def test_importance_equals_scikit_learns(fitted: tuple[Fitted, np.ndarray, np.ndarray, list[str]]) -> None:
    final, x, y, features = fitted
    for model in (final.model, calibrated_trees(x, y)):
        expected = permutation_importance(model, x, y, scoring="neg_brier_score", n_repeats=2, random_state=0)
        found = importance(model, x, y, features, 0)
        assert list(found) == features
        assert np.array_equal(np.array(list(found.values())), expected.importances_mean)


def test_a_model_without_trees_is_scored_as_it_is(fitted: tuple[Fitted, np.ndarray, np.ndarray, list[str]]) -> None:
    _, x, y, _ = fitted
    linear = candidates(0)["logistic_regression"].fit(x[:400], y[:400])
    model = CalibratedClassifierCV(FrozenEstimator(linear), method="isotonic").fit(x[400:], y[400:])
    assert cached(model, x) is model
    assert cached(linear, x) is linear
    with pytest.raises(TypeError, match="does not fit"):
        CachedTrees(calibrated_trees(x, y).calibrated_classifiers_[0].estimator.estimator, x).fit(x, y)
