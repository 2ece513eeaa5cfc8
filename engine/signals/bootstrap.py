"""The rule-based bootstrap policy: trades while there is no learned model yet.

It fires only on an *event* of the closed bar — a MACD histogram cross or an ICT break (BOS or
CHoCH) — and takes the event's direction. The confidence is the sum of the evidence that agrees
with that direction (weights below, capped to [0, 1]):

| evidence (for a long; mirrored for a short)        | weight |
|----------------------------------------------------|--------|
| EMA trend bullish (fast above slow)                | 0.25   |
| ICT market structure bullish (trend +1)            | 0.15   |
| MACD histogram crossed up on this bar              | 0.15   |
| ICT bullish break on this bar (BOS 0.10, CHoCH 0.15) | 0.10/0.15 |
| ADX strong or very strong (trend worth following)  | 0.15   |
| RSI between 45 and 70 (momentum, not exhausted)    | 0.10   |
| close inside or above an unfilled bullish FVG      | 0.05   |
| RSI overbought (long into exhaustion)              | -0.20  |
| ADX weak (no trend)                                | -0.10  |

The win probability is a prior, not a measurement: 0.5 + 0.4 * (confidence - 0.5), i.e. 0.3 at
no evidence and 0.7 at full agreement. The learned model replaces both with calibrated numbers.
No signal before every indicator has warmed up.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from engine.core.types import Side
from engine.indicators import AdxGrade, Indicators, MacdCross, RsiSignal, Trend
from engine.signals.policy import Signal, new_signal


class BootstrapPolicy:
    name = "bootstrap"

    def evaluate(self, indicators: Indicators, event_time: int) -> Signal | None:
        if not indicators.ready or indicators.ict is None:
            return None
        side = self._event_side(indicators)
        if side is None:
            return None
        confidence, reasons = self.confidence(indicators, side)
        return new_signal(self.name, indicators, side, confidence, win_probability(confidence), event_time, reasons)

    @staticmethod
    def candidates(frame: pl.DataFrame) -> np.ndarray:
        """The bars with an event (a MACD histogram cross or an ICT break), where `evaluate` may
        fire: the previous bar's histogram against this one's, as `macd_cross` compares them."""
        hist = frame["macd_hist"].cast(pl.Float64).fill_null(float("nan")).to_numpy()
        previous = np.concatenate(([np.nan], hist[:-1]))
        with np.errstate(invalid="ignore"):
            cross = ((previous <= 0.0) & (hist > 0.0)) | ((previous >= 0.0) & (hist < 0.0))
        breaks = (frame["ict_bos"].fill_null(0).to_numpy() != 0) | (frame["ict_choch"].fill_null(0).to_numpy() != 0)
        return np.asarray(cross | breaks, dtype=bool)

    @staticmethod
    def _event_side(ind: Indicators) -> Side | None:
        ict = ind.ict
        assert ict is not None
        votes = 0
        votes += {MacdCross.BULLISH: 1, MacdCross.BEARISH: -1}.get(ind.macd_cross, 0)
        votes += ict.bos + ict.choch
        if votes > 0:
            return Side.BUY
        if votes < 0:
            return Side.SELL
        return None

    @staticmethod
    def confidence(ind: Indicators, side: Side) -> tuple[float, tuple[str, ...]]:
        ict = ind.ict
        assert ict is not None
        s = side.sign
        bull = s > 0
        evidence: list[tuple[str, float]] = []
        if ind.ema_trend == (Trend.BULLISH if bull else Trend.BEARISH):
            evidence.append(("ema_trend", 0.25))
        if ict.trend == s:
            evidence.append(("ict_structure", 0.15))
        if ind.macd_cross == (MacdCross.BULLISH if bull else MacdCross.BEARISH):
            evidence.append(("macd_cross", 0.15))
        if ict.choch == s:
            evidence.append(("ict_choch", 0.15))
        elif ict.bos == s:
            evidence.append(("ict_bos", 0.10))
        if ind.adx_signal in (AdxGrade.STRONG, AdxGrade.VERY_STRONG):
            evidence.append(("adx_strong", 0.15))
        elif ind.adx_signal == AdxGrade.WEAK:
            evidence.append(("adx_weak", -0.10))
        momentum = (45.0 <= ind.rsi < 70.0) if bull else (30.0 < ind.rsi <= 55.0)
        if momentum:
            evidence.append(("rsi_momentum", 0.10))
        if ind.rsi_signal == (RsiSignal.OVERBOUGHT if bull else RsiSignal.OVERSOLD):
            evidence.append(("rsi_exhausted", -0.20))
        bottom = ict.fvg_bull_bottom if bull else ict.fvg_bear_top
        if not math.isnan(bottom) and (ind.close >= bottom if bull else ind.close <= bottom):
            evidence.append(("fvg_support", 0.05))
        total = sum(weight for _, weight in evidence)
        return min(1.0, max(0.0, round(total, 10))), tuple(name for name, _ in evidence)


def win_probability(confidence: float) -> float:
    return 0.5 + 0.4 * (confidence - 0.5)
