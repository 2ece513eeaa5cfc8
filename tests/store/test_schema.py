from __future__ import annotations

import decimal
import math
from decimal import Decimal

import msgspec
import pytest

from engine.core.errors import DataError
from engine.core.types import Candle, Side, TradeEntry
from engine.store.schema import BY_TYPE, TABLES, to_arrow, validate
from tests.store.conftest import entry, one_of_each


def test_every_record_type_has_a_table() -> None:
    assert {type(r) for r in one_of_each()} == set(BY_TYPE)
    for record in one_of_each():
        assert validate(record).record_type is type(record)


@pytest.mark.parametrize(("change", "message"), [
    ({"price": Decimal("NaN")}, r"TradeEntry.price=Decimal\('NaN'\) is not allowed: expected a finite Decimal"),
    ({"price": 59439.3}, "TradeEntry.price=59439.3 is not allowed"),
    ({"price": Decimal("-1")}, "TradeEntry.price=Decimal\\('-1'\\) is not allowed: expected a value greater than 0"),
    ({"quantity": Decimal("1e30")}, "at most 26 integer digits"),
    ({"side": "UP"}, "TradeEntry.side='UP' is not allowed: expected one of BUY, SELL"),
    ({"confidence": math.inf}, "expected a finite number"),
    ({"event_time": -5}, "milliseconds since the epoch"),
    ({"trade_id": 7}, "TradeEntry.trade_id=7 is not allowed: expected a string"),
])
def test_bad_records_are_refused_with_the_field_named(change: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        validate(msgspec.structs.replace(entry(1), **change))


def test_impossible_candles_are_refused() -> None:
    good = Candle("BTCUSDT", "1m", 0, 59_999, 100.0, 101.0, 99.0, 100.5, 3.0)
    validate(good)
    with pytest.raises(DataError, match="Candle.close=nan"):
        validate(msgspec.structs.replace(good, close=math.nan))
    with pytest.raises(DataError, match="impossible: low=102.0"):
        validate(msgspec.structs.replace(good, low=102.0))
    with pytest.raises(DataError, match="volume"):
        validate(msgspec.structs.replace(good, volume=-1.0))


def test_unknown_types_are_refused() -> None:
    with pytest.raises(DataError, match="cannot record a dict"):
        validate({"price": 1})


def test_money_beyond_the_scale_is_rounded_half_even() -> None:
    e = msgspec.structs.replace(entry(1), price=Decimal("1.0000000000005"), fee=Decimal("0.0000000000015"))
    with decimal.localcontext() as ctx:
        ctx.rounding = decimal.ROUND_HALF_UP  # what ccxt leaves behind; the store must not depend on it
        table = to_arrow(BY_TYPE[TradeEntry], [e])
    assert table.column("price")[0].as_py() == Decimal("1.000000000000")
    assert table.column("fee")[0].as_py() == Decimal("0.000000000002")
    assert table.column("side")[0].as_py() == Side.BUY.value


def test_table_names_are_unique() -> None:
    assert len({t.table for t in TABLES}) == len({t.tag for t in TABLES}) == len(TABLES)
