from __future__ import annotations

import math
from pathlib import Path

import msgspec
import polars as pl
import pytest

from engine.core.types import Candle, Side
from engine.indicators import AdxGrade, Indicators, IndicatorStream, MacdCross, RsiSignal, Trend
from engine.signals import Admission, BootstrapPolicy, Signal, safe_evaluate
from engine.signals.bootstrap import win_probability

DATA = Path(__file__).resolve().parents[2] / "data" / "market" / "BTCUSDT-perp-klines-1h.parquet"


@pytest.fixture(scope="module")
def snapshots() -> list[Indicators]:
    frame = pl.read_parquet(DATA).slice(20_000, 3_000)
    stream = IndicatorStream("BTCUSDT", "1h")
    out = []
    for row in frame.iter_rows(named=True):
        t = row["open_time"]
        out.append(stream.update(Candle("BTCUSDT", "1h", t, t + 3_599_999, row["open"], row["high"], row["low"],
                                        row["close"], row["volume"])))
    return out


def test_signals_on_real_history_are_sane_and_deterministic(snapshots: list[Indicators]) -> None:
    policy = BootstrapPolicy()
    signals = [s for ind in snapshots if (s := policy.evaluate(ind, ind.open_time + 3_600_000))]
    assert 50 < len(signals) < len(snapshots) / 2          # fires on events, not every bar
    assert {s.side for s in signals} == {Side.BUY, Side.SELL}
    assert all(0 <= s.confidence <= 1 and 0.3 <= s.win_probability <= 0.7 and s.atr > 0 for s in signals)
    assert len({s.signal_id for s in signals}) == len(signals)
    again = [s for ind in snapshots if (s := policy.evaluate(ind, ind.open_time + 3_600_000))]
    assert again == signals
    admitted = [s for s in signals if Admission().decide(s, closed_trades=0).admitted]
    assert 0 < len(admitted) < len(signals)


def test_no_signal_before_warm_up(snapshots: list[Indicators]) -> None:
    assert all(BootstrapPolicy().evaluate(ind, 0) is None for ind in snapshots[:30])


def test_confidence_counts_agreeing_evidence(snapshots: list[Indicators]) -> None:
    ind = next(i for i in snapshots if i.ready and i.ict is not None)
    bullish = ind._replace(ema_trend=Trend.BULLISH, macd_cross=MacdCross.BULLISH, adx_signal=AdxGrade.STRONG,
                           rsi=60.0, rsi_signal=RsiSignal.NEUTRAL, ict=ind.ict._replace(trend=1, bos=1, choch=0,  # type: ignore[union-attr]
                                                                      fvg_bull_bottom=math.nan,
                                                                      fvg_bear_top=math.nan))
    confidence, reasons = BootstrapPolicy.confidence(bullish, Side.BUY)
    assert confidence == pytest.approx(0.25 + 0.15 + 0.15 + 0.10 + 0.15 + 0.10)
    assert reasons == ("ema_trend", "ict_structure", "macd_cross", "ict_bos", "adx_strong", "rsi_momentum")
    against, _ = BootstrapPolicy.confidence(bullish, Side.SELL)
    assert against == pytest.approx(0.15)  # only ADX strength, which has no direction
    signal = BootstrapPolicy().evaluate(bullish, 1)
    assert signal is not None and signal.side is Side.BUY and signal.win_probability == win_probability(confidence)


def test_admission_thresholds_and_phase() -> None:
    base = Signal("s", "bootstrap", "BTCUSDT", "1m", Side.BUY, 0.3, 0.4, 100.0, 1.0, 0, 0)
    gate = Admission(trade_limit=2, min_confidence=0.25, min_win_probability=0.2)
    assert gate.decide(base, 0).admitted
    assert not gate.decide(msgspec.structs.replace(base, confidence=0.2), 0).admitted
    low_win = gate.decide(msgspec.structs.replace(base, win_probability=0.1), 0)
    assert not low_win.admitted and "win probability 0.100 < 0.2" in low_win.reason
    assert gate.decide(base, 5, model_available=True).phase == "model"
    late = gate.decide(base, 5)
    assert late.phase == "bootstrap" and "no champion model" in late.reason


class Broken:
    name = "broken"

    def __init__(self, result: object) -> None:
        self.result = result

    def evaluate(self, indicators: Indicators, event_time: int) -> Signal | None:
        if isinstance(self.result, Exception):
            raise self.result
        return self.result  # type: ignore[return-value]


def test_safe_evaluate_turns_model_failures_into_no_signal(snapshots: list[Indicators]) -> None:
    ind = snapshots[-1]
    signal, error = safe_evaluate(Broken(RuntimeError("boom")), ind, 0)
    assert signal is None and error is not None and "RuntimeError: boom" in error
    nan = Signal("s", "m", "BTCUSDT", "1h", Side.BUY, float("nan"), 0.5, 100.0, 1.0, 0, 0)
    signal, error = safe_evaluate(Broken(nan), ind, 0)
    assert signal is None and "confidence=nan" in error  # type: ignore[operator]
    assert safe_evaluate(Broken(None), ind, 0) == (None, None)
