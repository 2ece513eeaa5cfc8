from __future__ import annotations

import pytest

from engine.core.ids import CLIENT_ORDER_ID_RE, client_order_id, is_ours, signal_id, trade_id


def test_client_order_id_is_deterministic_valid_and_distinct_per_leg_and_account() -> None:
    sig = signal_id("bootstrap", "BTCUSDT", "1m", 1_700_000_000_000)
    a = client_order_id(sig, "E", "main")
    assert a == client_order_id(sig, "E", "main")
    assert CLIENT_ORDER_ID_RE.match(a) and is_ours(a)
    assert len({a, client_order_id(sig, "S", "main"), client_order_id(sig, "E", "acc2")}) == 3
    assert not is_ours("x-cvBPrNm9abcdef0123456789abcd")


def test_leg_must_be_one_capital_letter() -> None:
    with pytest.raises(ValueError, match="one capital letter"):
        client_order_id("s", "entry")


def test_trade_id_is_stable() -> None:
    assert trade_id("s", "a") == trade_id("s", "a") != trade_id("s", "b")
