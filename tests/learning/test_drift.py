"""Drift on constructed data: PSI of the same distribution is near 0 and of a shifted one above 0.25;
outcomes that degrade the champion's edge by more than 15 % are drift, outcomes within noise and too
few outcomes are not, and a validation without an edge is not judged."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.learning.drift import PSI_FLAG, Reference, Validation, feature_drift, performance_drift, reference

RNG = np.random.default_rng(7)


def test_psi_flags_a_shifted_feature_only() -> None:
    train = np.column_stack([RNG.normal(size=20_000), RNG.normal(size=20_000), RNG.integers(0, 3, 20_000)])
    ref = reference(train, ["same", "shifted", "state"])
    assert Reference.from_json(ref.as_json()) == ref
    live = {"same": RNG.normal(size=2000), "shifted": RNG.normal(0.8, 1.0, 2000),
            "state": RNG.integers(0, 3, 2000).astype(float)}
    found = {f.name: f for f in feature_drift(ref, live)}
    assert found["same"].psi < 0.05 and not found["same"].flagged and found["same"].missing_live == 0
    assert found["shifted"].psi > PSI_FLAG and found["shifted"].flagged
    assert found["state"].psi < 0.01
    assert [f.name for f in feature_drift(ref, live)][0] == "shifted"
    live["same"][:50] = math.nan                       # values that go missing live count as a shift too
    gone = {f.name: f for f in feature_drift(ref, live)}["same"]
    assert gone.missing_live == 0.025 and gone.psi > found["same"].psi


def champion_outcomes(n: int, signal: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predictions p and outcomes: y ~ Bernoulli(base + signal * (p - base)); signal 1 = calibrated."""
    rng = np.random.default_rng(seed)
    p = np.clip(rng.beta(4, 6, n), 0.01, 0.99)
    truth = 0.4 + signal * (p - 0.4)
    y = (rng.random(n) < truth).astype(float)
    net = np.where(y == 1, 0.02, -0.01)
    return y, p, net


def validation_of(y: np.ndarray, p: np.ndarray, net: np.ndarray) -> Validation:
    base = 0.4
    brier, base_brier = float(np.mean((p - y) ** 2)), float(np.mean((base - y) ** 2))
    return Validation("3", brier, base_brier, float(net[p > 0.45].mean()), base, 0.45)


@pytest.fixture(scope="module")
def validation() -> Validation:
    return validation_of(*champion_outcomes(20_000, 1.0, 1))


def test_an_edge_that_degrades_more_than_15_percent_is_drift(validation: Validation) -> None:
    assert validation.skill > 0.02 and validation.gated_net > 0
    y, p, net = champion_outcomes(3000, 0.0, 2)      # the predictions no longer mean anything
    found = performance_drift(y, p, net, validation, threshold=0.15, min_samples=200)
    assert found.drifted and found.reason.startswith("drift:"), found.reason
    assert all(m.judged and m.dropped and m.relative_drop > 0.15 for m in found.measures)
    assert found.figures()["brier_skill_live_high"] < (1 - 0.15) * validation.skill


def test_outcomes_within_noise_are_not_drift(validation: Validation) -> None:
    y, p, net = champion_outcomes(1500, 1.0, 3)      # the same edge, a new sample
    held = performance_drift(y, p, net, validation, threshold=0.15, min_samples=200)
    assert not held.drifted and held.reason.startswith("no drift"), held.reason
    y, p, net = champion_outcomes(300, 0.85, 4)       # a little weaker, few outcomes: the interval is wide
    noisy = performance_drift(y, p, net, validation, threshold=0.15, min_samples=200)
    assert not noisy.drifted, noisy.reason


def test_too_few_outcomes_and_no_edge_are_not_judged(validation: Validation) -> None:
    y, p, net = champion_outcomes(150, 0.0, 5)
    few = performance_drift(y, p, net, validation, min_samples=200)
    assert not few.drifted and few.reason == "150 resolved predictions of version 3, 200 needed before drift is judged"
    edgeless = Validation("4", 0.2300, 0.2280, -0.0001, 0.35, 0.4)    # the bundled data's figures: no edge
    y, p, net = champion_outcomes(3000, 0.0, 6)
    none = performance_drift(y, p, net, edgeless, min_samples=200)
    assert not none.drifted and not any(m.judged for m in none.measures)
    assert "no edge to lose" in none.reason
