"""The engine's live features (engine.signals.features) equal the training dataset's batch columns:
real candles replayed through `IndicatorStream` and `FeatureStream` give, at every bar after warm-up,
the values `engine.learning.dataset.market_features` computes on the same bars."""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from engine.core.types import Candle
from engine.indicators import IndicatorStream
from engine.learning import dataset
from engine.learning.dataset import MarketData, market_features
from engine.signals.features import EXTRA_FEATURES, FeatureBook, FeatureStream, FundingState, feature_names

EXCLUDED = {"funding_rate", "basis"}   # fed from the mark-price stream live (tested separately)


def _candles(data: MarketData) -> list[Candle]:
    rows = data.candles.sort("open_time").select("open_time", "open", "high", "low", "close", "volume").rows()
    return [Candle(data.symbol, data.interval, t, t + 3_599_999, o, h, lo, c, v) for t, o, h, lo, c, v in rows]


def test_feature_names_are_the_datasets() -> None:
    for context in (False, True):
        assert feature_names(context=context) == dataset.feature_names(context=context)


def test_live_features_equal_the_batch_columns(history: list[MarketData]) -> None:
    data = history[1]   # ETHUSDT, 6000 real 1h bars
    data = MarketData(data.symbol, data.interval, data.candles.sort("open_time")[:4000], data.mark, data.funding)
    batch = market_features(data)
    stream, features = IndicatorStream(data.symbol, data.interval), FeatureStream(data.symbol, data.interval)
    live = []
    for candle in _candles(data):
        live.append(features.update(candle, stream.update(candle)))
    names = [n for n in (*dataset.BAR_FEATURES, *EXTRA_FEATURES) if n not in EXCLUDED]
    compared = 0
    for i in range(600, len(live)):   # after every warm-up (168 bars, 21 days)
        for name in names:
            want, got = batch[name][i], live[i][name]
            if want is None or (isinstance(want, float) and math.isnan(want)):
                assert math.isnan(got), (i, name, got)
            else:
                assert got == pytest_approx(want), (i, name, got, want)
            compared += 1
    assert compared > 150_000


def pytest_approx(value: float) -> object:
    import pytest
    return pytest.approx(value, rel=1e-9, abs=1e-12)


def test_funding_in_force_is_the_last_settled_rate() -> None:
    funding = FundingState()
    funding.on_mark(0.0001, 8 * 3_600_000, 1_000)
    assert math.isnan(funding.at(8 * 3_600_000))           # announced, not settled yet
    funding.on_mark(0.0002, 16 * 3_600_000, 8 * 3_600_000 + 1_000)
    assert funding.at(8 * 3_600_000) == 0.0001
    assert math.isnan(funding.at(8 * 3_600_000 - 1))


def test_context_columns_come_from_btc_on_the_same_bar(history: list[MarketData]) -> None:
    btc, eth = history[0], history[1]
    book = FeatureBook(("BTCUSDT", "ETHUSDT"), "1h")
    assert book.names == feature_names(context=True)
    streams = {s: IndicatorStream(s, "1h") for s in ("BTCUSDT", "ETHUSDT")}
    pairs = list(zip(_candles(btc)[:400], _candles(eth)[:400], strict=True))
    for b, e in pairs:
        book.update(e, streams["ETHUSDT"].update(e))
        early = book.row("ETHUSDT", 1, 0.5)      # BTC's bar has not arrived yet
        book.update(b, streams["BTCUSDT"].update(b))
    assert math.isnan(early["btc_ret_4"])
    row = book.row("ETHUSDT", -1, 0.4)
    assert row["btc_ret_4"] == book.streams["BTCUSDT"].last["ret_4"]
    assert row["side"] == -1.0 and row["confidence"] == 0.4
    assert set(row) == set(book.names)
    assert FeatureBook(("ETHUSDT",), "1h").names == feature_names(context=False)
    np.testing.assert_equal(len(book.names), len(set(book.names)))
    assert pl  # polars imported for the fixtures' frames


def test_rolling_std_is_nan_while_a_nan_is_in_the_window_and_exact_after_refreshes() -> None:
    import statistics

    from engine.signals.features import RollingStd

    rolling = RollingStd(5)
    values = [0.001 * ((i * 7919) % 13 - 6) for i in range(2000)]
    values[100] = math.nan
    out = [rolling.push(v) for v in values]
    assert all(math.isnan(x) for x in out[:4]) and all(math.isnan(x) for x in out[100:105])
    for i in (4, 99, 105, 1999):
        assert out[i] == pytest_approx(statistics.stdev(values[i - 4:i + 1]))
