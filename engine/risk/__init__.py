"""Regime-aware risk: regime detection, the risk table, order sizing, the kill switch (all pure)."""

from engine.risk.kill_switch import KillSwitch, KillSwitchStatus, Trip, TripKind
from engine.risk.manager import RiskManager, RiskReport
from engine.risk.parameters import (
    RISK_TABLE,
    RiskParameters,
    get_risk_parameters,
    most_conservative,
)
from engine.risk.regime import (
    DEFAULT_THRESHOLDS,
    InsufficientHistory,
    Regime,
    RegimeReading,
    RegimeThresholds,
    check_time,
    classify,
    detect_regime,
    next_check_time,
    regime_checks,
)
from engine.risk.sizing import (
    AccountState,
    OrderRequest,
    RejectReason,
    SizingDecision,
    exposure,
    size_order,
)

__all__ = [
    "DEFAULT_THRESHOLDS",
    "RISK_TABLE",
    "AccountState",
    "InsufficientHistory",
    "KillSwitch",
    "KillSwitchStatus",
    "OrderRequest",
    "Regime",
    "RegimeReading",
    "RegimeThresholds",
    "RejectReason",
    "RiskManager",
    "RiskParameters",
    "RiskReport",
    "SizingDecision",
    "Trip",
    "TripKind",
    "check_time",
    "classify",
    "detect_regime",
    "exposure",
    "get_risk_parameters",
    "most_conservative",
    "next_check_time",
    "regime_checks",
    "size_order",
]
