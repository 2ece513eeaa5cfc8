"""The rows the incremental recalibration learns from: the latest resolved signals on the champion's
interval with the feature rows they were scored on (the prediction ledger joined to `signals`)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

from engine.store import reader
from engine.store.lake import Lake

ROWS_SQL = """
SELECT l.label, l.outcome_net_return, l.candle_open_time, s.features FROM lake.prediction_ledger l
JOIN lake.signals s ON s.signal_id = l.signal_id
WHERE l.resolved AND l.interval = ? AND s.features IS NOT NULL AND l.outcome_net_return IS NOT NULL
ORDER BY l.candle_open_time DESC, l.signal_id DESC LIMIT ?
"""


@dataclass(frozen=True)
class Rows:
    x: np.ndarray
    y: np.ndarray
    net: np.ndarray
    last_time: int       # the newest signal candle among them (the version's data_end)

    @property
    def count(self) -> int:
        return len(self.y)


def resolved_rows(lake: Lake, interval: str, names: list[str], window: int) -> Rows:
    """The last `window` resolved signals, oldest first, features in the model's column order."""
    found = reader.query(lake, ROWS_SQL, [interval, window])[::-1]
    x = np.array([[_number(json.loads(r["features"]).get(n)) for n in names] for r in found], dtype=float) \
        if found else np.empty((0, len(names)))
    return Rows(x, np.array([r["label"] for r in found], dtype=int),
                np.array([r["outcome_net_return"] for r in found], dtype=float),
                max((int(r["candle_open_time"]) for r in found), default=0))


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else math.nan
