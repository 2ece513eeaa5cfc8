"""Purged walk-forward validation.

The test period (from `first_test_fraction` of the data's time span to its end) is cut into
`folds` equal time windows. Each fold trains on rows before its window only, purged: a training
row whose label window (signal candle to exit) reaches into the test window, or comes within the
embargo (one label horizon) of it, is dropped. The model of each fold predicts its window; the
pooled out-of-sample predictions give the figures (engine.learning.metrics) and the gate's input.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from engine.core.intervals import INTERVAL_MS
from engine.learning.dataset import Dataset
from engine.learning.labels import ExitSpec
from engine.learning.metrics import Interval, Scores, Trading, intervals, trading
from engine.learning.model import fit

FOLDS = 5
FIRST_TEST_FRACTION = 0.25
MIN_TRAIN_ROWS = 300
MIN_TEST_ROWS = 30
FoldProgress = Callable[[int, int], None]  # (folds done, folds in all)


class NotEnoughData(ValueError):
    """Too few rows for the folds; the message says how many more are needed."""


@dataclass(frozen=True)
class Fold:
    number: int
    train: np.ndarray
    test: np.ndarray
    test_start: int
    test_end: int


def embargo_ms(exits: ExitSpec, interval: str) -> int:
    """One label horizon: the longest a trade can stay open."""
    return (exits.max_hold_bars + 1) * INTERVAL_MS[interval]


def walk_forward_folds(open_time: np.ndarray, label_end: np.ndarray, embargo: int, *, folds: int = FOLDS,
                       first_test_fraction: float = FIRST_TEST_FRACTION) -> list[Fold]:
    """Fold windows and their purged training rows (rows sorted by open_time)."""
    first, last = int(open_time[0]), int(open_time[-1]) + 1
    edges = np.linspace(first + first_test_fraction * (last - first), last, folds + 1).astype(np.int64)
    out = []
    for k in range(folds):
        start, end = int(edges[k]), int(edges[k + 1])
        test = np.flatnonzero((open_time >= start) & (open_time < end))
        train = np.flatnonzero((open_time < start) & (label_end + embargo <= start))
        out.append(Fold(k + 1, train, test, start, end))
    return out


def check_enough(dataset: Dataset, folds: list[Fold]) -> None:
    short = [f for f in folds if len(f.train) < MIN_TRAIN_ROWS or len(f.test) < MIN_TEST_ROWS]
    if short:
        f = short[0]
        need = max(MIN_TRAIN_ROWS - len(f.train), 0) + max(MIN_TEST_ROWS - len(f.test), 0)
        raise NotEnoughData(
            f"too little data: fold {f.number} has {len(f.train)} training and {len(f.test)} test signals "
            f"(needs at least {MIN_TRAIN_ROWS} and {MIN_TEST_ROWS}); {dataset.rows} signals in all, about "
            f"{need * len(folds)} more (a longer history) are needed")


@dataclass(frozen=True)
class FoldResult:
    fold: Fold
    kind: str
    threshold: float
    figures: dict[str, Interval]
    gated: Trading
    ungated: Trading

    def row(self) -> dict[str, object]:
        f = self.figures
        return {"fold": self.fold.number, "test_start": self.fold.test_start, "test_end": self.fold.test_end,
                "train_rows": len(self.fold.train), "test_rows": len(self.fold.test), "model": self.kind,
                "threshold": self.threshold,
                **{f"{name}{suffix}": getattr(f[name], attr) for name in f
                   for suffix, attr in (("", "value"), ("_low", "low"), ("_high", "high"))},
                **{f"gated_{k}": v for k, v in self.gated.as_dict().items()},
                **{f"ungated_{k}": v for k, v in self.ungated.as_dict().items()}}


@dataclass(frozen=True)
class WalkForward:
    """Per-fold and pooled out-of-sample figures."""

    folds: list[FoldResult]
    scores: Scores                 # pooled out-of-sample rows, in time order
    rows: np.ndarray               # their row numbers in the dataset
    pooled: dict[str, Interval]
    gated: Trading
    ungated: Trading
    extra: dict[str, object] = field(default_factory=dict)

    def table(self) -> list[dict[str, object]]:
        return [f.row() for f in self.folds]


def walk_forward(dataset: Dataset, exits: ExitSpec, interval: str, *, seed: int = 0, folds: int = FOLDS,
                 first_test_fraction: float = FIRST_TEST_FRACTION, resamples: int = 400,
                 progress: FoldProgress | None = None) -> WalkForward:
    """Train per fold on purged past rows, score the fold, pool the scores. `extra` has the seconds
    spent fitting the folds and on the bootstrap intervals."""
    started = time.perf_counter()
    frame = dataset.frame
    open_time, label_end = frame["open_time"].to_numpy(), frame["label_end"].to_numpy()
    x, y, net = dataset.matrix(), frame["label"].to_numpy(), frame["net_return"].to_numpy()
    weight = dataset.weights()
    embargo = embargo_ms(exits, interval)
    plan = walk_forward_folds(open_time, label_end, embargo, folds=folds, first_test_fraction=first_test_fraction)
    check_enough(dataset, plan)
    fitted, parts = [], []
    for fold in plan:
        t = fold.train
        model = fit(x[t], y[t], net[t], open_time[t], label_end[t], embargo, seed,
                    None if weight is None else weight[t])
        p = model.probability(x[fold.test])
        scores = Scores(y[fold.test], p, np.full(len(p), model.base_rate), net[fold.test], p > model.threshold)
        parts.append(scores)
        fitted.append((fold, model, scores))
        if progress is not None:
            progress(fold.number, len(plan))
    pooled = Scores(*(np.concatenate([getattr(s, n) for s in parts]) for n in ("y", "p", "base", "net", "admitted")))
    folds_done = time.perf_counter()
    results = [FoldResult(fold, model.kind, model.threshold, intervals(scores, seed, resamples // 2),
                          trading(scores.net[scores.admitted]), trading(scores.net)) for fold, model, scores in fitted]
    pooled_figures = intervals(pooled, seed, resamples)
    return WalkForward(results, pooled, np.concatenate([f.test for f in plan]), pooled_figures,
                       trading(pooled.net[pooled.admitted]), trading(pooled.net),
                       {"folds": folds_done - started, "bootstrap": time.perf_counter() - folds_done})


def score(dataset: Dataset, probability: np.ndarray, threshold: float, base_rate: float, *, seed: int = 0,
          resamples: int = 400) -> tuple[Scores, dict[str, Interval], Trading, Trading]:
    """A model's figures on rows it never saw: scores, intervals, gated and ungated trading."""
    frame = dataset.frame
    net = frame["net_return"].to_numpy()
    scores = Scores(frame["label"].to_numpy(), probability, np.full(len(net), base_rate), net, probability > threshold)
    return scores, intervals(scores, seed, resamples), trading(net[scores.admitted]), trading(net)
