"""The engine's own trades in the training data: the store's candles extend the bundled history, the
prediction ledger's closed trades come back with the features they were scored on (a real DuckLake
store), their real outcome replaces the simulated label, and they weigh more in the fit."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import numpy as np
import polars as pl
import pytest

from engine.config import Settings
from engine.core.errors import DataError
from engine.core.types import Candle, ExitReason, Side, SignalOutcome, SignalRecord, TradeEntry, TradeExit
from engine.learning.dataset import Dataset, MarketData, build_dataset
from engine.learning.lake_sources import training_sources
from engine.learning.model import fit
from engine.learning.own import MAX_WEIGHT, merge_own, own_weight
from engine.learning.sources import bundled
from engine.store import connect, init_store
from engine.store.writer import write_records
from tests.learning.conftest import MARKET

HOUR = 3_600_000


@pytest.fixture(scope="module")
def dataset(history: list[MarketData]) -> Dataset:
    return build_dataset(history)


def test_own_weight_grows_with_the_count_and_is_capped() -> None:
    assert own_weight(0) == 1.0 and own_weight(50) == 1.5 and own_weight(10_000) == MAX_WEIGHT


def test_own_trades_replace_labels_and_features_and_weigh_more(dataset: Dataset) -> None:
    frame = dataset.frame
    picked = frame[[10, 200, frame.height - 5]]
    stored = []
    for row in picked.iter_rows(named=True):
        features = {n: row[n] for n in dataset.features}
        features["rsi"] = 12.5                       # what the engine saw differs from the batch value
        features["basis"] = None                     # not recorded live: the batch value stays
        stored.append(json.dumps({k: (None if isinstance(v, float) and math.isnan(v) else v)
                                  for k, v in features.items()}))
    late = int(frame["open_time"].max()) + 10 * HOUR
    own = pl.DataFrame({
        "symbol": [*picked["symbol"], "ETHUSDT"], "open_time": [*picked["open_time"], late],
        "label_end": [*picked["label_end"], late + 5 * HOUR], "features": [*stored, json.dumps({"rsi": 40.0})],
        "net_return": [0.01, -0.02, 0.005, 0.03]})
    merged = merge_own(dataset, own)
    assert merged.rows == dataset.rows + 1 and merged.own_rows == 4
    mine = merged.frame.filter(pl.col("own") == 1).sort("open_time")
    assert mine["label"].to_list() == [1, 0, 1, 1] and mine["net_return"].to_list() == [0.01, -0.02, 0.005, 0.03]
    assert mine["rsi"].to_list() == [12.5, 12.5, 12.5, 40.0]
    assert mine["basis"][:3].to_list() == picked["basis"].to_list()
    assert math.isnan(mine["adx"][3])                # a new row: what it lacks is NaN
    assert set(mine["weight"]) == {own_weight(4)} and set(merged.frame.filter(pl.col("own") == 0)["weight"]) == {1.0}
    assert merged.frame["open_time"].is_sorted()
    untouched = merge_own(dataset, own.head(0))
    assert untouched.rows == dataset.rows and untouched.own_rows == 0
    with pytest.raises(ValueError, match="features, net_return"):
        merge_own(dataset, own.drop("features", "net_return"))


def test_weights_reach_the_fit(dataset: Dataset) -> None:
    frame = dataset.frame
    x, y, net = dataset.matrix(), frame["label"].to_numpy(), frame["net_return"].to_numpy()
    t, end = frame["open_time"].to_numpy(), frame["label_end"].to_numpy()
    plain = fit(x, y, net, t, end, 49 * HOUR)
    weight = np.where(y == 1, 5.0, 1.0)               # winners weigh more: the fit must notice
    weighted = fit(x, y, net, t, end, 49 * HOUR, weight=weight)
    assert weighted.probability(x[:500]).mean() > plain.probability(x[:500]).mean()


def test_the_store_extends_the_history_and_gives_the_engine_s_own_trades(settings: Settings) -> None:
    init_store(settings)
    base = bundled(MARKET, "BTCUSDT", "1h")
    last = base.candles.sort("open_time").tail(30)
    shift = 30 * HOUR
    candles = [Candle("BTCUSDT", "1h", t + shift, t + shift + HOUR - 1, o, h, lo, c, v, event_time=t + shift + HOUR)
               for t, o, h, lo, c, v in last.select("open_time", "open", "high", "low", "close", "volume").rows()]
    at = candles[5].open_time
    row = {"rsi": 55.0, "side": 1.0, "confidence": 0.4}
    signal = SignalRecord("s1", "signal-model", "BTCUSDT", "1h", Side.BUY, 0.4, 0.41, 100_000.0, 500.0, True, "model",
                          "ok", at, at + HOUR, at + HOUR, model_version="3", features=json.dumps(row))
    untaken = SignalRecord("s2", "bootstrap", "BTCUSDT", "1h", Side.SELL, 0.3, 0.4, 100_000.0, 500.0, False,
                           "bootstrap", "no", at + HOUR, at + 2 * HOUR, at + 2 * HOUR, features=json.dumps(row))
    entry = TradeEntry("t1", "main", "BTCUSDT", Side.BUY, Decimal("0.01"), Decimal("100000"), Decimal("0.5"),
                       signal_id="s1", event_time=at + HOUR)
    exit_ = TradeExit("t1", "main", "BTCUSDT", Decimal("0.01"), Decimal("101000"), Decimal("10"), Decimal("0.5"),
                      Decimal("0"), ExitReason.TAKE_PROFIT, event_time=at + 6 * HOUR)
    with connect(settings) as lake:
        write_records(lake, [*candles, signal, untaken, entry, exit_,
                             SignalOutcome("s2", "BTCUSDT", -0.01, 0, at + 9 * HOUR)])
    found = training_sources(settings, ("BTCUSDT",), "1h", MARKET)
    assert found.store_candles == 30 and found.history[0].candles.height == base.candles.height + 30
    assert found.own_trades == 1 and "30 candles beyond the bundled history, 1 own closed trades" in found.note
    own = found.own.row(0, named=True)
    assert (own["symbol"], own["open_time"], own["label_end"], own["model_version"]) == ("BTCUSDT", at, at + 6 * HOUR,
                                                                                         "3")
    # the exit carries the round trip's fees
    assert own["net_return"] == pytest.approx((10 - 0.5) / 1000) and json.loads(own["features"]) == row
    alone = training_sources(Settings(data_dir=settings.data_dir / "elsewhere"), ("BTCUSDT",), "1h", MARKET)
    assert alone.own_trades == 0 and alone.note.startswith("no store") and alone.store_candles == 0
    assert merge_own(Dataset(pl.DataFrame(schema={"symbol": pl.String}), []), alone.own).own_rows == 0
    with pytest.raises(DataError, match="no candles for BTCUSDT 1m"):    # neither a file nor stored bars
        training_sources(settings, ("BTCUSDT",), "1m", MARKET)
