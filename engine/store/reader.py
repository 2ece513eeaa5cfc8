"""Typed reads: rows come back as domain records. Each call uses its own cursor, so reads are safe
from any thread while the connection's owner writes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, TypeVar

import pyarrow as pa

from engine.core.types import (
    Candle,
    EquitySnapshot,
    Fill,
    FundingPayment,
    HealthEvent,
    Order,
    Position,
    SignalRecord,
    TradeEntry,
    TradeExit,
)
from engine.store.lake import ALIAS, Lake
from engine.store.schema import BY_TYPE, from_rows

T = TypeVar("T")


class RoundTrip(NamedTuple):
    """A trade: its entry and, once closed, its exit (either may be missing for reconciled trades)."""

    entry: TradeEntry | None
    exit: TradeExit | None

    @property
    def trade_id(self) -> str:
        leg = self.entry or self.exit
        assert leg is not None
        return leg.trade_id


def query(lake: Lake, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Run a query on a fresh cursor; rows as dicts."""
    with lake.reading() as cur:
        result = cur.execute(sql, list(params))
        names = [d[0] for d in result.description or ()]
        return [dict(zip(names, row)) for row in result.fetchall()]


def _where(filters: dict[str, Any]) -> tuple[str, list[Any]]:
    parts, params = [], []
    for clause, value in filters.items():
        if value is not None:
            parts.append(clause)
            params.append(value)
    return (" WHERE " + " AND ".join(parts)) if parts else "", params


def read(lake: Lake, record_type: type[T], *, source: str | None = None, order_by: str = "event_time, record_id",
         limit: int | None = None, **filters: Any) -> list[T]:
    """Records of one type. `filters` maps a SQL condition with one `?` to its value (None = no filter),
    e.g. `read(lake, Fill, **{"symbol = ?": "BTCUSDT"})`."""
    spec = BY_TYPE[record_type]
    where, params = _where(filters)
    sql = f"SELECT * FROM {ALIAS}.{source or spec.table}{where} ORDER BY {order_by}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return from_rows(spec, query(lake, sql, params))


def candles(lake: Lake, symbol: str, interval: str, start: int | None = None, end: int | None = None) -> list[Candle]:
    """Closed candles with `start <= open_time < end` (ms), oldest first."""
    return read(lake, Candle, order_by="open_time", **{"symbol = ?": symbol, "interval = ?": interval,
                                                       "open_time >= ?": start, "open_time < ?": end})


def candles_table(lake: Lake, symbol: str, interval: str, start: int | None = None, end: int | None = None) -> pa.Table:
    """The same candles as an Arrow table (for indicators and features)."""
    where, params = _where({"symbol = ?": symbol, "interval = ?": interval, "open_time >= ?": start, "open_time < ?": end})
    with lake.reading() as cur:
        return cur.execute(f"SELECT * FROM {ALIAS}.candles{where} ORDER BY open_time", params).to_arrow_table()


def fills(lake: Lake, account: str | None = None, symbol: str | None = None, since: int | None = None) -> list[Fill]:
    return read(lake, Fill, **{"account = ?": account, "symbol = ?": symbol, "event_time >= ?": since})


def trades(lake: Lake, account: str | None = None, symbol: str | None = None) -> list[RoundTrip]:
    """Every round trip, oldest entry first; `exit` is None while the trade is open."""
    filters = {"account = ?": account, "symbol = ?": symbol}
    entries = read(lake, TradeEntry, **filters)
    exits = {(x.account, x.trade_id): x for x in read(lake, TradeExit, **filters)}
    trips = [RoundTrip(e, exits.pop((e.account, e.trade_id), None)) for e in entries]
    return trips + [RoundTrip(None, x) for x in exits.values()]


def orders(lake: Lake, account: str | None = None, open_only: bool = False) -> list[Order]:
    """The latest state of each order (the `orders` view)."""
    found = read(lake, Order, source="orders", **{"account = ?": account})
    return [o for o in found if o.status.is_open] if open_only else found


def positions(lake: Lake, account: str | None = None) -> list[Position]:
    """The latest snapshot of each position (the `positions` view)."""
    return read(lake, Position, source="positions", order_by="account, symbol", **{"account = ?": account})


def equity(lake: Lake, account: str | None = None, since: int | None = None) -> list[EquitySnapshot]:
    return read(lake, EquitySnapshot, **{"account = ?": account, "event_time >= ?": since})


def health_events(lake: Lake, component: str | None = None, since: int | None = None) -> list[HealthEvent]:
    return read(lake, HealthEvent, **{"component = ?": component, "event_time >= ?": since})


def funding(lake: Lake, account: str | None = None, symbol: str | None = None,
            since: int | None = None) -> list[FundingPayment]:
    return read(lake, FundingPayment, **{"account = ?": account, "symbol = ?": symbol, "event_time >= ?": since})


def signals(lake: Lake, signal_ids: Sequence[str]) -> list[SignalRecord]:
    """The stored signals among `signal_ids`."""
    if not signal_ids:
        return []
    marks = ", ".join("?" for _ in signal_ids)
    return from_rows(BY_TYPE[SignalRecord], query(
        lake, f"SELECT * FROM {ALIAS}.signals WHERE signal_id IN ({marks}) ORDER BY event_time", list(signal_ids)))


def closed_trade_count(lake: Lake, account: str | None = None) -> int:
    where, params = _where({"account = ?": account})
    return int(query(lake, f"SELECT count(*) AS n FROM {ALIAS}.trade_exits{where}", params)[0]["n"])


def last_candle_times(lake: Lake, interval: str) -> dict[str, int]:
    """Open time of the newest stored candle per symbol (where a restarted feed resumes)."""
    rows = query(lake, f"SELECT symbol, max(open_time) AS t FROM {ALIAS}.candles WHERE interval = ? GROUP BY symbol",
                 [interval])
    return {r["symbol"]: int(r["t"]) for r in rows}


def count(lake: Lake, record_type: type) -> int:
    return int(query(lake, f"SELECT count(*) AS n FROM {ALIAS}.{BY_TYPE[record_type].table}")[0]["n"])


def existing_ids(lake: Lake, record_type: type, ids: Sequence[str]) -> set[str]:
    """Which of these record ids are stored."""
    if not ids:
        return set()
    with lake.reading() as cur:
        cur.register("_ids", pa.table({"record_id": pa.array(list(ids), pa.string())}))
        rows = cur.execute(f"SELECT DISTINCT t.record_id FROM {ALIAS}.{BY_TYPE[record_type].table} t "
                           "SEMI JOIN _ids i ON i.record_id = t.record_id").fetchall()
        return {r[0] for r in rows}
