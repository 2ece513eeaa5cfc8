"""Which signals may trade.

Bootstrap phase (fewer than `BOOTSTRAP_TRADE_LIMIT` closed trades): a signal is admitted when its
confidence ≥ `BOOTSTRAP_MIN_CONFIDENCE` and its win probability ≥ `BOOTSTRAP_MIN_WIN_PROBABILITY`.
After that, the learned model's policy takes over with its own threshold (a signal the served model
scored carries it, `engine.signals.model`: admitted when its win probability is above it); until a champion model
is registered the bootstrap policy keeps trading under the same thresholds and the decision says so
(the health monitor shows it), rather than silently stopping.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.signals.policy import Signal


@dataclass(frozen=True)
class AdmissionDecision:
    admitted: bool
    phase: str          # "bootstrap" or "model"
    reason: str


@dataclass(frozen=True)
class Admission:
    trade_limit: int = 50
    min_confidence: float = 0.25
    min_win_probability: float = 0.20

    def phase(self, closed_trades: int, model_available: bool) -> str:
        return "model" if closed_trades >= self.trade_limit and model_available else "bootstrap"

    def decide(self, signal: Signal, closed_trades: int, *, model_available: bool = False) -> AdmissionDecision:
        if signal.threshold is not None:   # scored by the served model: its calibrated probability decides
            p, t = signal.win_probability, signal.threshold
            return AdmissionDecision(p > t, "model", f"model v{signal.model_version}: win probability {p:.3f} "
                                                     f"{'>' if p > t else '<='} threshold {t:.3f}")
        phase = self.phase(closed_trades, model_available)
        if phase == "bootstrap" and closed_trades >= self.trade_limit:
            note = f"; {closed_trades} trades closed but no champion model is registered"
        else:
            note = ""
        if signal.confidence < self.min_confidence:
            return AdmissionDecision(False, phase, f"confidence {signal.confidence:.3f} < {self.min_confidence}{note}")
        if signal.win_probability < self.min_win_probability:
            return AdmissionDecision(False, phase, f"win probability {signal.win_probability:.3f} < "
                                                   f"{self.min_win_probability}{note}")
        return AdmissionDecision(True, phase, f"confidence {signal.confidence:.3f}, win probability "
                                              f"{signal.win_probability:.3f}{note}")
