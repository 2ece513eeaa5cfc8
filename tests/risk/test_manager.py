"""RiskManager: the table, regimes per symbol, the kill switch on the order path, the report."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from engine.config import ConfigError, load_settings
from engine.core.clock import ManualClock
from engine.core.errors import DataError
from engine.core.types import Position, Side
from engine.risk import (
    RISK_TABLE,
    AccountState,
    KillSwitch,
    OrderRequest,
    Regime,
    RegimeReading,
    RejectReason,
    RiskManager,
    get_risk_parameters,
    most_conservative,
)
from engine.risk.kill_switch import DAY_MS
from engine.wiring import risk_manager
from tests.risk.builders import BTC, ETH

DAY0 = 19_700 * DAY_MS


def reading(symbol: str, regime: Regime, end: int = DAY0) -> RegimeReading:
    return RegimeReading(symbol, "1h", regime, -20.0 if regime is Regime.CRASH else 0.0, 3.0, 100.0, 80.0,
                         end - 86_400_000, end, 24)


def manager(clock: ManualClock | None = None, limit: str = "0.05") -> RiskManager:
    return RiskManager({"BTCUSDT": BTC, "ETHUSDT": ETH}, clock=clock or ManualClock(DAY0),
                       kill_switch=KillSwitch(D(limit)))


STATE = AccountState(D("10000"), (Position("a", "BTCUSDT", D("0.01"), D("60000"), mark_price=D("60000")),),
                     prices={"BTCUSDT": D("60000"), "ETHUSDT": D("2000")})


@pytest.mark.parametrize(("regime", "row"), [
    (Regime.NORMAL, ("1.0", 20, "0.50", 5)),
    (Regime.HIGH_VOLATILITY, ("0.6", 10, "0.30", 3)),
    (Regime.LOW_VOLATILITY, ("1.2", 25, "0.60", 6)),
    (Regime.CRASH, ("0.3", 5, "0.20", 2)),
    (Regime.RALLY, ("0.8", 15, "0.40", 4)),
])
def test_the_table_is_the_originals(regime: Regime, row: tuple[str, int, str, int]) -> None:
    p = get_risk_parameters(regime)
    assert (p.risk_multiplier, p.max_leverage, p.position_ratio, p.max_concurrent_orders) == (
        D(row[0]), row[1], D(row[2]), row[3])


def test_most_conservative_regime() -> None:
    assert most_conservative([Regime.RALLY, Regime.HIGH_VOLATILITY, Regime.LOW_VOLATILITY]) is Regime.HIGH_VOLATILITY
    assert most_conservative([Regime.NORMAL, Regime.CRASH]) is Regime.CRASH
    assert most_conservative([]) is Regime.NORMAL


def test_regimes_per_symbol_with_a_default_and_a_book_view() -> None:
    risk = manager()
    assert risk.regime("BTCUSDT") is Regime.NORMAL and risk.get_risk_parameters().max_leverage == 20
    assert risk.update_regime(reading("BTCUSDT", Regime.CRASH))
    assert not risk.update_regime(reading("BTCUSDT", Regime.RALLY, end=DAY0 - 3_600_000))   # older: ignored
    risk.update_regime(reading("ETHUSDT", Regime.RALLY))
    assert risk.regime("BTCUSDT") is Regime.CRASH and risk.regime("ETHUSDT") is Regime.RALLY
    assert risk.regime("XRPUSDT") is Regime.NORMAL and risk.regime() is Regime.CRASH
    assert risk.get_risk_parameters("ETHUSDT") == RISK_TABLE[Regime.RALLY]


def test_decide_applies_the_symbols_regime() -> None:
    risk = manager()
    risk.update_regime(reading("BTCUSDT", Regime.CRASH))
    d = risk.decide(OrderRequest("BTCUSDT", Side.BUY, D("0.01"), D("60000"), leverage=10), STATE)
    assert d.approved and d.quantity == D("0.003") and d.leverage == 5 and d.regime is Regime.CRASH


def test_kill_switch_blocks_entries_not_exits_until_the_next_utc_day() -> None:
    clock = ManualClock(DAY0 + 3_600_000)
    risk = manager(clock)
    risk.observe_equity(D("10000"), DAY0 + 1000)
    status = risk.observe_equity(D("9400"), DAY0 + 2000)
    assert not status.entries_allowed
    entry = risk.decide(OrderRequest("BTCUSDT", Side.BUY, D("0.01"), D("60000")), STATE)
    assert entry.reason is RejectReason.KILL_SWITCH and "daily drawdown 6.00%" in entry.detail
    exit_ = risk.decide(OrderRequest("BTCUSDT", Side.SELL, D("0.01"), D("60000"), reduce_only=True), STATE)
    assert exit_.approved and exit_.quantity == D("0.010")
    clock.set_ms(DAY0 + DAY_MS)
    assert risk.decide(OrderRequest("BTCUSDT", Side.BUY, D("0.01"), D("60000")), STATE).approved


def test_unknown_symbol_is_rejected() -> None:
    d = manager().decide(OrderRequest("DOGEUSDT", Side.BUY, D("10"), D("0.1")), STATE)
    assert d.reason is RejectReason.UNKNOWN_SYMBOL and "DOGEUSDT" in d.detail


def test_adjust_position_size_is_the_original_api_on_the_last_snapshot() -> None:
    risk = manager()
    with pytest.raises(DataError, match="update_account"):
        risk.adjust_position_size(D("0.01"), "BTCUSDT")
    risk.update_account(STATE)
    risk.update_regime(reading("BTCUSDT", Regime.CRASH))
    assert risk.adjust_position_size(D("0.01"), "BTCUSDT") == D("0.003")        # 0.01 x 0.3
    assert risk.adjust_position_size(D("0.001"), "BTCUSDT") == 0                # 0.0003: below one lot
    with pytest.raises(DataError, match="no price for XRPUSDT"):
        risk.adjust_position_size(D("10"), "XRPUSDT")


def test_report_is_json_ready_and_complete() -> None:
    clock = ManualClock(DAY0 + 7_200_000)
    risk = manager(clock)
    risk.update_regime(reading("BTCUSDT", Regime.CRASH))
    risk.decide(OrderRequest("BTCUSDT", Side.BUY, D("0.01"), D("60000")), STATE)
    risk.decide(OrderRequest("DOGEUSDT", Side.BUY, D("1"), D("1")), STATE)
    report = risk.report()
    assert report.book_regime is Regime.CRASH and report.regime_age_s == {"BTCUSDT": 7200.0}
    assert report.parameters["BTCUSDT"].max_leverage == 5 and report.parameters["*"].max_leverage == 20
    assert report.decisions == {"approved": 1, "rejected:unknown_symbol": 1}
    data = json.loads(json.dumps(report.as_dict()))
    assert data["regimes"]["BTCUSDT"]["change_pct"] == -20.0 and data["kill_switch"]["limit"] == "0.05"
    assert len(data["table"]) == 5 and data["recent_rejections"][0]["reason"] == "unknown_symbol"


def test_max_daily_drawdown_setting(tmp_path: Path) -> None:
    none = tmp_path / "none"
    assert load_settings({}, env_file=none).max_daily_drawdown == 0.05
    settings = load_settings({"SLT_MAX_DAILY_DRAWDOWN": "0.1"}, env_file=none)
    assert risk_manager(settings, {}, ManualClock()).kill_switch.limit == D("0.1")
    for bad in ("0", "1.5", "five"):
        with pytest.raises(ConfigError, match=f"SLT_MAX_DAILY_DRAWDOWN='{bad}' is not allowed: expected a fraction"):
            load_settings({"SLT_MAX_DAILY_DRAWDOWN": bad}, env_file=none)
