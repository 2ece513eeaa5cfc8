"""Figures with honest intervals: classification scores against the base rate, and the trading
result of gated against ungated signals after costs, each with a 95 % block-bootstrap interval.

The bootstrap resamples blocks of consecutive rows (in time order), so neighbouring signals that
share a market move stay together and the intervals are not narrowed by their correlation. Every
statistic of one resample uses the same rows, so differences (model minus base rate, gated minus
ungated) get paired intervals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

BLOCK_ROWS = 40
RESAMPLES = 400
EPS = 1e-6


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.value:.4f} [{self.low:.4f}, {self.high:.4f}]"

    def bp(self) -> str:
        return f"{self.value * 1e4:+.1f} bp [{self.low * 1e4:+.1f}, {self.high * 1e4:+.1f}]"

    def as_dict(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Scores:
    """Out-of-sample rows of one model, oldest first: labels, calibrated probabilities, the
    base rate it was trained on, the signals' net returns and whether the model admitted them."""

    y: np.ndarray
    p: np.ndarray
    base: np.ndarray
    net: np.ndarray
    admitted: np.ndarray

    def take(self, rows: np.ndarray) -> Scores:
        return Scores(self.y[rows], self.p[rows], self.base[rows], self.net[rows], self.admitted[rows])


# Plain NumPy forms of the scikit-learn scores (equal to them, a test holds it): the bootstrap
# evaluates each a few thousand times, where scikit-learn's input checks would dominate.
def auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count half)."""
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(p)
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((p - y) ** 2))


def logloss(y: np.ndarray, p: np.ndarray) -> float:
    q = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(np.where(y == 1, np.log(q), np.log1p(-q))))


def mean_or_zero(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else 0.0


STATISTICS: dict[str, Callable[[Scores], float]] = {
    "auc": lambda s: auc(s.y, s.p),
    "brier": lambda s: brier(s.y, s.p),
    "log_loss": lambda s: logloss(s.y, s.p),
    "base_brier": lambda s: brier(s.y, s.base),
    "brier_minus_base": lambda s: brier(s.y, s.p) - brier(s.y, s.base),
    "gated_net": lambda s: mean_or_zero(s.net[s.admitted]),
    "ungated_net": lambda s: mean_or_zero(s.net),
    "gated_minus_ungated": lambda s: mean_or_zero(s.net[s.admitted]) - mean_or_zero(s.net),
}


def block_resamples(n: int, seed: int, resamples: int = RESAMPLES, block: int = BLOCK_ROWS) -> list[np.ndarray]:
    """Row indices of each resample: random blocks of `block` consecutive rows, n rows in all."""
    return list(resample_matrix(n, seed, resamples, block))


def resample_matrix(n: int, seed: int, resamples: int = RESAMPLES, block: int = BLOCK_ROWS) -> np.ndarray:
    """`block_resamples` as one (resamples, n) matrix: the same draws, in the same order."""
    rng = np.random.default_rng(seed)
    block = max(1, min(block, n))
    starts = np.arange(0, n - block + 1)
    count = -(-n // block)
    drawn = np.stack([rng.choice(starts, count) for _ in range(resamples)]) if resamples else np.empty((0, count), int)
    return (drawn[:, :, None] + np.arange(block)).reshape(resamples, count * block)[:, :n]


def intervals(scores: Scores, seed: int = 0, resamples: int = RESAMPLES,
              statistics: dict[str, Callable[[Scores], float]] = STATISTICS) -> dict[str, Interval]:
    """Every statistic on all rows with its 95 % block-bootstrap interval. The standard
    `STATISTICS` are evaluated on all resamples at once (`_draws`, equal to the loop bit for bit)."""
    rows = resample_matrix(len(scores.y), seed, resamples)
    if statistics is STATISTICS and len(scores.y) and np.isfinite(scores.p).all():
        draws = _draws(scores, rows)
    else:
        draws = {name: np.array([stat(scores.take(r)) for r in rows], dtype=float) for name, stat in statistics.items()}
    out = {}
    for name, stat in statistics.items():
        values = draws[name]
        values = values[np.isfinite(values)]
        low, high = (np.percentile(values, [2.5, 97.5]) if len(values) else (np.nan, np.nan))
        out[name] = Interval(stat(scores), float(low), float(high))
    return out


DRAW_CHUNK = 64  # resamples evaluated together (bounds the memory of the index matrices)


def _draws(scores: Scores, rows: np.ndarray) -> dict[str, np.ndarray]:
    """`STATISTICS` of every resample (a row of `rows`), vectorised. Equal to evaluating each
    statistic on `scores.take(r)`: the per-row terms are the same element-wise operations, NumPy's
    row-wise mean sums like its 1-D mean, and the AUC's rank sums are exact (half-integers)."""
    y, p, net, admitted = scores.y, scores.p, scores.net, scores.admitted
    square, base_square = (p - y) ** 2, (scores.base - y) ** 2
    q = np.clip(p, EPS, 1 - EPS)
    log_terms = np.where(y == 1, np.log(q), np.log1p(-q))
    values, code = np.unique(p, return_inverse=True)
    winner = y == 1
    parts: dict[str, list[np.ndarray]] = {name: [] for name in STATISTICS}
    for start in range(0, len(rows), DRAW_CHUNK):
        r = rows[start:start + DRAW_CHUNK]
        b, bb = square[r].mean(axis=1), base_square[r].mean(axis=1)
        ungated = net[r].mean(axis=1)
        gated = np.array([mean_or_zero(n[a]) for n, a in zip(net[r], admitted[r], strict=True)])
        for name, value in (("auc", _rank_auc(code[r], winner[r], len(values))), ("brier", b),
                            ("log_loss", -log_terms[r].mean(axis=1)), ("base_brier", bb),
                            ("brier_minus_base", b - bb), ("gated_net", gated), ("ungated_net", ungated),
                            ("gated_minus_ungated", gated - ungated)):
            parts[name].append(value)
    return {name: np.concatenate(v) if v else np.empty(0) for name, v in parts.items()}


def _rank_auc(code: np.ndarray, winner: np.ndarray, levels: int) -> np.ndarray:
    """`auc` of each row: `code` numbers the probability levels in order, so a level's average rank
    is (rows below it) + (its count + 1) / 2, and twice the winners' rank sum is an exact integer."""
    resamples, n = code.shape
    flat = code + (np.arange(resamples) * levels)[:, None]
    counts = np.bincount(flat.ravel(), minlength=resamples * levels).reshape(resamples, levels)
    wins = np.bincount(flat[winner], minlength=resamples * levels).reshape(resamples, levels)
    below = np.cumsum(counts, axis=1) - counts
    rank_sum = (wins * (2 * below + counts + 1)).sum(axis=1) / 2
    positives = wins.sum(axis=1)
    negatives = n - positives
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)
    return np.where((positives == 0) | (negatives == 0), np.nan, out)


@dataclass(frozen=True)
class Trading:
    """Trades of one set of signals, each with the engine's exits and costs."""

    trades: int
    win_rate: float
    mean_net: float        # fraction of notional per trade
    profit_factor: float
    max_drawdown: float    # largest fall of the summed per-trade returns

    def as_dict(self) -> dict[str, float]:
        return {"trades": self.trades, "win_rate": self.win_rate, "mean_net_bp": self.mean_net * 1e4,
                "profit_factor": self.profit_factor, "max_drawdown": self.max_drawdown}


def trading(net: np.ndarray) -> Trading:
    if len(net) == 0:
        return Trading(0, float("nan"), 0.0, float("nan"), 0.0)
    gains, losses = net[net > 0].sum(), -net[net <= 0].sum()
    equity = np.cumsum(net)
    drawdown = float(np.max(np.maximum.accumulate(np.concatenate([[0.0], equity]))[1:] - equity))
    return Trading(len(net), float((net > 0).mean()), float(net.mean()),
                   float(gains / losses) if losses > 0 else float("inf"), max(0.0, drawdown))
