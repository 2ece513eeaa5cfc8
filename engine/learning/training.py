"""One training run, pure: dataset -> final calibrated model -> walk-forward figures -> what the
gate says about it as a first champion. The registry (engine.learning.registry) logs and registers it."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from engine.learning.dataset import Dataset, MarketData, build_dataset
from engine.learning.gate import Decision, first_champion
from engine.learning.importance import importance
from engine.learning.labels import ExitSpec
from engine.learning.model import Fitted, fit, split_for_calibration
from engine.learning.own import merge_own
from engine.learning.validation import (
    FOLDS,
    FoldProgress,
    WalkForward,
    check_enough,
    embargo_ms,
    walk_forward,
    walk_forward_folds,
)

SEED = 0
IMPORTANCE_ROWS = 2000   # the newest held-out rows the permutation importance shuffles
Params = dict[str, str | int | float]


@dataclass(frozen=True)
class Training:
    dataset: Dataset
    interval: str
    exits: ExitSpec
    seed: int
    walk: WalkForward
    final: Fitted
    decision: Decision              # as a first champion; the registry re-decides against a champion
    importance: dict[str, float]    # Brier increase when the feature is shuffled (held-out rows)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage

    @property
    def data_end(self) -> int:
        return int(self.dataset.frame["open_time"].max())

    def params(self) -> Params:
        return run_params(self.dataset, self.interval, self.exits, self.seed, len(self.walk.folds), self.final)

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, interval in self.walk.pooled.items():
            out[name], out[f"{name}_low"], out[f"{name}_high"] = interval.value, interval.low, interval.high
        for prefix, result in (("gated", self.walk.gated), ("ungated", self.walk.ungated)):
            out.update({f"{prefix}_{k}": float(v) for k, v in result.as_dict().items()})
        out["admitted_fraction"] = float(self.walk.scores.admitted.mean())
        out["base_rate"] = float(self.walk.scores.y.mean())
        return out


def run_params(dataset: Dataset, interval: str, exits: ExitSpec, seed: int, folds: int, final: Fitted) -> Params:
    """What the MLflow run records about the data, labels and model (known once the final model is)."""
    frame = dataset.frame
    return {
        "data_start": int(frame["open_time"].min()), "data_end": int(frame["open_time"].max()),
        "symbols": ",".join(sorted(set(frame["symbol"]))), "interval": interval,
        "feature_version": dataset.version, "features": len(dataset.features),
        "label_spec": exits.describe(), "stop_loss_atr": exits.stop_loss_atr,
        "take_profit_atr": exits.take_profit_atr, "max_hold_bars": exits.max_hold_bars,
        "taker_fee": exits.taker_fee, "seed": seed, "folds": folds,
        "model": final.kind, "threshold": round(final.threshold, 6),
        "rows": dataset.rows, "dataset_sha256": dataset_hash(dataset),
        "own_trades": dataset.own_rows,
    }


def dataset_hash(dataset: Dataset) -> str:
    frame = dataset.frame
    digest = hashlib.sha256(",".join(frame.columns).encode())
    digest.update(np.ascontiguousarray(frame.hash_rows(seed=0).to_numpy()).tobytes())
    return digest.hexdigest()


def train(history: list[MarketData], exits: ExitSpec = ExitSpec(), *, seed: int = SEED, folds: int = FOLDS,
          progress: FoldProgress | None = None, resamples: int = 400,
          on_dataset: Callable[[Dataset], None] | None = None, own: pl.DataFrame | None = None) -> Training:
    """Build the dataset, fit the final model on every row, validate walk-forward. `own`: the
    engine's own resolved trades (`engine.learning.lake_sources`), merged by `engine.learning.own`.
    `timings`: seconds per stage."""
    intervals = {d.interval for d in history}
    if len(intervals) != 1:
        raise ValueError(f"one interval per model, got {sorted(intervals)}")
    interval = intervals.pop()
    clock = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = timings.get(stage, 0.0) + now - clock
        clock = now

    dataset = build_dataset(history, exits)
    if own is not None:
        dataset = merge_own(dataset, own)
    if on_dataset is not None:
        on_dataset(dataset)
    frame = dataset.frame
    x, y, net = dataset.matrix(), frame["label"].to_numpy(), frame["net_return"].to_numpy()
    open_time, label_end = frame["open_time"].to_numpy(), frame["label_end"].to_numpy()
    embargo = embargo_ms(exits, interval)
    plan = walk_forward_folds(open_time, label_end, embargo, folds=folds)
    check_enough(dataset, plan)   # before anything is fitted or logged
    lap("dataset")
    final = fit(x, y, net, open_time, label_end, embargo, seed, dataset.weights())
    lap("final_fit")
    _, held_out = split_for_calibration(open_time, label_end, embargo)
    held_out = held_out[-IMPORTANCE_ROWS:]
    shuffled = importance(final.model, x[held_out], y[held_out], dataset.features, seed)
    lap("importance")
    walk = walk_forward(dataset, exits, interval, seed=seed, folds=folds, progress=progress, resamples=resamples)
    timings.update({k: v for k, v in walk.extra.items() if isinstance(v, float)})
    return Training(dataset, interval, exits, seed, walk, final, first_champion(walk.scores, seed, walk.pooled),
                    shuffled, timings)
