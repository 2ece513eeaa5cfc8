"""`regime-detection` as plain functions: stored candles -> regime readings on the engine's grid.

For each traded symbol the newest stored candles (of the interval the engine measures regimes on,
`regime_interval(SLT_INTERVAL)`) are evaluated with `regime_checks` at every grid time
(`RISK_REGIME_CHECK_INTERVAL`) after the symbol's last stored reading, at most `lookback` back from
its newest candle. The grid and the record ids (`regime:<symbol>:<grid time>`) are the engine's
own, so a reading the engine made already is the same record and a rerun writes nothing new.
Time is the candles' exchange time, never the wall clock: the simulator replays history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import msgspec

from engine.core.clock import iso_utc
from engine.core.intervals import HOUR_MS
from engine.core.types import Candle
from engine.risk.regime import InsufficientHistory, RegimeReading, detect_regime, regime_checks
from engine.risk.tracker import WINDOW_MS
from engine.store import reader
from engine.store.lake import Lake
from engine.store.writer import WriteResult, write_records

HISTORY_MS = 7 * 24 * HOUR_MS  # how far back "since when" looks for the start of the current regime


@dataclass(frozen=True)
class RegimeChange:
    symbol: str
    before: str | None  # None: the symbol had no stored reading
    after: RegimeReading


@dataclass
class RegimeRun:
    """What one evaluation found: the readings to store, each symbol's latest, and what was skipped."""

    readings: list[RegimeReading] = field(default_factory=list)
    latest: dict[str, RegimeReading] = field(default_factory=dict)
    changes: list[RegimeChange] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # symbol -> why no reading


def candle_window(lake: Lake, symbols: Sequence[str], interval: str, lookback_ms: int) -> dict[str, list[Candle]]:
    """Per symbol, the stored closed candles a run needs: `lookback` plus the 25 h window before it."""
    newest = reader.last_candle_times(lake, interval)
    return {s: reader.candles(lake, s, interval, start=newest[s] - lookback_ms - WINDOW_MS) if s in newest else []
            for s in symbols}


def latest_readings(lake: Lake) -> dict[str, RegimeReading]:
    """The stored latest reading per symbol (the `regime_latest` view)."""
    return {r.symbol: r for r in reader.read(lake, RegimeReading, source="regime_latest", order_by="symbol")}


def recent_readings(lake: Lake, symbols: Sequence[str], since_ms: int) -> dict[str, list[RegimeReading]]:
    """Stored readings with window_end >= since_ms per symbol, oldest first."""
    found: dict[str, list[RegimeReading]] = {s: [] for s in symbols}
    for r in reader.read(lake, RegimeReading, order_by="window_end", **{"window_end >= ?": since_ms}):
        if r.symbol in found:
            found[r.symbol].append(r)
    return found


def evaluate(candles: Mapping[str, Sequence[Candle]], previous: Mapping[str, RegimeReading], *, check_ms: int,
             lookback_ms: int, received_ms: int) -> RegimeRun:
    """The readings at each grid time after the symbol's previous reading (at most `lookback_ms` before
    its newest candle closed), stamped `received_ms`; pure."""
    run = RegimeRun()
    for symbol, rows in candles.items():
        closed = [c for c in rows if c.closed]
        if not closed:
            run.skipped[symbol] = f"{symbol}: no stored candles"
            continue
        newest_close = closed[-1].close_time + 1
        start = newest_close - lookback_ms
        held = previous.get(symbol)
        if held is not None:
            start = max(start, held.window_end + 1)
        found = [msgspec.structs.replace(r, received_time=received_ms)
                 for r in regime_checks(closed, check_ms=check_ms, start=start, symbol=symbol)]
        if not found:
            if held is not None and held.window_end + check_ms > newest_close:
                run.latest[symbol] = held  # up to date: the next grid time is not reached yet
                continue
            run.skipped[symbol] = _why_none(closed, symbol)
            continue
        run.readings += found
        run.latest[symbol] = found[-1]
        if held is None or held.regime != found[-1].regime:
            run.changes.append(RegimeChange(symbol, held.regime.value if held is not None else None, found[-1]))
    return run


def _why_none(candles: Sequence[Candle], symbol: str) -> str:
    try:
        detect_regime(list(candles), symbol=symbol)
    except InsufficientHistory as exc:
        return str(exc)
    return f"{symbol}: no grid time in the window"


def write(lake: Lake, run: RegimeRun) -> WriteResult:
    """All readings of a run in one store transaction (record ids already stored are skipped)."""
    return write_records(lake, run.readings)


def iso(ms: int | None) -> str | None:
    return None if ms is None else iso_utc(ms)


def regime_since(history: Sequence[RegimeReading]) -> int | None:
    """When the current (last) regime of a symbol's readings (oldest first) began: the window_end of the
    first reading of its final unbroken run; None without readings."""
    if not history:
        return None
    current, since = history[-1].regime, history[-1].window_end
    for reading in reversed(history):
        if reading.regime != current:
            break
        since = reading.window_end
    return since


def summary(run: RegimeRun, history: Mapping[str, Sequence[RegimeReading]]) -> list[dict[str, object]]:
    """One row per symbol for the artifact: regime, 24 h change, volatility, since when (ISO times), or why none."""
    rows: list[dict[str, object]] = []
    for symbol in sorted(set(run.latest) | set(run.skipped)):
        reading = run.latest.get(symbol)
        if reading is None:
            rows.append({"symbol": symbol, "regime": "-", "change_24h_pct": None, "volatility_pct": None,
                         "since": None, "at": None, "note": run.skipped[symbol]})
            continue
        known = {r.window_end: r for r in history.get(symbol, ())}
        known.update({r.window_end: r for r in run.readings if r.symbol == symbol})
        ordered = [known[t] for t in sorted(known)]
        rows.append({"symbol": symbol, "regime": reading.regime.value, "change_24h_pct": round(reading.change_pct, 2),
                     "volatility_pct": round(reading.volatility_pct, 2), "since": iso(regime_since(ordered)),
                     "at": iso(reading.window_end), "note": ""})
    return rows


def history_since(run_latest: Mapping[str, RegimeReading], now_ms: int) -> int:
    """Where "since when" starts looking: `HISTORY_MS` before the newest reading (or `now_ms`)."""
    newest = max((r.window_end for r in run_latest.values()), default=now_ms)
    return newest - HISTORY_MS
