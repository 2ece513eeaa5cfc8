from __future__ import annotations

from decimal import Decimal as D

from engine.core.instrument import Instrument

BTC = Instrument("BTCUSDT", "BTC", "USDT", tick_size=D("0.10"), min_price=D("0.10"), max_price=D("4529764"),
                 step_size=D("0.001"), min_qty=D("0.001"), max_qty=D("1000"), market_step_size=D("0.001"),
                 market_min_qty=D("0.001"), market_max_qty=D("120"), min_notional=D("100"))


def test_floor_quantity_to_lot() -> None:
    assert BTC.floor_quantity(D("0.0039")) == D("0.003")
    assert BTC.floor_quantity(D("0.0009")) == 0
    assert BTC.is_valid_quantity(D("0.003")) and not BTC.is_valid_quantity(D("0.0035"))


def test_round_price_to_tick() -> None:
    assert BTC.round_price(D("59439.34")) == D("59439.3")
    assert BTC.round_price(D("59439.31"), direction="up") == D("59439.4")
    assert BTC.round_price(D("59439.39"), direction="down") == D("59439.3")
    assert BTC.is_valid_price(D("59439.30")) and not BTC.is_valid_price(D("59439.35"))


def test_min_notional() -> None:
    assert BTC.meets_min_notional(D("0.002"), D("60000")) and not BTC.meets_min_notional(D("0.001"), D("60000"))
