"""Tables for people: the one formatter every `slt` table prints through.

Times are ISO-8601 UTC (epoch-millisecond integers in the columns a command names as times, and
datetimes); numbers are rounded for reading: SIGNIFICANT significant digits, never fewer than
MIN_DECIMALS decimals and never a digit of the integer part lost (60123.456 -> 60123.46,
0.000123456 -> 0.00012346), or to a fixed number of places where a command names them (money in
`slt pnl`: 8, the exchange's precision). The exact values are what `--json` and `--csv` print.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from engine.core.clock import iso_utc

SIGNIFICANT = 5
MIN_DECIMALS = 2

# The store's epoch-millisecond columns (BIGINT in engine/store/migrations.py), for `slt sql`.
EPOCH_MS_COLUMNS = frozenset({"event_time", "received_time", "open_time", "close_time", "window_start",
                              "window_end", "candle_open_time"})


def readable(value: float | Decimal) -> str:
    """A number rounded for reading (see the module docstring); integral values print without decimals."""
    exact = _decimal(value)
    if not exact.is_finite():
        return str(value)
    if exact == exact.to_integral_value():
        return format(exact.quantize(Decimal(1)), "f") if exact else "0"
    decimals = max(MIN_DECIMALS, SIGNIFICANT - 1 - exact.adjusted())
    return format(exact.quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP).normalize(), "f")


def _decimal(value: float | int | Decimal) -> Decimal:
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def cell(value: Any, time: bool = False, places: int | None = None) -> str:
    """One table cell: NULL, an ISO time (epoch ms when `time`, or a datetime), a number rounded for
    reading (or to `places` decimals), text."""
    if value is None:
        return "NULL"
    if isinstance(value, datetime) or (time and isinstance(value, int) and not isinstance(value, bool)):
        return iso_utc(value)
    if places is not None and isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return format(_decimal(value).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP), "f")
    if isinstance(value, (float, Decimal)):
        return readable(value)
    return str(value)


def exact(value: Any) -> str:
    """A value as it is, for CSV: nothing for NULL, a Decimal without its trailing zeros."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        value = value.quantize(1) if value == value.to_integral_value() else value.normalize()
        return format(value, "f")
    return str(value)


def format_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], times: Collection[str] = (),
                 places: Mapping[str, int] | None = None) -> str:
    """An aligned text table with a row count: numbers right-aligned, text and times left-aligned.
    `times` names the columns holding epoch-ms times, `places` the columns shown to fixed decimals."""
    is_time = [c in times for c in columns]
    fixed = [(places or {}).get(c) for c in columns]
    cells = [[cell(v, t, f) for v, t, f in zip(row, is_time, fixed)] for row in rows]
    numeric = [bool(rows) and not is_time[i] and all(isinstance(r[i], (int, float, Decimal)) or r[i] is None
                                                     for r in rows)
               for i in range(len(columns))]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()

    out = [line(columns), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)
