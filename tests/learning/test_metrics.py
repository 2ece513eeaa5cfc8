"""The vectorised bootstrap equals the per-resample loop bit for bit (so the figures did not move
when it replaced the loop), on constructed scores with ties and on a real walk-forward."""

from __future__ import annotations

import numpy as np
import pytest

from engine.learning.dataset import MarketData, build_dataset
from engine.learning.labels import ExitSpec
from engine.learning.metrics import (
    STATISTICS,
    Scores,
    _draws,
    block_resamples,
    intervals,
    resample_matrix,
)
from engine.learning.validation import walk_forward


def original_block_resamples(n: int, seed: int, resamples: int, block: int = 40) -> list[np.ndarray]:
    """The resampling as it was first written (one array per resample)."""
    rng = np.random.default_rng(seed)
    block = max(1, min(block, n))
    starts = np.arange(0, n - block + 1)
    count = -(-n // block)
    offsets = np.arange(block)
    return [(rng.choice(starts, count)[:, None] + offsets).ravel()[:n] for _ in range(resamples)]


def loop_draws(scores: Scores, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Each statistic on each resample, one at a time: the definition `_draws` must equal."""
    return {name: np.array([stat(scores.take(r)) for r in rows], dtype=float) for name, stat in STATISTICS.items()}


def constructed(n: int, seed: int, *, levels: int = 40) -> Scores:
    """Calibrated-looking probabilities (few distinct levels, so many ties), a sparse gate."""
    rng = np.random.default_rng(seed)
    p = np.round(rng.uniform(0.2, 0.5, n) * levels) / levels
    y = (rng.uniform(size=n) < p).astype(np.int8)
    net = np.where(y == 1, rng.uniform(0.001, 0.02, n), -rng.uniform(0.001, 0.02, n))
    return Scores(y, p, np.full(n, 0.35), net, p > 0.45)


@pytest.mark.parametrize(("n", "resamples"), [(1, 5), (39, 7), (41, 9), (2213, 130), (11007, 70)])
def test_resample_matrix_is_the_original_draws(n: int, resamples: int) -> None:
    expected = original_block_resamples(n, 3, resamples)
    assert np.array_equal(resample_matrix(n, 3, resamples), np.stack(expected))
    assert all(np.array_equal(a, b) for a, b in zip(block_resamples(n, 3, resamples), expected, strict=True))


@pytest.mark.parametrize(("n", "seed"), [(25, 0), (400, 1), (2213, 2), (6000, 3)])
def test_vectorised_draws_equal_the_loop_bit_for_bit(n: int, seed: int) -> None:
    scores = constructed(n, seed)
    rows = resample_matrix(n, seed, 150)   # > DRAW_CHUNK: several chunks
    fast, slow = _draws(scores, rows), loop_draws(scores, rows)
    for name in STATISTICS:
        assert np.array_equal(fast[name], slow[name], equal_nan=True), name


def test_a_gate_that_admits_nothing_and_one_sided_resamples() -> None:
    scores = constructed(30, 5)
    closed = Scores(scores.y, scores.p, scores.base, scores.net, np.zeros(30, dtype=bool))
    one_class = Scores(np.zeros(30, dtype=np.int8), scores.p, scores.base, scores.net, scores.admitted)
    for s in (closed, one_class):
        rows = resample_matrix(30, 0, 80)
        fast, slow = _draws(s, rows), loop_draws(s, rows)
        assert all(np.array_equal(fast[k], slow[k], equal_nan=True) for k in STATISTICS)
    assert np.isnan(intervals(one_class, 0, 20)["auc"].value)


def test_intervals_of_a_real_walk_forward_are_unchanged(history: list[MarketData]) -> None:
    walk = walk_forward(build_dataset(history, ExitSpec()), ExitSpec(), "1h", resamples=40)
    for scores in (walk.scores, walk.scores.take(np.arange(len(walk.scores.y) // 3))):
        assert intervals(scores, 0, 200) == intervals(scores, 0, 200, statistics=dict(STATISTICS))
