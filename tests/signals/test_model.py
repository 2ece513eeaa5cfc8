"""The model policy and its slot (engine.signals.model): signature check naming features, a known
input scored before a swap, failure counting and fall-back, the bootstrap hand-over after the trade
limit, and the feature row each signal carries. Real candles, a real fitted scikit-learn model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.linear_model import LogisticRegression

from engine.core.types import Candle
from engine.indicators import IndicatorStream
from engine.signals import Admission, safe_evaluate
from engine.signals.features import FeatureBook, feature_names
from engine.signals.model import POLICY, ModelPolicy, ModelSlot, ServedModel, check

DATA = Path(__file__).resolve().parents[2] / "data" / "market" / "ETHUSDT-perp-klines-1h.parquet"
NAMES = feature_names(context=False)


class Constant:
    def __init__(self, p: float) -> None:
        self.p = p

    def predict_proba(self, x: list[list[float]]) -> np.ndarray:
        return np.array([[1 - self.p, self.p] for _ in x])


class Raises:
    def predict_proba(self, x: object) -> np.ndarray:
        raise RuntimeError("boom")


def real_model() -> LogisticRegression:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, len(NAMES)))
    return LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))


class Imputed:
    """A real fitted model behind NaN-to-zero imputation (the live rows have NaN before warm-up)."""

    def __init__(self) -> None:
        self.model = real_model()

    def predict_proba(self, x: list[list[float]]) -> np.ndarray:
        return self.model.predict_proba(np.tanh(np.nan_to_num(np.asarray(x, dtype=float)) / 100))


KNOWN = dict.fromkeys(NAMES, 0.0)


def served(version: str, model: object, features: list[str] = NAMES, threshold: float = 0.4) -> ServedModel:
    return ServedModel(version, model, list(features), threshold)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def replay() -> list[tuple[Candle, object]]:
    frame = pl.read_parquet(DATA).slice(30_000, 1_200)
    stream = IndicatorStream("ETHUSDT", "1h")
    out = []
    for row in frame.iter_rows(named=True):
        t = row["open_time"]
        candle = Candle("ETHUSDT", "1h", t, t + 3_599_999, row["open"], row["high"], row["low"], row["close"],
                        row["volume"])
        out.append((candle, stream.update(candle)))
    return out


def run(policy: ModelPolicy, replay: list, limit: int | None = None) -> list[tuple]:
    out = []
    for candle, ind in replay[:limit]:
        policy.features.update(candle, ind)
        out.append(safe_evaluate(policy, ind, candle.close_time))
    return out


def test_signature_mismatch_is_refused_naming_the_features() -> None:
    slot = ModelSlot()
    wrong = [n for n in NAMES if n != "rsi"] + ["btc_ret_4"]
    why = slot.offer(served("7", Constant(0.5), wrong), NAMES, KNOWN)
    assert why is not None and "signature mismatch" in why
    assert "does not produce btc_ret_4" in why and "not trained on rsi" in why
    assert slot.current is None and "7" in slot.refused


def test_a_model_that_fails_the_known_input_is_refused() -> None:
    for model, word in ((Raises(), "RuntimeError"), (Constant(float("nan")), "nan"), (Constant(1.5), "1.5")):
        why = check(served("3", model), NAMES, KNOWN)
        assert why is not None and "known input" in why and word in why
    assert check(served("3", Constant(0.5), threshold=float("nan")), NAMES, KNOWN) is not None
    assert check(served("3", Imputed()), NAMES, KNOWN) is None


def test_swap_keeps_the_previous_and_failures_fall_back_to_it() -> None:
    slot = ModelSlot(max_failures=3)
    assert slot.offer(served("1", Constant(0.6)), NAMES, KNOWN) is None
    assert slot.offer(served("2", Constant(0.6)), NAMES, KNOWN) is None
    assert slot.version == "2" and slot.previous is not None and slot.previous.version == "1"
    assert slot.failed() is None and slot.failed() is None
    slot.succeeded()                                  # a success resets the run
    assert slot.failed() is None and slot.failed() is None
    why = slot.failed()
    assert why == "model version 2 failed 3 scorings in a row; back to model version 1"
    assert slot.version == "1" and slot.previous is None
    for _ in range(2):
        assert slot.failed() is None
    assert slot.failed() == "model version 1 failed 3 scorings in a row; back to the bootstrap policy"
    assert slot.current is None
    slot.offer(served("4", Constant(0.6)), NAMES, KNOWN)
    slot.withdraw()
    assert slot.current is None and slot.previous is not None and slot.previous.version == "4"


def test_bootstrap_signals_carry_their_features_until_the_takeover(replay: list) -> None:
    slot = ModelSlot()
    slot.offer(served("5", Imputed()), NAMES, KNOWN)
    closed = {"n": 0}
    policy = ModelPolicy(FeatureBook(("ETHUSDT",), "1h"), slot, takeover=lambda: closed["n"] >= 50)
    before = [s for s, e in run(policy, replay) if s is not None]
    assert before and all(s.policy == "bootstrap" and s.model_version is None and s.threshold is None
                          for s in before)
    row = json.loads(before[-1].features)
    assert list(row) == NAMES and row["side"] in (1.0, -1.0) and row["confidence"] == before[-1].confidence
    closed["n"] = 50
    policy.features = FeatureBook(("ETHUSDT",), "1h")
    after = [s for s, e in run(policy, replay) if s is not None]
    assert len(after) == len(before) and all(s.policy == POLICY and s.model_version == "5" for s in after)
    assert len({s.win_probability for s in after}) > 10        # the model's probabilities, not the prior
    admission = Admission()
    decisions = [admission.decide(s, 50) for s in after]
    assert all(d.phase == "model" for d in decisions)
    assert [d.admitted for d in decisions] == [s.win_probability > 0.4 for s in after]


def test_bad_scores_give_no_signal_and_fall_back_after_three(replay: list) -> None:
    events: list[tuple[str, str]] = []
    slot = ModelSlot(max_failures=3)
    slot.offer(served("1", Constant(0.6)), NAMES, KNOWN)
    slot.offer(served("2", Constant(0.6)), NAMES, KNOWN)
    slot.current = served("2", Constant(float("nan")))      # starts returning NaN once served
    policy = ModelPolicy(FeatureBook(("ETHUSDT",), "1h"), slot, on_event=lambda k, m: events.append((k, m)))
    results = [r for r in run(policy, replay) if r != (None, None)]
    errors = [e for s, e in results[:3]]
    assert all(s is None for s, _ in results[:3]) and all("returned win probability nan" in e for e in errors)
    assert events and events[0][0] == "fallback" and "back to model version 1" in events[0][1]
    later = [s for s, _ in results[3:]]
    assert later and all(s is not None and s.model_version == "1" and s.win_probability == 0.6 for s in later)
    assert not any(math.isnan(s.win_probability) for s in later)


def test_a_model_of_another_interval_is_refused() -> None:
    model = ServedModel("9", Constant(0.5), NAMES, 0.4, interval="1h")
    assert check(model, NAMES, KNOWN, "1m") == "model version 9 refused: trained on 1h candles, the engine trades 1m"
    assert check(model, NAMES, KNOWN, "1h") is None
