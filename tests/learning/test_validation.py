"""Walk-forward on a real slice: purging, determinism, and the controls (leak found, noise refused)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from engine.learning.dataset import Dataset, MarketData, build_dataset
from engine.learning.gate import first_champion
from engine.learning.labels import ExitSpec
from engine.learning.validation import NotEnoughData, embargo_ms, walk_forward, walk_forward_folds

EXITS = ExitSpec()


@pytest.fixture(scope="module")
def dataset(history: list[MarketData]) -> Dataset:
    return build_dataset(history)


def test_no_training_row_label_window_overlaps_its_test_fold(dataset: Dataset) -> None:
    f = dataset.frame
    start, end = f["open_time"].to_numpy(), f["label_end"].to_numpy()
    embargo = embargo_ms(EXITS, "1h")
    folds = walk_forward_folds(start, end, embargo)
    assert len(folds) == 5
    for fold in folds:
        assert len(fold.train) and len(fold.test)
        assert (end[fold.train] + embargo <= fold.test_start).all()
        assert (start[fold.train] < fold.test_start).all()
        assert ((start[fold.test] >= fold.test_start) & (start[fold.test] < fold.test_end)).all()
        # the rows just before the window whose trades were still open are purged
        near = np.flatnonzero((start < fold.test_start) & (end + embargo > fold.test_start))
        assert len(near) and not np.isin(near, fold.train).any()


def test_same_data_and_seed_give_the_same_predictions(dataset: Dataset) -> None:
    a = walk_forward(dataset, EXITS, "1h", resamples=20)
    b = walk_forward(dataset, EXITS, "1h", resamples=20)
    assert np.array_equal(a.scores.p, b.scores.p)
    assert [(f.kind, f.threshold) for f in a.folds] == [(f.kind, f.threshold) for f in b.folds]


def test_honest_figures_and_controls(dataset: Dataset) -> None:
    real = walk_forward(dataset, EXITS, "1h", resamples=100)
    assert 0.4 < real.pooled["auc"].value < 0.6        # short-horizon direction: near a coin flip
    leaked = Dataset(dataset.frame.with_columns(pl.col("net_return").alias("confidence")), dataset.features)
    assert walk_forward(leaked, EXITS, "1h", resamples=50).pooled["auc"].value > 0.8
    y = dataset.frame["label"].to_numpy()
    shuffled = Dataset(dataset.frame.with_columns(
        pl.Series("label", np.random.default_rng(4).permutation(y))), dataset.features)
    control = walk_forward(shuffled, EXITS, "1h", resamples=100)
    assert abs(control.pooled["auc"].value - 0.5) < 0.05
    assert not first_champion(control.scores).promote


def test_too_little_data_says_how_much_more_is_needed(dataset: Dataset) -> None:
    small = Dataset(dataset.frame[:400], dataset.features)
    with pytest.raises(NotEnoughData, match=r"too little data: fold 1 has .* more \(a longer history\)"):
        walk_forward(small, EXITS, "1h")
