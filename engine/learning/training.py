"""One training run, pure: dataset -> walk-forward figures -> final calibrated model -> what the
gate says about it as a first champion. The registry (engine.learning.registry) logs and registers it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from engine.learning.dataset import Dataset, MarketData, build_dataset
from engine.learning.gate import Decision, first_champion
from engine.learning.importance import importance
from engine.learning.labels import ExitSpec
from engine.learning.model import Fitted, fit, split_for_calibration
from engine.learning.own import merge_own
from engine.learning.validation import FOLDS, FoldProgress, WalkForward, embargo_ms, walk_forward

SEED = 0
IMPORTANCE_ROWS = 2000   # the newest held-out rows the permutation importance shuffles


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

    @property
    def data_end(self) -> int:
        return int(self.dataset.frame["open_time"].max())

    def params(self) -> dict[str, str | int | float]:
        frame = self.dataset.frame
        return {
            "data_start": int(frame["open_time"].min()), "data_end": self.data_end,
            "symbols": ",".join(sorted(set(frame["symbol"]))), "interval": self.interval,
            "feature_version": self.dataset.version, "features": len(self.dataset.features),
            "label_spec": self.exits.describe(), "stop_loss_atr": self.exits.stop_loss_atr,
            "take_profit_atr": self.exits.take_profit_atr, "max_hold_bars": self.exits.max_hold_bars,
            "taker_fee": self.exits.taker_fee, "seed": self.seed, "folds": len(self.walk.folds),
            "model": self.final.kind, "threshold": round(self.final.threshold, 6),
            "rows": self.dataset.rows, "dataset_sha256": dataset_hash(self.dataset),
            "own_trades": self.dataset.own_rows,
        }

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, interval in self.walk.pooled.items():
            out[name], out[f"{name}_low"], out[f"{name}_high"] = interval.value, interval.low, interval.high
        for prefix, result in (("gated", self.walk.gated), ("ungated", self.walk.ungated)):
            out.update({f"{prefix}_{k}": float(v) for k, v in result.as_dict().items()})
        out["admitted_fraction"] = float(self.walk.scores.admitted.mean())
        out["base_rate"] = float(self.walk.scores.y.mean())
        return out


def dataset_hash(dataset: Dataset) -> str:
    frame = dataset.frame
    digest = hashlib.sha256(",".join(frame.columns).encode())
    digest.update(np.ascontiguousarray(frame.hash_rows(seed=0).to_numpy()).tobytes())
    return digest.hexdigest()


def train(history: list[MarketData], exits: ExitSpec = ExitSpec(), *, seed: int = SEED, folds: int = FOLDS,
          progress: FoldProgress | None = None, resamples: int = 400,
          on_dataset: Callable[[Dataset], None] | None = None, own: pl.DataFrame | None = None) -> Training:
    """Build the dataset, validate walk-forward, fit the final model on every row. `own`: the
    engine's own resolved trades (`engine.learning.lake_sources`), merged by `engine.learning.own`."""
    intervals = {d.interval for d in history}
    if len(intervals) != 1:
        raise ValueError(f"one interval per model, got {sorted(intervals)}")
    interval = intervals.pop()
    dataset = build_dataset(history, exits)
    if own is not None:
        dataset = merge_own(dataset, own)
    if on_dataset is not None:
        on_dataset(dataset)
    walk = walk_forward(dataset, exits, interval, seed=seed, folds=folds, progress=progress, resamples=resamples)
    frame = dataset.frame
    x, y, net = dataset.matrix(), frame["label"].to_numpy(), frame["net_return"].to_numpy()
    open_time, label_end = frame["open_time"].to_numpy(), frame["label_end"].to_numpy()
    embargo = embargo_ms(exits, interval)
    final = fit(x, y, net, open_time, label_end, embargo, seed, dataset.weights())
    _, held_out = split_for_calibration(open_time, label_end, embargo)
    held_out = held_out[-IMPORTANCE_ROWS:]
    shuffled = importance(final.model, x[held_out], y[held_out], dataset.features, seed)
    return Training(dataset, interval, exits, seed, walk, final, first_champion(walk.scores, seed, walk.pooled),
                    shuffled)
