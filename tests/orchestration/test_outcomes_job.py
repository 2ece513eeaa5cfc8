"""The prediction ledger resolves the signals no trade took: on real 1m candles in a real DuckLake
store, the outcome drift-check writes for each signal equals the training dataset's label of the same
signal (same exits, same code), a signal whose window has not closed stays pending, a taken signal is
left to its trade, and a rerun writes nothing twice."""

from __future__ import annotations

import polars as pl
import pytest

from engine.config import Settings
from engine.core.clock import wall_ms
from engine.core.types import Side, SignalRecord, TradeEntry
from engine.jobs import outcomes
from engine.learning.dataset import MarketData, symbol_rows
from engine.learning.labels import ExitSpec
from engine.store import connect, open_store
from engine.store.reader import query
from engine.store.writer import write_records
from tests.orchestration.data import market_candles, store_candles

EXITS = ExitSpec(max_hold_bars=30)


def test_outcomes_equal_the_dataset_labels_and_a_rerun_adds_nothing(settings: Settings) -> None:
    from decimal import Decimal

    candles = market_candles("ETHUSDT", 30)
    store_candles(settings, candles)
    frame = pl.DataFrame({"open_time": [c.open_time for c in candles], "open": [c.open for c in candles],
                          "high": [c.high for c in candles], "low": [c.low for c in candles],
                          "close": [c.close for c in candles], "volume": [c.volume for c in candles]})
    empty_mark = pl.DataFrame(schema={"open_time": pl.Int64, "close": pl.Float64})
    empty_funding = pl.DataFrame(schema={"open_time": pl.Int64, "funding_rate": pl.Float64})
    rows = symbol_rows(MarketData("ETHUSDT", "1m", frame, empty_mark, empty_funding), EXITS)
    assert rows.height > 50
    signals = [SignalRecord(f"s{i}", "bootstrap", "ETHUSDT", "1m", Side.BUY if r["side"] > 0 else Side.SELL,
                            r["confidence"], 0.4, r["close"], r["atr"], False, "bootstrap", "test", r["open_time"],
                            r["open_time"] + 60_000, r["open_time"] + 60_000)
               for i, r in enumerate(rows.iter_rows(named=True))]
    last = candles[-1].open_time
    late = SignalRecord("late", "bootstrap", "ETHUSDT", "1m", Side.BUY, 0.5, 0.4, candles[-5].close, 5.0, False,
                        "bootstrap", "test", candles[-5].open_time, last, last)
    taken = signals[0]
    with open_store(settings) as lake:
        write_records(lake, [*signals, late, TradeEntry("t0", "main", "ETHUSDT", taken.side, Decimal("1"),
                                                        Decimal("1800"), Decimal("0.1"), signal_id=taken.signal_id,
                                                        event_time=taken.event_time)])
    with connect(settings, read_only=True) as lake:
        pending = outcomes.pending_signals(lake, "1m")
        assert {s.signal_id for s in pending} == {s.signal_id for s in signals[1:]} | {"late"}
        after = outcomes.candles_after(lake, pending, "1m", EXITS)
    found = outcomes.label_outcomes(pending, after, EXITS, "1m", wall_ms())
    by_id = {o.signal_id: o for o in found}
    assert "late" not in by_id and len(by_id) == len(signals) - 1    # not resolved yet; the taken one is its trade's
    expected = dict(zip((s.signal_id for s in signals), rows["net_return"].to_list(), strict=True))
    for signal_id, outcome in by_id.items():
        assert outcome.net_return == pytest.approx(expected[signal_id], rel=1e-12, abs=1e-15)
        assert outcome.label == int(outcome.net_return > 0)
    with open_store(settings) as lake:
        assert write_records(lake, found).inserted == len(found)
        assert write_records(lake, found).inserted == 0
    with connect(settings, read_only=True) as lake:
        assert {s.signal_id for s in outcomes.pending_signals(lake, "1m")} == {"late"}
        ledger = query(lake, "SELECT source, resolved, count(*) AS n FROM lake.prediction_ledger "
                             "GROUP BY ALL ORDER BY ALL")
    assert {(r["source"], r["resolved"]): r["n"] for r in ledger} == {("label", True): len(found), ("label", False): 1,
                                                                        ("trade", False): 1}
