from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from engine.core.errors import DataError
from engine.core.types import Candle, Fill, Order, OrderStatus, Position, TradeEntry, TradeExit
from engine.store import Lake, reader
from engine.store.writer import write_records
from tests.store.conftest import T0, entry, exit_, one_of_each


def test_every_record_type_round_trips_exactly(lake: Lake) -> None:
    records = one_of_each(0) + one_of_each(1)
    assert write_records(lake, records).inserted == len(records)
    for record in records:
        stored = reader.read(lake, type(record), **{"record_id = ?": record.record_id})
        assert stored == [record]
    fill = reader.fills(lake, symbol="BTCUSDT")[0]
    assert fill.fee == Decimal("0.08915895") and str(fill.fee) == "0.08915895"


def test_record_ids_are_never_written_twice(lake: Lake) -> None:
    first = write_records(lake, [entry(1), entry(2), entry(1)])
    assert (first.inserted, first.skipped) == (2, 1)
    again = write_records(lake, [entry(1), entry(2), entry(3)])
    assert (again.inserted, again.skipped) == (1, 2)
    assert reader.count(lake, TradeEntry) == 3
    assert reader.existing_ids(lake, TradeEntry, ["entry:t1", "entry:t9"]) == {"entry:t1"}


def test_a_batch_is_one_transaction(lake: Lake) -> None:
    bad = msgspec.structs.replace(exit_(2), price=Decimal("NaN"))
    with pytest.raises(DataError, match="TradeExit.price"):
        write_records(lake, [entry(1), exit_(1), bad])
    assert reader.count(lake, TradeEntry) == reader.count(lake, TradeExit) == 0
    snapshots = lake.con.execute("SELECT count(*) FROM lake.snapshots()").fetchone()[0]
    write_records(lake, one_of_each(3))
    changes = lake.con.execute("SELECT count(*) FROM lake.snapshots()").fetchone()[0] - snapshots
    assert changes == 1  # eight tables, one commit


def test_trades_view_joins_entries_and_exits_with_net_pnl(lake: Lake) -> None:
    write_records(lake, [entry(1), exit_(1, pnl="1.5"), entry(2), exit_(3, pnl="-2")])
    rows = {r["trade_id"]: r for r in reader.query(lake, "SELECT * FROM lake.trades")}
    assert rows["t1"]["net_pnl"] == Decimal("1.5") - Decimal("0.14") - Decimal("0.01")
    assert rows["t1"]["closed"] and not rows["t2"]["closed"] and rows["t2"]["net_pnl"] is None
    assert rows["t3"]["side"] is None and rows["t3"]["net_pnl"] == Decimal("-2.15")  # exit without entry
    trips = reader.trades(lake)
    assert [(t.trade_id, t.exit is not None) for t in trips] == [("t1", True), ("t2", False), ("t3", True)]
    assert trips[0].exit is not None and trips[0].exit.net_pnl == Decimal("1.35")


def test_order_and_position_views_keep_the_latest_state(lake: Lake) -> None:
    new = one_of_each(0)[1]
    assert isinstance(new, Order)
    partial = msgspec.structs.replace(new, status=OrderStatus.PARTIALLY_FILLED, filled_quantity=Decimal("0.001"),
                                      event_time=new.event_time + 5)
    filled = msgspec.structs.replace(new, status=OrderStatus.FILLED, filled_quantity=Decimal("0.003"),
                                     event_time=new.event_time + 5)  # same exchange time: the final state wins
    write_records(lake, [filled, new, partial])
    assert reader.count(lake, Order) == 3
    assert [o.status for o in reader.orders(lake)] == [OrderStatus.FILLED]
    assert reader.orders(lake, open_only=True) == []
    pos = one_of_each(0)[5]
    assert isinstance(pos, Position)
    later = msgspec.structs.replace(pos, quantity=Decimal("0"), event_time=pos.event_time + 10)
    write_records(lake, [later, pos])
    assert reader.positions(lake) == [later]


def test_candles_for_a_symbol_and_range(lake: Lake) -> None:
    candles = [Candle(symbol, "1m", T0 + i * 60_000, T0 + i * 60_000 + 59_999, 1.0 + i, 2.0 + i, 0.5, 1.5 + i, 10.0)
               for i in range(10) for symbol in ("BTCUSDT", "ETHUSDT")]
    write_records(lake, candles)
    got = reader.candles(lake, "ETHUSDT", "1m", T0 + 2 * 60_000, T0 + 5 * 60_000)
    assert [c.open_time for c in got] == [T0 + i * 60_000 for i in (2, 3, 4)]
    assert all(c.symbol == "ETHUSDT" for c in got)
    table = reader.candles_table(lake, "BTCUSDT", "1m")
    assert table.num_rows == 10 and table.column("close").to_pylist()[0] == 1.5
    assert reader.read(lake, Fill) == []


def test_time_travel_to_an_earlier_snapshot(lake: Lake) -> None:
    write_records(lake, [entry(1)])
    version = lake.con.execute("SELECT max(snapshot_id) FROM lake.snapshots()").fetchone()[0]
    write_records(lake, [entry(2)])
    assert lake.con.execute(f"SELECT count(*) FROM lake.trade_entries AT (VERSION => {version})").fetchone() == (1,)
    assert reader.count(lake, TradeEntry) == 2
