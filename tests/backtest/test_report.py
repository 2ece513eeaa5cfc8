"""The report's figures on hand-made trades and equity curves."""

from __future__ import annotations

import math
from decimal import Decimal as D

import pytest

from engine.backtest.report import Trade, curve_stats, drawdown, trade_stats

HOUR = 3_600_000


def trade(net: str, *, fees: str = "0", funding: str = "0", symbol: str = "BTCUSDT", regime: str = "NORMAL") -> Trade:
    realized = D(net) + D(fees) - D(funding)
    return Trade("t", "main", symbol, "BUY", D(1), D(100), D(101), 0, HOUR, realized, D(fees), D(funding), "stop_loss",
                 regime)


def test_trade_figures_count_net_after_fees_and_funding() -> None:
    stats = trade_stats([trade("10", fees="1", funding="-0.5"), trade("-5", fees="1"), trade("-2.5"), trade("7.5")])
    assert stats.trades == 4 and stats.wins == 2
    assert stats.net_pnl == D("10") and stats.expectancy == D("2.5")
    assert stats.win_rate == 0.5
    assert stats.profit_factor == pytest.approx(17.5 / 7.5)
    assert stats.fees == D(2) and stats.funding == D("-0.5")
    assert trade_stats([trade("3")]).profit_factor is None  # no losing trade
    assert trade_stats([]).trades == 0


def test_drawdown_depth_and_duration_until_the_peak_is_regained() -> None:
    curve = [(1 * HOUR, 110.0), (2 * HOUR, 99.0), (3 * HOUR, 104.5), (4 * HOUR, 111.0), (5 * HOUR, 108.0)]
    depth, bars, ms = drawdown(curve, 100.0, 0)
    assert depth == pytest.approx(0.1)            # 110 -> 99
    assert (bars, ms) == (3, 3 * HOUR)            # from the 110 peak at bar 0 to 111 at bar 3
    depth, bars, ms = drawdown([(HOUR, 90.0), (2 * HOUR, 95.0)], 100.0, 0)
    assert depth == pytest.approx(0.1) and (bars, ms) == (2, 2 * HOUR)   # never regained: to the end
    assert drawdown([(HOUR, 101.0)], 100.0, 0) == (0.0, 0, 0)


def test_sharpe_and_sortino_are_annualised_on_the_bar_interval() -> None:
    values = [D(100), D(101), D("100.5"), D("102"), D("101.5")]
    curve = [(i * HOUR, v) for i, v in enumerate(values[1:], start=1)]
    stats = curve_stats(curve, [(t, D(50)) for t, _ in curve], "1h", values[0], values[-1], [], [])
    returns = [float(b / a - 1) for a, b in zip(values, values[1:], strict=False)]
    mean = sum(returns) / len(returns)
    sd = math.sqrt(sum((r - mean) ** 2 for r in returns) / (len(returns) - 1))
    down = math.sqrt(sum(min(r, 0) ** 2 for r in returns) / len(returns))
    assert stats.sharpe == pytest.approx(mean / sd * math.sqrt(365 * 24))
    assert stats.sortino == pytest.approx(mean / down * math.sqrt(365 * 24))
    assert stats.net_pnl == D("1.5") and stats.exposure == 1.0
    assert stats.mean_gross_leverage == pytest.approx(sum(50 / float(v) for v in values[1:]) / 4)
