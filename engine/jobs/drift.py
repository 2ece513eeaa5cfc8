"""`drift-check` as plain functions: the champion's resolved predictions and the recent feature rows
from the store, judged against its validation figures and training deciles (engine.learning.drift)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.learning.champion import Champion
from engine.learning.drift import FeatureDrift, PerformanceDrift, feature_drift, performance_drift
from engine.store import reader
from engine.store.lake import Lake

EVENT = "slt.model.drift"
LEDGER_SQL = """
SELECT label, win_probability, outcome_net_return FROM lake.prediction_ledger
WHERE model_version = ? AND resolved ORDER BY candle_open_time DESC, signal_id DESC LIMIT ?
"""
FEATURES_SQL = """
SELECT features FROM lake.signals WHERE features IS NOT NULL AND interval = ?
ORDER BY candle_open_time DESC, signal_id DESC LIMIT ?
"""


@dataclass(frozen=True)
class Ledger:
    y: np.ndarray
    p: np.ndarray
    net: np.ndarray


def champion_ledger(lake: Lake, version: str, window: int) -> Ledger:
    """The last `window` resolved predictions of this version, oldest first."""
    rows = reader.query(lake, LEDGER_SQL, [version, window])[::-1]
    return Ledger(np.array([r["label"] for r in rows], dtype=float),
                  np.array([r["win_probability"] for r in rows], dtype=float),
                  np.array([r["outcome_net_return"] for r in rows], dtype=float))


def recent_features(lake: Lake, interval: str, window: int) -> dict[str, np.ndarray]:
    """The feature rows of the last `window` signals on `interval` (whatever scored them), by column."""
    rows = [json.loads(r["features"]) for r in reader.query(lake, FEATURES_SQL, [interval, window])]
    names = sorted({k for row in rows for k in row})
    return {n: np.array([(row.get(n) if row.get(n) is not None else math.nan) for row in rows], dtype=float)
            for n in names}


@dataclass(frozen=True)
class DriftReport:
    version: str
    performance: PerformanceDrift
    features: list[FeatureDrift] = field(default_factory=list)
    feature_note: str = ""

    @property
    def flagged(self) -> list[str]:
        return [f.name for f in self.features if f.flagged]

    @property
    def drifted(self) -> bool:
        return self.performance.drifted

    def payload(self) -> dict[str, Any]:
        """The event's figures (and the retrain run's `drift` parameter)."""
        return {"version": self.version, **self.performance.figures(), "flagged_features": self.flagged,
                "psi": {f.name: round(f.psi, 4) for f in self.features[:10]}}

    def table(self) -> list[dict[str, Any]]:
        return [{"feature": f.name, "psi": round(f.psi, 4), "flag (> 0.25)": "yes" if f.flagged else "",
                 "live rows": f.live_rows, "missing live": f"{f.missing_live:.1%}"} for f in self.features]

    def markdown(self) -> str:
        lines = [f"## Drift check of champion version {self.version}", "",
                 f"**Decision: {'drift' if self.drifted else 'no drift'}.** {self.performance.reason}", "",
                 "| measure | validation | live [95 % interval] | relative drop | judged |", "|---|---|---|---|---|"]
        for m in self.performance.measures:
            live = "" if m.live is None else f"{m.live.value:+.4f} [{m.live.low:+.4f}, {m.live.high:+.4f}]"
            drop = "" if math.isnan(m.relative_drop) else f"{m.relative_drop:+.1%}"
            lines.append(f"| {m.name} | {m.validation:+.4f} | {live} | {drop} | {'yes' if m.judged else 'no'} |")
        flagged = ", ".join(self.flagged) or "none"
        lines += ["", f"Feature drift (PSI > 0.25): {flagged}. {self.feature_note}".rstrip()]
        return "\n".join(lines)


def check(champion: Champion, ledger: Ledger, live: dict[str, np.ndarray], *, threshold: float, min_samples: int,
          seed: int = 0) -> DriftReport:
    """Performance and feature drift of the champion; pure."""
    performance = performance_drift(ledger.y, ledger.p, ledger.net, champion.validation, threshold=threshold,
                                    min_samples=min_samples, seed=seed)
    if champion.reference is None:
        return DriftReport(champion.validation.version, performance, [],
                           "Its run has no feature reference (logged before drift-check existed).")
    rows = len(next(iter(live.values()))) if live else 0
    found = feature_drift(champion.reference, live)
    note = f"{rows} recent feature rows against {champion.reference.rows} training rows."
    return DriftReport(champion.validation.version, performance, found, note)


NO_CHAMPION = ("No champion is registered (the gate has not promoted any model; on the bundled data it "
               "refuses, the model has no edge): nothing to check, the engine trades on the bootstrap policy.")
