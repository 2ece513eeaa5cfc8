from __future__ import annotations

from decimal import Decimal as D

import pytest

from engine.core.types import Position
from engine.execution.pnl import PnlCalculator, PriceSource

LONG = Position("main", "BTCUSDT", D("0.003"), D("59439.30"))
SHORT = Position("main", "BTCUSDT", D("-0.010"), D("60000.0"))


def test_mark_price_values_the_position_exactly() -> None:
    calc = PnlCalculator()
    calc.update("BTCUSDT", PriceSource.MARK, D("59500.10"), 1_000)
    v = calc.value(LONG, now=2_000)
    assert v.source is PriceSource.MARK and v.unrealized_pnl == D("0.18240")
    assert calc.value(SHORT, now=2_000).unrealized_pnl == D("4.99900")


def test_falls_back_to_last_trade_then_websocket_when_mark_is_stale() -> None:
    calc = PnlCalculator(max_age_ms=5_000)
    calc.update("BTCUSDT", PriceSource.MARK, D("59500"), 0)
    calc.update("BTCUSDT", PriceSource.LAST_TRADE, D("59600"), 8_000)
    calc.update("BTCUSDT", PriceSource.WEBSOCKET, D("59700"), 9_000)
    assert calc.quote("BTCUSDT", now=4_000).source is PriceSource.MARK  # type: ignore[union-attr]
    assert calc.quote("BTCUSDT", now=10_000).source is PriceSource.LAST_TRADE  # type: ignore[union-attr]
    assert calc.quote("BTCUSDT", now=13_500).source is PriceSource.WEBSOCKET  # type: ignore[union-attr]
    # everything stale: the freshest stale quote, rather than nothing
    assert calc.quote("BTCUSDT", now=60_000).price == D("59700")  # type: ignore[union-attr]


def test_older_quotes_do_not_replace_newer_ones() -> None:
    calc = PnlCalculator()
    calc.update("BTCUSDT", PriceSource.MARK, D("2"), 10)
    calc.update("BTCUSDT", PriceSource.MARK, D("1"), 5)
    assert calc.quote("BTCUSDT", 10).price == D("2")  # type: ignore[union-attr]


def test_divergence_between_sources_is_flagged() -> None:
    calc = PnlCalculator(divergence_threshold=D("0.005"))
    calc.update("BTCUSDT", PriceSource.MARK, D("100"), 0)
    calc.update("BTCUSDT", PriceSource.LAST_TRADE, D("100.4"), 0)
    assert not calc.consistency("BTCUSDT", 0).flagged
    calc.update("BTCUSDT", PriceSource.WEBSOCKET, D("101"), 0)
    check = calc.consistency("BTCUSDT", 0)
    assert check.flagged and check.max_divergence == D("0.01")


def test_health_score_reflects_freshness_and_errors() -> None:
    calc = PnlCalculator(max_age_ms=1_000)
    calc.update("BTCUSDT", PriceSource.MARK, D("1"), 0)
    calc.update("ETHUSDT", PriceSource.MARK, D("1"), 0)
    calc.update("ETHUSDT", PriceSource.LAST_TRADE, D("1"), 0)
    scores = calc.source_health(["BTCUSDT", "ETHUSDT"], now=500)
    assert scores[PriceSource.MARK] == 1.0 and scores[PriceSource.LAST_TRADE] == 0.5
    assert scores[PriceSource.WEBSOCKET] == 0.0
    calc.error(PriceSource.MARK, 400)
    assert calc.source_health(["BTCUSDT", "ETHUSDT"], now=500)[PriceSource.MARK] == pytest.approx(0.9)


@pytest.mark.parametrize("bad", [D("NaN"), D("-1"), D("0")])
def test_bad_prices_are_refused_and_counted(bad: D) -> None:
    calc = PnlCalculator()
    with pytest.raises(ValueError, match="must be a positive number"):
        calc.update("BTCUSDT", PriceSource.MARK, bad, 0)
    assert calc.quote("BTCUSDT", 0) is None
