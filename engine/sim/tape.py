"""Candle history per symbol, as columnar arrays: the replay's base bars, every served interval
aggregated from them (older history from coarser files), mark-price bars and funding rates.

Sources, in `data/market/`: `SYMBOL-perp-klines-<interval>[-period].parquet`, `SYMBOL-perp-mark-1h.parquet`,
`SYMBOL-perp-funding-8h[-period].parquet` (layout in SOURCE-README.md). When no file has the base
interval at the replay start, base bars are derived from the finest coarser file by cutting each bar
along its intra-candle path (`path.py`), so the derived bars aggregate back to the source bar exactly
in open, high, low and close."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from engine.core.clock import iso_utc
from engine.core.intervals import INTERVAL_MS, align
from engine.sim.path import extremes_order, path_points

_FILE = re.compile(r"^(?P<symbol>[A-Z0-9]+)-perp-(?P<kind>klines|mark|funding)-(?P<interval>\d+[mhdw])(?:-.+)?\.parquet$")


@dataclass(frozen=True)
class Bars:
    interval: str
    open_time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.open_time)

    @property
    def interval_ms(self) -> int:
        return INTERVAL_MS[self.interval]

    def take(self, index: np.ndarray | slice) -> Bars:
        return Bars(self.interval, self.open_time[index], self.open[index], self.high[index], self.low[index],
                    self.close[index], self.volume[index])

    def index_of(self, open_time: int) -> int:
        """Index of the bar opening at `open_time`, or -1."""
        i = int(np.searchsorted(self.open_time, open_time))
        return i if i < len(self) and int(self.open_time[i]) == open_time else -1

    def contiguous_run(self, time_ms: int) -> Bars:
        """The gap-free stretch of bars that contains `time_ms` (empty if none does)."""
        i = int(np.searchsorted(self.open_time, time_ms, side="right")) - 1
        if i < 0 or time_ms >= int(self.open_time[i]) + self.interval_ms:
            return self.take(slice(0, 0))
        gaps = np.flatnonzero(np.diff(self.open_time) != self.interval_ms)
        lo = int(gaps[gaps < i][-1]) + 1 if np.any(gaps < i) else 0
        hi = int(gaps[gaps >= i][0]) + 1 if np.any(gaps >= i) else len(self)
        return self.take(slice(lo, hi))

    @staticmethod
    def concat(parts: list[Bars]) -> Bars:
        parts = [p for p in parts if len(p)]
        if not parts:
            raise ValueError("no bars")
        cols = [np.concatenate([getattr(p, c) for p in parts]) for c in ("open_time", "open", "high", "low", "close", "volume")]
        order = np.argsort(cols[0], kind="stable")
        _, unique = np.unique(cols[0][order], return_index=True)
        keep = order[unique]
        return Bars(parts[0].interval, *(c[keep] for c in cols))


def read_bars(path: Path, interval: str) -> Bars:
    table = pq.read_table(path, columns=["open_time", "open", "high", "low", "close", "volume"])
    cols = [table.column(c).to_numpy() for c in ("open_time", "open", "high", "low", "close", "volume")]
    return Bars(interval, cols[0].astype(np.int64), *(c.astype(np.float64) for c in cols[1:]))


def aggregate(bars: Bars, interval: str) -> Bars:
    """Bars of a multiple interval, keeping only groups that are complete."""
    if interval == bars.interval:
        return bars
    ratio, rest = divmod(INTERVAL_MS[interval], bars.interval_ms)
    if rest or ratio < 1:
        raise ValueError(f"cannot build {interval} bars from {bars.interval} bars")
    if not len(bars):
        columns = (bars.open_time, bars.open, bars.high, bars.low, bars.close, bars.volume)
        return Bars(interval, *(np.array([], dtype=a.dtype) for a in columns))
    groups = np.asarray(align(bars.open_time, interval))
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    counts = np.diff(np.r_[starts, len(bars)])
    ends = starts + counts - 1
    complete = counts == ratio
    s, e = starts[complete], ends[complete]
    volume = np.round(np.add.reduceat(bars.volume, starts)[complete], 8)
    return Bars(interval, groups[s], bars.open[s], np.maximum.reduceat(bars.high, starts)[complete],
                np.minimum.reduceat(bars.low, starts)[complete], bars.close[e], volume)


def split(bars: Bars, interval: str, decimals: int) -> Bars:
    """Finer bars cut along each bar's intra-candle path (see module docstring)."""
    parts, rest = divmod(bars.interval_ms, INTERVAL_MS[interval])
    if rest or parts < 3:
        raise ValueError(f"cannot derive {interval} bars from {bars.interval} bars")
    points = path_points(bars.open, bars.high, bars.low, bars.close, parts, decimals)   # (n, parts + 1)
    opens, closes = points[:, :-1], points[:, 1:]
    share = np.round(bars.volume / parts, 3)
    volume = np.repeat(share[:, None], parts, axis=1)
    volume[:, -1] = np.round(bars.volume - share * (parts - 1), 8)
    times = bars.open_time[:, None] + np.arange(parts, dtype=np.int64) * INTERVAL_MS[interval]
    return Bars(interval, times.ravel(), opens.ravel(), np.maximum(opens, closes).ravel(),
                np.minimum(opens, closes).ravel(), closes.ravel(), np.clip(volume, 0, None).ravel())


@dataclass
class Tape:
    """Everything the replay knows about one symbol."""

    symbol: str
    base: Bars
    history: dict[str, Bars] = field(default_factory=dict)   # served interval -> bars (base-derived + older)
    mark: Bars | None = None                                 # 1h mark-price bars
    funding_time: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    funding_rate: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.float64))
    derived_from: str = ""                                   # interval the base bars were cut from, if any

    def bars(self, interval: str) -> Bars | None:
        return self.history.get(interval)

    def mark_ratio(self, times: np.ndarray) -> np.ndarray:
        """mark / trade price at `times`: linear between each hour's open and close ratio, from the
        1h mark bars against the 1h trade bars; 1 where there is no mark bar."""
        trade = self.history.get("1h")
        ratio = np.ones(times.shape, dtype=np.float64)
        if self.mark is None or trade is None or not len(trade):
            return ratio
        common, ti, mi = np.intersect1d(trade.open_time, self.mark.open_time, return_indices=True)
        if not len(common):
            return ratio
        xs = np.stack([common, common + INTERVAL_MS["1h"] - 1], axis=1).ravel()
        ys = np.stack([self.mark.open[mi] / trade.open[ti], self.mark.close[mi] / trade.close[ti]], axis=1).ravel()
        hour = np.asarray(align(times, "1h"))
        covered = np.isin(hour, common)
        ratio[covered] = np.interp(times[covered], xs, ys)
        return ratio

    def funding_at(self, time_ms: int) -> float | None:
        i = int(np.searchsorted(self.funding_time, time_ms))
        if i < len(self.funding_time) and int(self.funding_time[i]) == time_ms:
            return float(self.funding_rate[i])
        return None

    def next_funding(self, time_ms: int) -> tuple[int, float] | None:
        """The first funding event strictly after `time_ms`."""
        i = int(np.searchsorted(self.funding_time, time_ms, side="right"))
        if i < len(self.funding_time):
            return int(self.funding_time[i]), float(self.funding_rate[i])
        return None


def serve_intervals(base: str) -> list[str]:
    return [i for i in INTERVAL_MS if INTERVAL_MS[i] % INTERVAL_MS[base] == 0]


def build_history(base: Bars, native: dict[str, Bars]) -> dict[str, Bars]:
    """Every interval the base divides: aggregated base bars, preceded by older bars aggregated from
    the finest native file that divides the interval."""
    history: dict[str, Bars] = {}
    for interval in serve_intervals(base.interval):
        agg = aggregate(base, interval)
        first = int(agg.open_time[0]) if len(agg) else int(base.open_time[-1]) + 1
        older = [b for name, b in sorted(native.items(), key=lambda kv: INTERVAL_MS[kv[0]])
                 if INTERVAL_MS[interval] % INTERVAL_MS[name] == 0 and name != base.interval]
        if older:
            src = older[0]
            before = aggregate(src.take(slice(0, int(np.searchsorted(src.open_time, first)))), interval)
            agg = Bars.concat([before, agg]) if len(before) else agg
        history[interval] = agg
    return history


def discover(data_dir: Path) -> dict[str, dict[str, list[Path]]]:
    """symbol -> kind ('klines-1m', 'mark-1h', 'funding-8h', ...) -> files."""
    found: dict[str, dict[str, list[Path]]] = {}
    for path in sorted(data_dir.glob("*-perp-*.parquet")):
        m = _FILE.match(path.name)
        if m:
            kinds = found.setdefault(m["symbol"], {})
            kinds.setdefault(f"{m['kind']}-{m['interval']}", []).append(path)
    return found


def load_tape(data_dir: Path, symbol: str, base_interval: str, start_ms: int, decimals: int) -> Tape:
    files = discover(data_dir).get(symbol)
    if not files:
        raise ValueError(f"no perpetual kline files for {symbol} in {data_dir}")
    native: dict[str, Bars] = {}
    for kind, paths in files.items():
        name, interval = kind.split("-")
        if name == "klines" and interval in INTERVAL_MS:
            native[interval] = Bars.concat([read_bars(p, interval) for p in paths])
    base, derived = _base_bars(symbol, native, base_interval, start_ms, decimals)
    tape = Tape(symbol, base, build_history(base, native), derived_from=derived)
    if "mark-1h" in files:
        tape.mark = Bars.concat([read_bars(p, "1h") for p in files["mark-1h"]])
    funding = [pq.read_table(p, columns=["open_time", "funding_rate"]) for p in files.get("funding-8h", [])]
    if funding:
        times = np.concatenate([t.column(0).to_numpy() for t in funding]).astype(np.int64)
        rates = np.concatenate([t.column(1).to_numpy() for t in funding]).astype(np.float64)
        times = np.asarray(align(times, "1h"))          # raw settlement times can be a few ms late
        times, first = np.unique(times, return_index=True)
        tape.funding_time, tape.funding_rate = times, rates[first]
    return tape


def _base_bars(symbol: str, native: dict[str, Bars], base_interval: str, start_ms: int,
               decimals: int) -> tuple[Bars, str]:
    if base_interval in native:
        run = native[base_interval].contiguous_run(start_ms)
        if len(run):
            return run, ""
    for interval in sorted(native, key=INTERVAL_MS.__getitem__):
        if INTERVAL_MS[interval] <= INTERVAL_MS[base_interval] or INTERVAL_MS[interval] % INTERVAL_MS[base_interval]:
            continue
        run = native[interval].contiguous_run(start_ms)
        if len(run):
            # cut only what a replay can need: two days of history before the start, and onwards
            keep = run.take(run.open_time >= int(align(start_ms, interval)) - 2 * INTERVAL_MS["1d"])
            return split(keep, base_interval, decimals), interval
    ranges = ", ".join(f"{i}: {iso_utc(int(b.open_time[0]))}..{iso_utc(int(b.open_time[-1]))}" for i, b in native.items())
    raise ValueError(f"no {symbol} data covers {iso_utc(start_ms)} at {base_interval} or coarser (available {ranges})")



__all__ = [
    "INTERVAL_MS",
    "Bars",
    "Tape",
    "aggregate",
    "align",
    "build_history",
    "discover",
    "extremes_order",
    "load_tape",
    "serve_intervals",
    "split",
]
