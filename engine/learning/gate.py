"""The promotion gate: a model without an edge is never promoted.

First champion: on the pooled out-of-sample rows, the upper bound of the 95 % interval of
(model Brier - base-rate Brier) is below zero (its probabilities beat always saying the base rate)
and the gated signals' mean net return per trade after costs is above the ungated signals'.
Challenger against a champion: on the latest out-of-sample window both score, the upper bound of
the interval of (challenger Brier - champion Brier) is below zero and the challenger's gated net
return per trade is at least the champion's. Otherwise nothing is promoted, and the reason says
which test failed with its figures."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.learning.metrics import Interval, Scores, brier, intervals, mean_or_zero


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str

    @property
    def word(self) -> str:
        return "promote" if self.promote else "refuse"


def _bp(value: float) -> str:
    return f"{value * 1e4:+.1f} bp"


def first_champion(scores: Scores, seed: int = 0, figures: dict[str, Interval] | None = None) -> Decision:
    """Is this model worth trading at all, against the base rate and the ungated signals?
    `figures`: the intervals of these scores when already computed (`intervals(scores, seed)`)."""
    f = intervals(scores, seed) if figures is None else figures
    gap, gated, ungated, lift = f["brier_minus_base"], f["gated_net"], f["ungated_net"], f["gated_minus_ungated"]
    problems = []
    if not gap.high < 0:
        problems.append(f"its Brier does not beat the base rate's (Brier - base Brier {gap.value:+.4f}, "
                        f"95 % interval [{gap.low:+.4f}, {gap.high:+.4f}] is not below 0)")
    if not gated.value > ungated.value:
        problems.append(f"gated signals make {_bp(gated.value)} per trade, not more than the ungated "
                        f"{_bp(ungated.value)}")
    money = (f"; gated {gated.bp()} against ungated {ungated.bp()} per trade after costs (difference "
             f"{lift.bp()}); the bootstrap signals {'lose' if ungated.value < 0 else 'make'} "
             f"{abs(ungated.value) * 1e4:.1f} bp per trade after costs")
    if problems:
        return Decision(False, "no edge: " + "; ".join(problems) + money +
                        ". Not promoted; the engine keeps the bootstrap policy.")
    return Decision(True, f"edge: Brier - base Brier {gap}{money}")


def against_champion(challenger: Scores, champion: Scores, seed: int = 0) -> Decision:
    """Both models' scores on the same rows (same y and net) of the latest out-of-sample window."""
    if len(challenger.y) == 0:
        return Decision(False, "no out-of-sample window that both models score; not promoted")
    pair = Scores(challenger.y, challenger.p, champion.p, challenger.net,
                  challenger.admitted)
    stats = {"difference": lambda s: brier(s.y, s.p) - brier(s.y, s.base)}
    diff = intervals(pair, seed, statistics=stats)["difference"]
    gated = mean_or_zero(challenger.net[challenger.admitted])
    held = mean_or_zero(champion.net[champion.admitted])
    problems = []
    if not diff.high < 0:
        problems.append(f"Brier not better than the champion's (challenger - champion {diff.value:+.4f}, "
                        f"95 % interval [{diff.low:+.4f}, {diff.high:+.4f}] is not below 0)")
    if not gated >= held:
        problems.append(f"gated net {_bp(gated)} per trade is below the champion's {_bp(held)}")
    if problems:
        return Decision(False, "challenger not better: " + "; ".join(problems) + ". The champion stays.")
    return Decision(True, f"better than the champion: Brier difference {diff}, gated {_bp(gated)} >= {_bp(held)}"
                          f" per trade on {len(challenger.y)} common signals")


def common_rows(open_time: np.ndarray, after: int) -> np.ndarray:
    """The rows neither model trained on: those after the champion's training data ended."""
    return np.flatnonzero(open_time > after)
