"""The gate on constructed cases: better, worse, within noise, first champion, no edge."""

from __future__ import annotations

import numpy as np
import pytest

from engine.learning.gate import against_champion, first_champion
from engine.learning.metrics import Scores

N = 4000


def world(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signals whose true win chance varies; winners make 60 bp, losers lose 40 bp."""
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0.1, 0.7, N)
    y = (rng.uniform(size=N) < truth).astype(int)
    return truth, y, np.where(y == 1, 0.006, -0.004)


def scores(p: np.ndarray, y: np.ndarray, net: np.ndarray, threshold: float = 0.4) -> Scores:
    return Scores(y, p, np.full(N, y.mean()), net, p > threshold)


def test_first_champion_with_an_edge_is_promoted() -> None:
    truth, y, net = world()
    decision = first_champion(scores(truth, y, net))
    assert decision.promote and decision.reason.startswith("edge")


def test_no_edge_is_refused_and_says_so_plainly() -> None:
    _, y, net = world()
    noise = np.random.default_rng(5).uniform(0.3, 0.5, N)
    decision = first_champion(scores(noise, y, net))
    assert not decision.promote
    assert "does not beat the base rate" in decision.reason and "keeps the bootstrap policy" in decision.reason


def test_shuffled_labels_are_refused() -> None:
    truth, y, net = world()
    shuffled = np.random.default_rng(3).permutation(y)
    assert not first_champion(scores(truth, shuffled, np.where(shuffled == 1, 0.006, -0.004))).promote


def test_a_clearly_better_challenger_is_promoted_and_a_worse_one_is_not() -> None:
    truth, y, net = world()
    blurred = np.clip(0.4 + 0.3 * (truth - 0.4), 0, 1)
    good, weak = scores(truth, y, net), scores(blurred, y, net)
    assert against_champion(good, weak).promote
    worse = against_champion(weak, good)
    assert not worse.promote and "not better than the champion" in worse.reason


def test_within_noise_the_champion_stays() -> None:
    truth, y, net = world()
    jitter = np.clip(truth + np.random.default_rng(9).normal(0, 0.01, N), 0, 1)
    assert not against_champion(scores(jitter, y, net), scores(truth, y, net)).promote


def test_the_numpy_scores_equal_scikit_learn() -> None:
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    from engine.learning.metrics import auc, brier, logloss
    truth, y, _ = world()
    p = np.round(truth, 2)  # ties
    assert auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert brier(y, p) == pytest.approx(brier_score_loss(y, p), abs=1e-12)
    assert logloss(y, p) == pytest.approx(log_loss(y, p), abs=1e-12)
