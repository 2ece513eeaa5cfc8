"""The run's plots are well-formed SVG showing what they claim (the MLflow UI renders .svg)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np

from engine.learning.metrics import Scores
from engine.learning.plots import calibration_bins, calibration_svg, importance_svg

SVG = "{http://www.w3.org/2000/svg}"


def scores(n: int = 3000) -> Scores:
    rng = np.random.default_rng(0)
    p = rng.uniform(0.2, 0.6, n)
    y = (rng.uniform(size=n) < p).astype(np.int8)
    return Scores(y, p, np.full(n, y.mean()), np.zeros(n), p > 0.5)


def test_calibration_deciles_follow_a_calibrated_model() -> None:
    predicted, observed = calibration_bins(scores(30000))
    assert len(predicted) == 10 and predicted == sorted(predicted)
    assert np.allclose(predicted, observed, atol=0.04)


def test_calibration_plot_is_svg_with_one_marker_per_decile() -> None:
    root = ET.fromstring(calibration_svg(scores()))
    assert root.tag == f"{SVG}svg"
    assert len(root.findall(f"{SVG}circle")) == 10
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "Calibration" in texts and "base rate" in texts and "predicted win probability" in texts


def test_importance_plot_ranks_features_and_escapes_names() -> None:
    importance = {f"f{i}": 0.001 * i for i in range(30)} | {"a<b": -0.002}
    root = ET.fromstring(importance_svg(importance, top=25))
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert labels[:3] == ["f29", "f28", "f27"] and len(labels) == 25
    assert len(root.findall(f"{SVG}rect")) == 1 + 25   # background + one bar each
    assert "a&lt;b" in importance_svg({"a<b": -0.002, "x": 0.001})
    ET.fromstring(importance_svg({"only": 0.0}))       # all zero: still drawable
