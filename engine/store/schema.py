"""Which table holds each record type, the checks a record passes before it is journaled, and the
conversion between records and Arrow rows.

Columns are the record's own fields (same names) plus `record_id`; the DDL lives, frozen, in
`migrations.py`, and a test holds the two together.

Money is DECIMAL(38,12), not (38,18): DuckDB gives a product the sum of the scales, so with scale 18
even `quantity * price` overflowed ("Overflow in multiplication of DECIMAL(38)"), while scale 12
leaves 14 integer digits for a product and 26 for a stored value. Exchange amounts have at most 8
decimals, so they are stored exactly; a computed value with more than 12 decimal places is rounded
half-even to 12 when written (the journal keeps it exact).
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from enum import Enum
from typing import Any

import msgspec
import pyarrow as pa

from engine.core.errors import DataError
from engine.core.types import (
    Candle,
    EquitySnapshot,
    Fill,
    FundingPayment,
    HealthEvent,
    Order,
    Position,
    Record,
    SignalOutcome,
    SignalRecord,
    TradeEntry,
    TradeExit,
)
from engine.health.grading import BenchmarkResult
from engine.risk.regime import RegimeReading
from engine.store.backtests import BacktestRun, BacktestTrade

SCALE = 12
DECIMAL = pa.decimal128(38, SCALE)
QUANTUM = Decimal(1).scaleb(-SCALE)
MONEY_LIMIT = Decimal(10) ** (38 - SCALE)
# every record type the store has a table for (TABLES below)
Journaled = Record | RegimeReading | BenchmarkResult | BacktestRun | BacktestTrade
ARROW = {"decimal": DECIMAL, "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "str": pa.string()}
_KINDS = {Decimal: "decimal", int: "int", float: "float", bool: "bool", str: "str"}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # decimal | int | float | bool | str
    nullable: bool
    choices: frozenset[str] | None = None  # the values of an enum field


@dataclass(frozen=True)
class TableSpec:
    tag: str  # the record type's stable name in journal frames
    table: str
    record_type: type
    columns: tuple[Column, ...]
    positive: tuple[str, ...] = ()  # fields that must be > 0 when present

    @property
    def column_names(self) -> tuple[str, ...]:
        return ("record_id", *(c.name for c in self.columns))

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field("record_id", pa.string(), nullable=False)]
                         + [pa.field(c.name, ARROW[c.kind], nullable=c.nullable) for c in self.columns])


def _column(field: msgspec.structs.FieldInfo) -> Column:
    annotation, nullable = field.type, False
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation, nullable = args[0], True
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return Column(field.name, "str", nullable, frozenset(str(m.value) for m in annotation))
    return Column(field.name, _KINDS[annotation], nullable)


def _spec(tag: str, table: str, record_type: type, positive: tuple[str, ...] = ()) -> TableSpec:
    columns = tuple(_column(f) for f in msgspec.structs.fields(record_type))
    return TableSpec(tag, table, record_type, columns, positive)


TABLES: tuple[TableSpec, ...] = (
    _spec("candle", "candles", Candle, ("open", "high", "low", "close")),
    _spec("order", "order_events", Order, ("quantity", "price", "stop_price")),
    _spec("fill", "fills", Fill, ("quantity", "price")),
    _spec("entry", "trade_entries", TradeEntry, ("quantity", "price")),
    _spec("exit", "trade_exits", TradeExit, ("quantity", "price")),
    _spec("position", "position_snapshots", Position),
    _spec("equity", "equity_snapshots", EquitySnapshot),
    _spec("health", "health_events", HealthEvent),
    _spec("regime", "regimes", RegimeReading),
    _spec("funding", "funding_payments", FundingPayment),
    _spec("signal", "signals", SignalRecord, ("price", "atr")),
    _spec("outcome", "signal_outcomes", SignalOutcome),
    _spec("benchmark", "benchmark_results", BenchmarkResult),
    _spec("backtest_run", "backtest_runs", BacktestRun),
    _spec("backtest_trade", "backtest_trades", BacktestTrade, ("quantity", "entry_price", "exit_price")),
)
BY_TYPE: dict[type, TableSpec] = {s.record_type: s for s in TABLES}
BY_TAG: dict[str, TableSpec] = {s.tag: s for s in TABLES}


def spec_for(record: object) -> TableSpec:
    spec = BY_TYPE.get(type(record))
    if spec is None:
        names = ", ".join(t.__name__ for t in BY_TYPE)
        raise DataError(f"cannot record a {type(record).__name__}: expected one of {names}")
    return spec


def _problem(record: object, name: str, value: object, expected: str) -> DataError:
    return DataError(f"{type(record).__name__}.{name}={value!r} is not allowed: expected {expected}")


def _check(record: object, column: Column, value: Any) -> None:
    if value is None:
        if not column.nullable:
            raise _problem(record, column.name, value, f"a {column.kind} value")
        return
    kind = column.kind
    if kind == "decimal":
        if not isinstance(value, Decimal) or not value.is_finite() or not -MONEY_LIMIT < value < MONEY_LIMIT:
            raise _problem(record, column.name, value, f"a finite Decimal with at most {38 - SCALE} integer digits")
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise _problem(record, column.name, value, "a finite number")
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or not -2**63 <= value < 2**63:
            raise _problem(record, column.name, value, "a 64-bit integer")
    elif kind == "bool":
        if not isinstance(value, bool):
            raise _problem(record, column.name, value, "True or False")
    elif not isinstance(value, str) or (column.choices is not None and value not in column.choices):
        expected = "one of " + ", ".join(sorted(column.choices)) if column.choices else "a string"
        raise _problem(record, column.name, value, expected)


def validate(record: object) -> TableSpec:
    """Raise `DataError` naming the field if `record` cannot be stored exactly as it is."""
    spec = spec_for(record)
    for column in spec.columns:
        _check(record, column, getattr(record, column.name))
    for name in spec.positive:
        value = getattr(record, name)
        if value is not None and not value > 0:
            raise _problem(record, name, value, "a value greater than 0")
    for name in ("event_time", "received_time"):
        if getattr(record, name) < 0:
            raise _problem(record, name, getattr(record, name), "milliseconds since the epoch, >= 0")
    if isinstance(record, Candle):
        if record.volume < 0:
            raise _problem(record, "volume", record.volume, "a volume >= 0")
        if record.low > min(record.open, record.close) or record.high < max(record.open, record.close):
            raise DataError(f"Candle {record.record_id} is impossible: low={record.low} high={record.high} "
                            f"open={record.open} close={record.close}")
    record_id = record.record_id  # type: ignore[attr-defined]
    if not record_id:
        raise DataError(f"{type(record).__name__} has an empty record_id")
    return spec


def _decimals(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values, DECIMAL)
    except pa.ArrowInvalid:  # more than SCALE decimal places: round to the column's scale
        return pa.array([None if v is None else v.quantize(QUANTUM, rounding=ROUND_HALF_EVEN) for v in values], DECIMAL)


def to_arrow(spec: TableSpec, records: Sequence[Journaled]) -> pa.Table:
    """Records of one type as an Arrow table with the store's column types."""
    arrays = [pa.array([r.record_id for r in records], pa.string())]
    for column in spec.columns:
        values = [getattr(r, column.name) for r in records]
        if column.kind == "decimal":
            arrays.append(_decimals(values))
        elif column.choices is not None:
            arrays.append(pa.array([None if v is None else str(v) for v in values], pa.string()))
        else:
            arrays.append(pa.array(values, ARROW[column.kind]))
    return pa.Table.from_arrays(arrays, schema=spec.arrow_schema)


def from_rows(spec: TableSpec, rows: Iterable[dict[str, Any]]) -> list[Any]:
    """Rows read from the store (dicts by column name) back into domain records."""
    names = {c.name for c in spec.columns}
    return [msgspec.convert({k: _trim(v) for k, v in row.items() if k in names}, spec.record_type) for row in rows]


def _trim(value: Any) -> Any:
    """DECIMAL(38,12) comes back as 1.500000000000: show it as 1.5 (same value)."""
    if isinstance(value, Decimal):
        return value.quantize(1) if value == value.to_integral_value() else value.normalize()
    return value
