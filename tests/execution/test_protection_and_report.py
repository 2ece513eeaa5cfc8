"""Protective prices, entry sizing and the PnL report (pure)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from engine.cli.pnl import render
from engine.core.types import ExitReason, Fill, FundingPayment, Position, Side, TradeExit
from engine.execution.protection import EntrySizing, ProtectionRule
from engine.execution.report import TOTAL, pnl_report
from tests.risk.builders import BTC


def test_protective_prices_sit_on_the_tick_grid_away_from_the_entry() -> None:
    rule = ProtectionRule(D("1.5"), D("3"))
    assert rule.prices(Side.BUY, D("60000.0"), 33.33, BTC) == (D("59950.0"), D("60100.0"))
    assert rule.prices(Side.SELL, D("60000.0"), 33.33, BTC) == (D("60050.0"), D("59900.0"))
    assert rule.prices(Side.BUY, D("60000.0"), 0.001, BTC) == (D("59999.9"), D("60000.1"))  # at least a tick away
    with pytest.raises(ValueError, match="ATR > 0"):
        rule.prices(Side.BUY, D("60000"), float("nan"), BTC)
    with pytest.raises(ValueError, match="multiples must be > 0"):
        ProtectionRule(D("0"), D("3"))


def test_entry_size_is_a_fraction_of_equity_times_capped_leverage() -> None:
    sizing = EntrySizing(D("0.05"), 3)
    assert sizing.quantity(D("10000"), D("60000")) == (D("0.025"), 3)
    assert sizing.quantity(D("10000"), D("60000"), max_leverage=2) == (D("10000") * D("0.05") * 2 / D("60000"), 2)
    assert sizing.quantity(D("0"), D("60000"))[0] == 0


def test_pnl_report_sums_exactly_per_symbol_and_account() -> None:
    fills = [Fill("main", "BTCUSDT", "1", "c", "1", Side.BUY, D("0.01"), D("60000"), D("0.3"), "USDT"),
             Fill("main", "BTCUSDT", "2", "c", "2", Side.SELL, D("0.01"), D("60100"), D("0.3005"), "USDT", D("1")),
             Fill("main", "ETHUSDT", "3", "c", "3", Side.BUY, D("1"), D("2000"), D("1"), "USDT")]
    funding = [FundingPayment("main", "ETHUSDT", "9", D("-0.02"))]
    positions = [Position("main", "ETHUSDT", D("1"), D("2000"), D("2010"), D("10"))]
    exits = [TradeExit("t1", "main", "BTCUSDT", D("0.01"), D("60100"), D("1"), D("0.6005"), D("0"), ExitReason.SIGNAL)]
    report = pnl_report(fills, funding, positions, exits)
    btc, eth, total = report.lines
    assert (btc.realized, btc.fees, btc.net, btc.trades, btc.win_rate) == (D("1"), D("0.6005"), D("0.3995"), 1, 1.0)
    assert (eth.funding, eth.net, eth.unrealized, eth.position, eth.win_rate) == (D("-0.02"), D("-1.02"), D("10"),
                                                                                  D("1"), None)
    assert total.symbol == TOTAL and total.net == D("-0.6205") and total.unrealized == D("10")
    assert "-0.62050000" in render(report) and render(pnl_report([], [], [], [])).endswith("recorded yet)")


def test_funding_is_asked_for_only_when_a_settlement_fell_inside_the_trade() -> None:
    from engine.execution.funding import FundingLedger
    ledger = FundingLedger()
    assert ledger.must_ask("BTCUSDT", 100, 200)                  # nothing announced yet: ask
    ledger.announce("BTCUSDT", 1_000, seen_at=50)
    assert not ledger.must_ask("BTCUSDT", 100, 900)              # no settlement inside
    assert ledger.must_ask("BTCUSDT", 900, 1_100)                # the 1,000 settlement may have paid
    assert ledger.must_ask("BTCUSDT", 10, 20)                    # opened before the schedule was known
    ledger.add([FundingPayment("main", "BTCUSDT", "7", D("-0.4"), event_time=1_000)])
    ledger.read_to(["BTCUSDT"], 1_100)
    assert not ledger.must_ask("BTCUSDT", 900, 1_100) and ledger.total("BTCUSDT", 900, 1_100) == D("-0.4")
    assert ledger.add([FundingPayment("main", "BTCUSDT", "7", D("-0.4"), event_time=1_000)]) == []
