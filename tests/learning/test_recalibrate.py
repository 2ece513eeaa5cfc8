"""The incremental step: the champion's calibration refitted on the latest resolved outcomes and judged
by the same gate. On constructed rows where the world's probabilities moved, the recalibrated model
beats the champion on the newer rows it never saw and passes; on real candles without an edge it is
refused. Against a real MLflow server and store: the rows come from the ledger with their stored
features, the new version is registered with its tags and aliases, and the engine's loader serves it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.config import Settings
from engine.core.types import Side, SignalOutcome, SignalRecord
from engine.jobs import recalibration
from engine.learning.champion import load_model, read_champion
from engine.learning.dataset import Dataset, MarketData, build_dataset
from engine.learning.incremental import publish_recalibration
from engine.learning.model import fit
from engine.learning.names import CHAMPION, MODEL_NAME
from engine.learning.recalibrate import recalibrate
from engine.learning.registry import promote
from engine.learning.serving import MlflowModels
from engine.store import init_store, open_store
from engine.store.writer import write_records
from tests.learning.models import register

HOUR = 3_600_000


def shifted_world(n: int, seed: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One informative feature: P(win) = level + 0.6 * (sigmoid(2 x0) - 0.5)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    p = level + 0.6 * (1 / (1 + np.exp(-2 * x[:, 0])) - 0.5)
    y = (rng.random(n) < p).astype(int)
    return x, y, np.where(y == 1, 0.02, -0.01)


def champion_on(x: np.ndarray, y: np.ndarray, net: np.ndarray) -> object:
    t = np.arange(len(y), dtype=np.int64) * HOUR
    return fit(x, y, net, t, t + HOUR, HOUR).model


def test_a_moved_calibration_is_refitted_and_passes_the_gate() -> None:
    x, y, net = shifted_world(6000, 1, 0.35)
    champion = champion_on(x, y, net)
    xr, yr, nr = shifted_world(3000, 2, 0.2)        # the same ranking, every probability lower now
    result = recalibrate(champion, 0.4, xr, yr, nr)
    assert result.fit_rows == 2000 and result.eval_rows == 1000
    new = np.mean((result.scores.p - result.scores.y) ** 2)
    old = np.mean((result.champion_scores.p - result.champion_scores.y) ** 2)
    assert new < old and result.decision.promote, result.decision.reason
    assert 0 < result.threshold < 1


def test_without_an_edge_the_recalibration_is_refused(history: list[MarketData]) -> None:
    data: Dataset = build_dataset(history)
    frame, x = data.frame, data.matrix()
    y, net = frame["label"].to_numpy(), frame["net_return"].to_numpy()
    cut = int(len(y) * 0.6)
    t, end = frame["open_time"].to_numpy(), frame["label_end"].to_numpy()
    champion = fit(x[:cut], y[:cut], net[:cut], t[:cut], end[:cut], 49 * HOUR)
    result = recalibrate(champion.model, champion.threshold, x[cut:], y[cut:], net[cut:])
    assert not result.decision.promote, result.decision.reason
    with pytest.raises(ValueError, match="too few resolved outcomes"):
        recalibrate(champion.model, 0.4, x[:50], y[:50], net[:50])


@pytest.mark.integration
def test_recalibration_from_the_ledger_is_registered_and_served(mlflow_uri: str, settings: Settings) -> None:
    names = ["f0", "f1", "f2"]
    x, y, net = shifted_world(6000, 3, 0.35)
    champion_model = champion_on(x, y, net)
    version = register(mlflow_uri, champion_model, names, threshold=0.4, interval="1h",
                       metrics={"brier": 0.2, "base_brier": 0.22, "gated_net": 0.002}, tags={"base_rate": "0.35"})
    promote(mlflow_uri, version)
    xr, yr, nr = shifted_world(900, 4, 0.2)
    init_store(settings)
    records: list[object] = []
    for i in range(len(yr)):
        t = 1_700_000_000_000 + i * HOUR
        records += [SignalRecord(f"r{i}", "signal-model", "ETHUSDT", "1h", Side.BUY, 0.5, 0.3, 2000.0, 20.0, False,
                                 "model", "test", t, t + HOUR, t + HOUR, model_version=version,
                                 features=json.dumps(dict(zip(names, map(float, xr[i]), strict=True)))),
                    SignalOutcome(f"r{i}", "ETHUSDT", float(nr[i]), int(yr[i]), t + 5 * HOUR)]
    with open_store(settings) as lake:
        write_records(lake, records)   # type: ignore[arg-type]
        rows = recalibration.resolved_rows(lake, "1h", names, 2000)
    assert rows.count == 900 and np.allclose(rows.x, xr) and list(rows.y) == list(yr)
    champion = read_champion(mlflow_uri)
    assert champion is not None and champion.interval == "1h" and champion.features == names
    result = recalibrate(load_model(mlflow_uri, version), champion.validation.threshold, rows.x, rows.y, rows.net)
    published = publish_recalibration(mlflow_uri, champion, result, rows.x, rows.last_time)
    assert published.decision.promote and published.aliases == ("challenger", CHAMPION), published.decision.reason
    from mlflow.tracking import MlflowClient
    tags = MlflowClient(mlflow_uri).get_model_version(MODEL_NAME, published.version).tags
    assert tags["recalibrated_from"] == version and json.loads(tags["features"]) == names
    assert tags["previous_champion"] == version and float(tags["threshold"]) == result.threshold
    source = MlflowModels(mlflow_uri)
    info = source.champion()
    assert info is not None and info.version == published.version
    served = source.load(info)                      # the engine's loader: skops format, exact version
    assert served.interval == "1h" and served.features == names
    assert np.allclose(served.model.predict_proba(xr[:20]), result.model.predict_proba(xr[:20]))
