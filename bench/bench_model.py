"""Serving benchmarks (issue #14), with a model fitted here on the bundled BTCUSDT 1h history
(`engine.learning.model.fit`: HistGradientBoosting or logistic regression, isotonic calibration).

* model_scoring: per-signal scoring as the engine does it (`engine.signals.model.probability`: the
  live feature row in the model's column order, the calibrated `predict_proba`, the range check)
  p99 against a bare `predict_proba` of the same row (a ready 1-row array) with the same fitted
  estimator, interleaved in the same run. Target ratio <= 1.5.
* candle_overhead_model: the engine's cost per closed 1m candle (frame parsed, `Trader.on_candle`)
  with the model policy serving that model (live features on every candle, a scoring on every
  signal candle) against the bootstrap policy alone, on the same 20,000 candles (p50 over all
  candles; signal candles' p50 in `extra`). Report.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from bench.bench_trading import CANDLES, _btc_rules, _frames, _NoVenue
from bench.common import BenchResult, machine_load, percentile
from engine.config import load_settings
from engine.core.clock import ExchangeClock
from engine.core.types import Candle
from engine.execution.book import Book
from engine.execution.desk import Desk
from engine.execution.manager import OrderManager
from engine.execution.pnl import PnlCalculator
from engine.execution.portfolio import Portfolio
from engine.execution.protection import EntrySizing, ProtectionRule
from engine.execution.sync import AccountSync
from engine.execution.trader import Trader
from engine.feeds.parse import parse_frame
from engine.feeds.user_stream import UserStream
from engine.indicators import IndicatorStream
from engine.learning.dataset import build_dataset
from engine.learning.model import fit
from engine.learning.sources import bundled
from engine.risk import RiskManager
from engine.signals import Admission, BootstrapPolicy
from engine.signals.features import FeatureBook, vector
from engine.signals.model import ModelPolicy, ModelSlot, ServedModel, probability
from engine.store import init_store
from engine.store.recorder import TradeRecorder

REPO = Path(__file__).resolve().parent.parent
ROWS = 3000


def run() -> list[BenchResult]:
    logging.getLogger("engine").setLevel(logging.WARNING)
    dataset = build_dataset([bundled(REPO / "data" / "market", "BTCUSDT", "1h")])
    frame = dataset.frame
    fitted = fit(dataset.matrix(), frame["label"].to_numpy(), frame["net_return"].to_numpy(),
                 frame["open_time"].to_numpy(), frame["label_end"].to_numpy(), 49 * 3_600_000)
    served = ServedModel("bench", fitted.model, dataset.features, 1.0)   # threshold 1: nothing is admitted
    return [model_scoring(served, dataset.frame.select(dataset.features).rows(named=True), fitted.kind),
            candle_overhead_model(served)]


def model_scoring(served: ServedModel, rows: list[dict[str, Any]], kind: str) -> BenchResult:
    rows = [{k: (float("nan") if v is None else float(v)) for k, v in r.items()} for r in rows[-ROWS:]]
    ready = [np.asarray([vector(r, served.features)]) for r in rows]
    ours, bare = [], []
    for _ in range(50):  # warm-up
        probability(served, rows[0])
        served.model.predict_proba(ready[0])
    for row, x in zip(rows, ready, strict=True):
        t0 = time.perf_counter_ns()
        probability(served, row)
        t1 = time.perf_counter_ns()
        served.model.predict_proba(x)
        t2 = time.perf_counter_ns()
        ours.append((t1 - t0) / 1000)
        bare.append((t2 - t1) / 1000)
    value, reference = percentile(ours, 99), percentile(bare, 99)
    return BenchResult(name="model_scoring", value=value, unit="us p99", reference="bare predict_proba, same row (p99)",
                       reference_value=reference, higher_is_better=False, target="<= 1.5",
                       extra={"p50_us": percentile(ours, 50), "reference_p50_us": percentile(bare, 50),
                              "rows": len(rows), "model": kind, "features": len(served.features),
                              "load": machine_load()})


def candle_overhead_model(served: ServedModel) -> BenchResult:
    tmp = Path(tempfile.mkdtemp(prefix="bench-model-"))
    try:
        return asyncio.run(_candle_overhead_model(served, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _trader(recorder: TradeRecorder, policy: Any, features: FeatureBook | None) -> Trader:
    clock = ExchangeClock()
    instrument = _btc_rules()
    venue = _NoVenue()
    manager = OrderManager(venue, recorder, clock, {"BTCUSDT": Book("main", "BTCUSDT", instrument, ProtectionRule())},
                           interval_ms=60_000)  # type: ignore[arg-type]
    portfolio = Portfolio("main", PnlCalculator())
    portfolio.on_wallet(Decimal(10_000))
    sync = AccountSync(manager, venue, portfolio, clock)  # type: ignore[arg-type]
    stream = UserStream(venue, "ws://127.0.0.1:9", account="main", handle=sync.on_user_event,  # type: ignore[arg-type]
                        poll=sync.poll)
    return Trader(desks=[Desk("main", manager, portfolio, sync, stream)],
                  streams={"BTCUSDT": IndicatorStream("BTCUSDT", "1m")}, policy=policy,
                  admission=Admission(min_confidence=1.01), risk=RiskManager({"BTCUSDT": instrument}, clock=clock),
                  sizing=EntrySizing(), clock=clock, features=features)


async def _candle_overhead_model(served: ServedModel, tmp: Path) -> BenchResult:
    frames = _frames(CANDLES)
    settings = load_settings({"SLT_DATA_DIR": str(tmp)}, env_file=tmp / "none.env")
    init_store(settings)
    recorder = TradeRecorder(settings).start()
    features = FeatureBook(("BTCUSDT",), "1m")
    slot = ModelSlot()
    slot.current = served           # served as the watch would, after its checks (the bench model's interval is 1h)
    with_model = _trader(recorder, ModelPolicy(features, slot), features)
    without = _trader(recorder, BootstrapPolicy(), None)
    times: dict[str, list[float]] = {"model": [], "bootstrap": []}
    signal_times: list[float] = []
    try:
        for frame in frames:
            for name, trader in (("model", with_model), ("bootstrap", without)):
                t0 = time.perf_counter_ns()
                _, candle = parse_frame(frame, 0)
                assert isinstance(candle, Candle)
                signal = trader.on_candle(candle)
                elapsed = (time.perf_counter_ns() - t0) / 1000
                times[name].append(elapsed)
                if name == "model" and signal is not None:
                    signal_times.append(elapsed)
    finally:
        await recorder.aclose()
    skip = 500
    ours, ref = times["model"][skip:], times["bootstrap"][skip:]
    return BenchResult(
        name="candle_overhead_model", value=percentile(ours, 50), unit="us p50",
        reference="the same candles with the bootstrap policy alone (p50)", reference_value=percentile(ref, 50),
        higher_is_better=False, target="",
        extra={"candles": len(ours), "p99_us": percentile(ours, 99), "reference_p99_us": percentile(ref, 99),
               "mean_us": sum(ours) / len(ours), "reference_mean_us": sum(ref) / len(ref),
               "signals_scored": len(signal_times), "signal_candle_p50_us": percentile(signal_times, 50)
               if signal_times else 0.0, "policy_errors": with_model.policy_errors, "load": machine_load(),
               "path": "parse_frame + Trader.on_candle (FeatureBook.update, ModelPolicy: bootstrap proposal, "
                       "feature row, calibrated predict_proba) against BootstrapPolicy"})
