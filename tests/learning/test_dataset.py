"""The dataset on real candles: causal in every column, labelled by the engine's exits."""

from __future__ import annotations

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from engine.learning.dataset import (
    BAR_FEATURES,
    EXTRA_FEATURES,
    MarketData,
    build_dataset,
    indicator_frame,
    market_features,
    policy_signals,
)
from engine.learning.sources import bundled
from engine.signals import BootstrapPolicy
from tests.learning.conftest import MARKET, sliced


def test_every_feature_at_t_equals_the_feature_on_data_truncated_at_t(history: list[MarketData]) -> None:
    data = history[1]
    full = market_features(data)
    columns = [*BAR_FEATURES, *EXTRA_FEATURES]
    for t in (400, 1777, 3001, 5998):
        cut = market_features(sliced(data, 0, t + 1))
        a, b = full.row(t, named=True), cut.row(t, named=True)
        for name in columns:
            assert a[name] == b[name] or (np.isnan(a[name]) and np.isnan(b[name])), (name, t)


def test_perturbing_future_bars_leaves_past_features_unchanged(history: list[MarketData]) -> None:
    data, t = history[0], 3000
    rng = np.random.default_rng(7)
    future = data.candles.sort("open_time")
    scale = np.where(np.arange(future.height) > t, rng.uniform(0.5, 1.5, future.height), 1.0)
    noisy = future.with_columns((pl.col(c) * scale) for c in ("open", "high", "low", "close"))
    noisy = noisy.with_columns(pl.max_horizontal("open", "high", "close").alias("high"),
                               pl.min_horizontal("open", "low", "close").alias("low"))
    a = market_features(data)[: t + 1]
    b = market_features(MarketData(data.symbol, data.interval, noisy, data.mark, data.funding))[: t + 1]
    assert a.equals(b)


def test_rows_are_the_bootstrap_signals_labelled_after_costs(history: list[MarketData]) -> None:
    dataset = build_dataset(history)
    frame = dataset.frame
    assert dataset.rows > 800 and set(frame["symbol"]) == {"BTCUSDT", "ETHUSDT", "XRPUSDT"}
    assert frame["open_time"].is_sorted() and (frame["label_end"] > frame["open_time"]).all()
    assert ((frame["net_return"] > 0).cast(pl.Int8) == frame["label"]).all()
    assert 0.2 < frame["label"].mean() < 0.5       # the stop is half the take-profit distance
    assert frame.select(dataset.features).null_count().sum_horizontal()[0] == 0
    assert set(frame["side"]) == {-1.0, 1.0} and "confidence" in dataset.features


def test_a_leaked_future_return_is_found_and_shuffled_labels_are_not(history: list[MarketData]) -> None:
    frame = build_dataset(history).frame
    y = frame["label"].to_numpy()
    leaked = frame["net_return"].to_numpy() + np.random.default_rng(1).normal(0, 0.02, len(y))
    assert roc_auc_score(y, leaked) > 0.75
    shuffled = np.random.default_rng(2).permutation(y)
    assert abs(roc_auc_score(shuffled, frame["confidence"].to_numpy()) - 0.5) < 0.05


def test_every_dataset_column_of_a_signal_is_the_same_on_history_cut_after_it(history: list[MarketData]) -> None:
    full = build_dataset(history)
    cut = build_dataset([sliced(d, 0, 4000) for d in history])
    last_bar = min(int(d.candles.sort("open_time")["open_time"][3999]) for d in history)
    keys = ["symbol", "open_time"]
    a = full.frame.filter(pl.col("label_end") <= last_bar).sort(keys)
    b = cut.frame.filter(pl.col("label_end") <= last_bar).sort(keys)
    assert a.height > 300 and a.select(keys).equals(b.select(keys))
    assert np.array_equal(a["net_return"].to_numpy(), b["net_return"].to_numpy())  # labels resolved before the cut
    for name in full.features:  # context (btc_*), side and confidence included
        assert a[name].equals(b[name], check_names=True) or \
            np.allclose(a[name].to_numpy(), b[name].to_numpy(), equal_nan=True, rtol=0, atol=0), name


class EveryBar:
    """The bootstrap rules without their `candidates`: evaluated on every bar."""

    name = "bootstrap"

    def __init__(self) -> None:
        self.rules = BootstrapPolicy()

    def evaluate(self, indicators, event_time):  # type: ignore[no-untyped-def]
        return self.rules.evaluate(indicators, event_time)


def test_evaluating_only_the_policys_candidate_bars_finds_every_signal_of_every_bar() -> None:
    # the whole bundled 1h history (2019-2025): a bar the candidates leave out that would have fired
    # changes this frame
    for symbol in ("BTCUSDT", "ETHUSDT", "XRPUSDT"):
        frame = indicator_frame(bundled(MARKET, symbol, "1h"))
        skipping = policy_signals(frame, symbol, "1h", BootstrapPolicy())
        assert BootstrapPolicy.candidates(frame).mean() < 0.5 and skipping.height > 3000
        assert skipping.equals(policy_signals(frame, symbol, "1h", EveryBar()))
