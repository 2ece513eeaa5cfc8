"""Drift of the served model (pure): is its edge still there, and do its inputs still look like the
data it learned from?

Performance drift compares the champion's resolved live predictions (the prediction ledger) with its
own validation figures (the walk-forward metrics of its MLflow run). The edge has two measures: the
Brier skill over the base rate (1 - Brier / base-rate Brier, the base rate being the one it trained
on) and the gated net return per trade after costs. A measure has *dropped* when its live value is
more than `threshold` (ML_DRIFT_THRESHOLD, 0.15) below the validation value, relative, and the upper
bound of its live 95 % block-bootstrap interval is below that line too (so noise alone cannot do it).
Drift is declared when every measure that can be judged has dropped, with at least `min_samples`
(SLT_DRIFT_MIN_SAMPLES) resolved outcomes. A validation value at or below zero is no edge to lose:
that measure cannot be judged and the decision says so.

Feature drift is the population stability index of each feature, live rows against the training
rows' deciles (the reference logged with the model, `reference()`): sum((a - e) * ln(a / e)) over the
bins plus one bin for missing values; above 0.25 a feature is flagged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from engine.learning.metrics import Interval, Scores, brier, intervals, mean_or_zero

PSI_FLAG = 0.25
BINS = 10
EPS = 1e-4


# ---- feature drift --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reference:
    """Per feature, the inner decile edges of the training rows and each bin's share (last: missing)."""

    edges: dict[str, list[float]]
    shares: dict[str, list[float]]
    rows: int

    def as_json(self) -> dict[str, object]:
        return {"edges": self.edges, "shares": self.shares, "rows": self.rows, "bins": BINS}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Reference:
        return cls(dict(data["edges"]), dict(data["shares"]), int(data["rows"]))  # type: ignore[call-overload,arg-type]


def _shares(values: np.ndarray, edges: list[float]) -> list[float]:
    finite = np.isfinite(values)
    counts = np.bincount(np.searchsorted(np.asarray(edges), values[finite], side="right"), minlength=len(edges) + 1)
    shares = np.append(counts, (~finite).sum()).astype(float)
    return list(shares / max(1, len(values)))


def reference(matrix: np.ndarray, names: list[str]) -> Reference:
    """The training rows' deciles per feature (ties collapse into fewer bins)."""
    edges, shares = {}, {}
    for j, name in enumerate(names):
        column = matrix[:, j]
        finite = column[np.isfinite(column)]
        inner = sorted(set(np.quantile(finite, np.linspace(0, 1, BINS + 1)[1:-1]).tolist())) if len(finite) else []
        edges[name], shares[name] = inner, _shares(column, inner)
    return Reference(edges, shares, len(matrix))


def psi(expected: list[float], actual: list[float]) -> float:
    e = np.maximum(np.asarray(expected), EPS)
    a = np.maximum(np.asarray(actual), EPS)
    return float(np.sum((a - e) * np.log(a / e)))


@dataclass(frozen=True)
class FeatureDrift:
    name: str
    psi: float
    flagged: bool
    live_rows: int
    missing_live: float      # share of live rows without a value


def feature_drift(ref: Reference, live: dict[str, np.ndarray], flag: float = PSI_FLAG) -> list[FeatureDrift]:
    """PSI of every reference feature the live rows carry, highest first."""
    out = []
    for name, edges in ref.edges.items():
        values = live.get(name)
        if values is None or len(values) == 0:
            continue
        actual = _shares(values, edges)
        value = psi(ref.shares[name], actual)
        out.append(FeatureDrift(name, value, value > flag, len(values), actual[-1]))
    return sorted(out, key=lambda d: d.psi, reverse=True)


# ---- performance drift ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Validation:
    """The champion's own figures from its walk-forward validation."""

    version: str
    brier: float
    base_brier: float
    gated_net: float        # per trade, fraction of notional
    base_rate: float        # the training rows' win rate (its base-rate forecast)
    threshold: float        # admission threshold

    @property
    def skill(self) -> float:
        return 1.0 - self.brier / self.base_brier if self.base_brier > 0 else math.nan


@dataclass(frozen=True)
class Measure:
    name: str
    validation: float
    live: Interval | None
    line: float              # (1 - threshold) * validation: below it (upper bound too) is a drop
    dropped: bool
    judged: bool
    note: str

    @property
    def relative_drop(self) -> float:
        if self.live is None or not self.validation:
            return math.nan
        return (self.validation - self.live.value) / abs(self.validation)


@dataclass(frozen=True)
class PerformanceDrift:
    samples: int
    needed: int
    measures: list[Measure] = field(default_factory=list)
    drifted: bool = False
    reason: str = ""

    def figures(self) -> dict[str, float | int | bool | str]:
        out: dict[str, float | int | bool | str] = {"samples": self.samples, "needed": self.needed,
                                                    "drifted": self.drifted, "reason": self.reason}
        for m in self.measures:
            out[f"{m.name}_validation"] = m.validation
            if m.live is not None:
                out[f"{m.name}_live"], out[f"{m.name}_live_low"], out[f"{m.name}_live_high"] = (
                    m.live.value, m.live.low, m.live.high)
                out[f"{m.name}_relative_drop"] = m.relative_drop
        return out


def _skill(s: Scores) -> float:
    base = brier(s.y, s.base)
    return 1.0 - brier(s.y, s.p) / base if base > 0 else math.nan


def performance_drift(y: np.ndarray, p: np.ndarray, net: np.ndarray, validation: Validation, *,
                      threshold: float = 0.15, min_samples: int = 200, seed: int = 0,
                      resamples: int = 400) -> PerformanceDrift:
    """The champion's resolved live predictions (oldest first) against its validation figures."""
    n = len(y)
    if n < min_samples:
        return PerformanceDrift(n, min_samples, reason=f"{n} resolved predictions of version {validation.version}, "
                                                       f"{min_samples} needed before drift is judged")
    admitted = p > validation.threshold
    scores = Scores(y.astype(float), p.astype(float), np.full(n, validation.base_rate), net.astype(float), admitted)
    live = intervals(scores, seed, resamples, {"brier_skill": _skill,
                                               "gated_net": lambda s: mean_or_zero(s.net[s.admitted])})
    measures = []
    for name, value, note in (("brier_skill", validation.skill, "Brier skill over the base rate"),
                              ("gated_net", validation.gated_net, "gated net return per trade")):
        line = (1.0 - threshold) * value
        if not (math.isfinite(value) and value > 0):
            measures.append(Measure(name, value, live[name], line, False, False,
                                    f"{note}: validation {value:+.4f} is no edge to lose; not judged"))
            continue
        if name == "gated_net" and not admitted.any():
            measures.append(Measure(name, value, None, line, False, False, f"{note}: no live signal admitted"))
            continue
        interval = live[name]
        dropped = interval.value < line and interval.high < line
        verdict = ("dropped" if dropped else
                   "below the line but within noise" if interval.value < line else "holds")
        measures.append(Measure(name, value, interval, line, dropped, True,
                                f"{note}: live {interval} against validation {value:+.4f} (line {line:+.4f}): "
                                f"{verdict}"))
    judged = [m for m in measures if m.judged]
    drifted = bool(judged) and all(m.dropped for m in judged)
    if not judged:
        reason = "no edge measure can be judged: " + "; ".join(m.note for m in measures)
    elif drifted:
        reason = f"drift: the edge dropped more than {threshold:.0%} beyond noise on {n} outcomes: " + \
                 "; ".join(m.note for m in judged)
    else:
        reason = f"no drift on {n} outcomes: " + "; ".join(m.note for m in measures)
    return PerformanceDrift(n, min_samples, measures, drifted, reason)
