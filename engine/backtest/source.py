"""Candles for a backtest from Parquet files, checked before anything runs.

Klines files stream in record batches (pyarrow), so only the columns the replay keeps are held:
six numbers per bar (a year of 1m bars for ten symbols is ~250 MB of arrays). Every batch is
checked as it arrives; the first problem stops the load with a `SourceError` naming the file and
the row (0-based, in file order):

- a missing column; a `symbol` or `interval` column that changes within a file, or that differs
  from the file's name or the asked interval (mixed symbols or intervals);
- open times not strictly increasing (unsorted or duplicated), or not on the interval's grid;
- NaN, infinite or non-positive prices, negative or NaN volume, high below low, open or close
  outside [low, high];
- no bar inside the asked period.

Gaps (bars missing between two present ones) are not errors: they are counted and reported as a
warning, and the replay leaves the symbol silent through them.

Layout (as in data/market): `SYMBOL-perp-klines-<interval>[-period].parquet` with open_time (ms),
open, high, low, close, volume; mark-price klines `SYMBOL-perp-mark-1h...`; funding
`SYMBOL-perp-funding-8h...` with open_time and funding_rate.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from engine.core.clock import iso_utc
from engine.core.intervals import INTERVAL_MS, align
from engine.sim.instruments import KNOWN, SymbolSpec, spec_for
from engine.sim.tape import Bars, Tape, build_history

PRICE_COLUMNS = ("open", "high", "low", "close")
COLUMNS = ("open_time", *PRICE_COLUMNS, "volume")
_NAME = re.compile(r"^(?P<symbol>[A-Z0-9]+)-perp-(?P<kind>klines|mark|funding)-(?P<interval>\d+[mhdw])(?:-.+)?\.parquet$")


class SourceError(ValueError):
    """A file that cannot be backtested on: names the file, the row and the problem."""


@dataclass(frozen=True)
class Loaded:
    """One symbol's checked candles and what was noticed on the way."""

    symbol: str
    bars: Bars
    gaps: int                       # bars missing between the first and the last
    files: tuple[Path, ...]


def name_parts(path: Path) -> tuple[str, str, str] | None:
    """(symbol, kind, interval) from a data/market file name, or None."""
    m = _NAME.match(path.name)
    return (m["symbol"], m["kind"], m["interval"]) if m else None


def _fail(path: Path, row: int | None, problem: str) -> SourceError:
    where = f"{path}" if row is None else f"{path}, row {row}"
    return SourceError(f"{where}: {problem}")


def _single(path: Path, batch: pa.RecordBatch, column: str, expected: str | None, offset: int, what: str) -> str | None:
    """The one value of a text column in this batch (error at the first row that differs)."""
    if column not in batch.schema.names:
        return expected
    values = batch.column(column).to_pylist()
    first = expected if expected is not None else (values[0] if values else None)
    for i, value in enumerate(values):
        if value != first:
            raise _fail(path, offset + i, f"mixed {what}s in one file: {value!r} after {first!r}")
    return first


def read_klines(path: Path, interval: str, *, symbol: str | None = None, start_ms: int | None = None,
                end_ms: int | None = None, batch_rows: int = 65_536) -> tuple[str, Bars, int]:
    """(symbol, the bars opening in [start_ms, end_ms), gaps) of one klines file, checked."""
    if not path.is_file():
        raise _fail(path, None, "no such file")
    parts = name_parts(path)
    if parts is not None:
        symbol = symbol or parts[0]
        if parts[1] == "klines" and parts[2] != interval:
            raise _fail(path, None, f"the file holds {parts[2]} candles, the backtest runs on {interval}")
    step = INTERVAL_MS.get(interval)
    if step is None:
        raise _fail(path, None, f"unknown interval {interval!r} (one of {', '.join(INTERVAL_MS)})")
    try:
        file = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise _fail(path, None, f"not a readable Parquet file ({exc})") from None
    names = file.schema_arrow.names
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise _fail(path, None, f"missing column(s) {', '.join(missing)} (has {', '.join(names)})")
    extra = [c for c in ("symbol", "interval") if c in names]
    chunks: list[list[np.ndarray]] = []
    offset, previous, gaps = 0, None, 0
    for batch in file.iter_batches(batch_size=batch_rows, columns=[*COLUMNS, *extra]):
        symbol = _single(path, batch, "symbol", symbol, offset, "symbol")
        if _single(path, batch, "interval", interval, offset, "interval") != interval:
            raise _fail(path, offset, f"interval column says {batch.column('interval')[0]}, not {interval}")
        times = batch.column("open_time").to_numpy(zero_copy_only=False).astype(np.int64)
        cols = [batch.column(c).to_numpy(zero_copy_only=False).astype(np.float64) for c in COLUMNS[1:]]
        _check(path, offset, times, cols, step, previous)
        if len(times):
            diffs = np.diff(np.r_[previous, times]) if previous is not None else np.diff(times)
            gaps += int(np.sum(diffs[diffs > step] // step - 1))
            previous = int(times[-1])
        keep = np.ones(len(times), dtype=bool)
        if start_ms is not None:
            keep &= times >= start_ms
        if end_ms is not None:
            keep &= times < end_ms
        if keep.any():
            chunks.append([times[keep], *(c[keep] for c in cols)])
        offset += len(times)
    if symbol is None:
        raise _fail(path, None, "no symbol: name the file SYMBOL-perp-klines-<interval>.parquet or add a symbol column")
    if not chunks:
        period = f" between {iso_utc(start_ms) if start_ms else 'the start'} and {iso_utc(end_ms) if end_ms else 'the end'}"
        raise _fail(path, None, f"no {interval} candles{period if offset else ''} ({offset} rows in the file)")
    arrays = [np.concatenate([c[i] for c in chunks]) for i in range(len(COLUMNS))]
    return symbol, Bars(interval, *arrays), gaps


def _check(path: Path, offset: int, times: np.ndarray, cols: list[np.ndarray], step: int, previous: int | None) -> None:
    if not len(times):
        return
    seq = np.r_[previous, times] if previous is not None else times
    shift = 1 if previous is not None else 0
    diffs = np.diff(seq)
    bad = np.flatnonzero(diffs <= 0)
    if len(bad):
        i = int(bad[0]) + 1 - shift
        what = "duplicated" if diffs[bad[0]] == 0 else "out of order"
        raise _fail(path, offset + i, f"open_time {iso_utc(int(times[i]))} is {what} (after "
                                      f"{iso_utc(int(seq[bad[0]]))}); candles must be sorted, one per open time")
    off_grid = np.flatnonzero(times % step)
    if len(off_grid):
        i = int(off_grid[0])
        raise _fail(path, offset + i, f"open_time {times[i]} is not on the {step // 60_000} min grid")
    o, h, low, c, v = cols
    for name, values in zip(PRICE_COLUMNS, (o, h, low, c), strict=True):
        bad = np.flatnonzero(~(values > 0) | ~np.isfinite(values))
        if len(bad):
            i = int(bad[0])
            raise _fail(path, offset + i, f"{name} is {values[i]}: prices must be finite and positive")
    bad = np.flatnonzero(~(v >= 0) | ~np.isfinite(v))
    if len(bad):
        raise _fail(path, offset + int(bad[0]), f"volume is {v[int(bad[0])]}: must be finite and >= 0")
    bad = np.flatnonzero(h < low)
    if len(bad):
        i = int(bad[0])
        raise _fail(path, offset + i, f"high {h[i]} is below low {low[i]}")
    bad = np.flatnonzero((o < low) | (o > h) | (c < low) | (c > h))
    if len(bad):
        i = int(bad[0])
        raise _fail(path, offset + i, f"open {o[i]} / close {c[i]} outside low {low[i]} .. high {h[i]}")


def read_mark(path: Path) -> Bars:
    """1h mark-price bars (the same checks as candles)."""
    _, bars, _ = read_klines(path, "1h", symbol=name_parts(path)[0] if name_parts(path) else "mark")
    return bars


def read_funding(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(settlement times on the hour, rates), checked: sorted, finite rates."""
    try:
        table = pq.read_table(path, columns=["open_time", "funding_rate"])
    except (pa.ArrowInvalid, OSError, KeyError) as exc:
        raise _fail(path, None, f"not a funding file with open_time and funding_rate ({exc})") from None
    times = np.asarray(align(table.column(0).to_numpy().astype(np.int64), "1h"))
    rates = table.column(1).to_numpy(zero_copy_only=False).astype(np.float64)
    bad = np.flatnonzero(np.diff(times) <= 0)
    if len(bad):
        raise _fail(path, int(bad[0]) + 1, "funding times are not strictly increasing")
    bad = np.flatnonzero(~np.isfinite(rates))
    if len(bad):
        raise _fail(path, int(bad[0]), f"funding_rate is {rates[int(bad[0])]}")
    return times, rates


def load(candles: Sequence[Path], interval: str, *, marks: Sequence[Path] = (), funding: Sequence[Path] = (),
         start_ms: int | None = None, end_ms: int | None = None) -> list[Loaded]:
    """Each symbol's candles (files of one symbol are joined in time order; an overlap is an error)."""
    by_symbol: dict[str, list[tuple[Path, Bars, int]]] = {}
    for path in candles:
        symbol, bars, gaps = read_klines(Path(path), interval, start_ms=start_ms, end_ms=end_ms)
        by_symbol.setdefault(symbol, []).append((Path(path), bars, gaps))
    out = []
    for symbol, parts in by_symbol.items():
        parts.sort(key=lambda p: int(p[1].open_time[0]))
        for (a, first, _), (b, second, _) in zip(parts, parts[1:], strict=False):
            if int(second.open_time[0]) <= int(first.open_time[-1]):
                raise SourceError(f"{b}: its candles from {iso_utc(int(second.open_time[0]))} overlap {a}'s "
                                  f"(up to {iso_utc(int(first.open_time[-1]))}): duplicated candles")
        bars = Bars.concat([p[1] for p in parts])
        between = sum(int((int(y.open_time[0]) - int(x.open_time[-1])) // bars.interval_ms - 1)
                      for (_, x, _), (_, y, _) in zip(parts, parts[1:], strict=False))
        out.append(Loaded(symbol, bars, sum(p[2] for p in parts) + between, tuple(p[0] for p in parts)))
    return out


def tapes(loaded: Sequence[Loaded], marks: Sequence[Path] = (), funding: Sequence[Path] = (), *,
          warmup_bars: int = 0) -> tuple[dict[str, Tape], dict[str, SymbolSpec], int, int]:
    """The replay's tapes: (tapes, specs, start_ms, end_ms). The replay starts `warmup_bars` bars
    after the latest first bar (the engine warms up on the bars before), and ends with the earliest
    last bar."""
    if not loaded:
        raise SourceError("no candle files given")
    out: dict[str, Tape] = {}
    specs: dict[str, SymbolSpec] = {}
    for item in loaded:
        tape = Tape(item.symbol, item.bars, build_history(item.bars, {}))
        for path in marks:
            if (name_parts(Path(path)) or ("",))[0] == item.symbol:
                tape.mark = read_mark(Path(path))
        times, rates = [], []
        for path in funding:
            if (name_parts(Path(path)) or ("",))[0] == item.symbol:
                t, r = read_funding(Path(path))
                times.append(t)
                rates.append(r)
        if times:
            all_t, all_r = np.concatenate(times), np.concatenate(rates)
            all_t, first = np.unique(all_t, return_index=True)
            tape.funding_time, tape.funding_rate = all_t, all_r[first]
        out[item.symbol] = tape
        specs[item.symbol] = KNOWN.get(item.symbol) or spec_for(item.symbol, float(item.bars.close[-1]))
    step = next(iter(out.values())).base.interval_ms
    start = max(int(t.base.open_time[0]) for t in out.values()) + warmup_bars * step
    end = min(int(t.base.open_time[-1]) + step for t in out.values())
    if start >= end:
        raise SourceError(f"the files share no period after {warmup_bars} warm-up bars: latest first bar "
                          f"{iso_utc(start - warmup_bars * step)}, earliest last bar {iso_utc(end - step)}")
    common = None
    for tape in out.values():
        times = tape.base.open_time[(tape.base.open_time >= start) & (tape.base.open_time < end)]
        common = times if common is None else np.intersect1d(common, times, assume_unique=True)
    if common is None or not len(common):
        raise SourceError(f"no open time from {iso_utc(start)} to {iso_utc(end)} has a candle of every symbol "
                          f"({', '.join(out)})")
    return out, specs, int(common[0]), end
