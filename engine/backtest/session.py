"""One backtest from a request: which data (the bundled files the simulator serves, or given files,
checked), which period, policy and accounts; the run and its report."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from engine.accounts.account import parse_account_specs
from engine.backtest import source
from engine.backtest.driver import REPORTED, Backtest, BacktestError, Run, build_sim, engine_warmup
from engine.backtest.report import Report, build_report
from engine.config import Settings
from engine.core.clock import iso_utc
from engine.core.intervals import INTERVAL_MS, align
from engine.core.secret import Secret
from engine.core.types import Fill, FundingPayment, TradeEntry, TradeExit
from engine.signals.model import ServedModel
from engine.sim.options import SimOptions

log = logging.getLogger("engine.backtest")


@dataclass(frozen=True)
class Request:
    symbols: tuple[str, ...] = ()                 # default: SLT_SYMBOLS (or the --candles files' symbols)
    interval: str = "1h"
    candles: tuple[Path, ...] = ()                # default: the bundled data the simulator serves
    marks: tuple[Path, ...] = ()
    funding: tuple[Path, ...] = ()
    start_ms: int | None = None
    end_ms: int | None = None
    equity: Decimal = Decimal(10_000)
    accounts: str = ""                            # SLT_ACCOUNTS syntax; default: one account, main
    policy: str = "bootstrap"
    ticks_per_bar: int = 12
    extra_env: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    request: Request
    settings: Settings
    run: Run
    report: Report
    data_hash: str
    policy: str = "bootstrap"


def backtest_settings(settings: Settings, request: Request, symbols: Sequence[str]) -> Settings:
    """The engine's settings with the request's symbols, interval and accounts (no credentials are
    needed: the simulator's accounts are the backtest's own)."""
    changes: dict[str, object] = {"symbols": tuple(symbols), "interval": request.interval}
    if request.accounts:
        specs = parse_account_specs(request.accounts)
        changes["accounts"] = specs
        changes["account_credentials"] = tuple(
            (name, Secret(f"backtest-{name.lower()}")) for s in specs for name in (s.key_variable, s.secret_variable))
    return dataclasses.replace(settings, **changes)


def bundled_start(data_dir: Path, symbols: Sequence[str], interval: str, warmup_bars: int) -> int:
    """The first bar after `warmup_bars` bars of every symbol's bundled klines of `interval` (or 1h)."""
    firsts = []
    for symbol in symbols:
        files = sorted(data_dir.glob(f"{symbol}-perp-klines-{interval}*.parquet")) or \
            sorted(data_dir.glob(f"{symbol}-perp-klines-1h*.parquet"))
        if not files:
            raise BacktestError(f"no bundled {interval} or 1h klines for {symbol} in {data_dir}; give --candles")
        firsts.append(min(int(pq.read_table(f, columns=["open_time"]).column(0)[0].as_py()) for f in files))
    return int(align(max(firsts), interval)) + (warmup_bars + 1) * INTERVAL_MS[interval]


def prepare(settings: Settings, request: Request) -> tuple[Settings, SimOptions, tuple | None, list[str], str]:
    """(settings, simulator options, tapes or None for the bundled data, warnings, data hash)."""
    warnings: list[str] = []
    if request.interval not in INTERVAL_MS:
        raise BacktestError(f"unknown interval {request.interval!r} (one of {', '.join(INTERVAL_MS)})")
    step = INTERVAL_MS[request.interval]
    options = SimOptions(data_dir=settings.market_data_dir or settings.data_dir / "market",
                         ticks_per_bar=request.ticks_per_bar)
    if request.candles:
        first = None if request.start_ms is None else request.start_ms - (engine_warmup(settings) + 1) * step
        loaded = source.load(request.candles, request.interval, start_ms=first, end_ms=request.end_ms)
        symbols = tuple(request.symbols) or tuple(item.symbol for item in loaded)
        loaded = [item for item in loaded if item.symbol in symbols]
        missing = [s for s in symbols if s not in {item.symbol for item in loaded}]
        if missing:
            raise BacktestError(f"no --candles file for {', '.join(missing)}")
        for item in loaded:
            if item.gaps:
                warnings.append(f"{item.symbol}: {item.gaps} missing {request.interval} bars in "
                                f"{', '.join(str(f) for f in item.files)} (the symbol is silent through them)")
        config = backtest_settings(settings, request, symbols)
        tapes, specs, start, end = source.tapes(loaded, request.marks, request.funding,
                                                warmup_bars=engine_warmup(config) + 1)
        if request.start_ms is not None:
            start = max(start, int(align(request.start_ms, request.interval)))
        digest = _hash([(s, t.base) for s, t in tapes.items()])
        return config, dataclasses.replace(options, start_ms=start, end_ms=end), (tapes, specs, start, end), \
            warnings, digest
    config = backtest_settings(settings, request, request.symbols or settings.symbols)
    start = request.start_ms if request.start_ms is not None else bundled_start(
        options.data_dir, config.symbols, request.interval, engine_warmup(config))
    options = dataclasses.replace(options, start_ms=int(align(start, request.interval)), end_ms=request.end_ms)
    return config, options, None, warnings, ""


def run_backtest(settings: Settings, request: Request, *, model: ServedModel | None = None,
                 progress: Callable[[int, int], None] | None = None, stop_at_ms: int | None = None) -> Outcome:
    config, options, tapes, warnings, digest = prepare(settings, request)
    try:
        sim, accounts = build_sim(config, options, request.equity, tapes)
    except ValueError as exc:        # the simulator's own checks of the bundled data and the period
        raise BacktestError(str(exc)) from None
    if sim.replay.start_ms >= sim.replay.end_ms:
        raise BacktestError(f"no bars to replay from {iso_utc(sim.replay.start_ms)} to {iso_utc(sim.replay.end_ms)}")
    if not digest:
        digest = _hash([(s, st.tape.base) for s, st in sim.market.states.items()],
                       sim.replay.start_ms, sim.replay.end_ms)
    bt = Backtest(config, sim, accounts, model=model, progress=progress, keep=REPORTED)
    run = asyncio.run(bt.run(stop_at_ms=stop_at_ms))
    run.warnings += warnings
    report = report_of(run, config)
    return Outcome(request, config, run, report, digest)


def report_of(run: Run, settings: Settings) -> Report:
    r = run.records
    return build_report(interval=settings.interval, start_ms=run.start_ms, end_ms=run.end_ms,
                        symbols=settings.symbols, entries=r.of(TradeEntry), exits=r.of(TradeExit), fills=r.of(Fill),
                        funding=r.of(FundingPayment), equity=run.equity, exposure=run.exposure,
                        initial=run.initial_equity, final=run.final_equity, warnings=run.warnings)


def _hash(series: Sequence[tuple[str, object]], *window: int) -> str:
    """A short digest of the bars replayed (so two runs on the same data say so)."""
    h = hashlib.blake2b(digest_size=8)
    for symbol, bars in series:
        h.update(symbol.encode())
        for name in ("open_time", "open", "high", "low", "close", "volume"):
            h.update(np.ascontiguousarray(getattr(bars, name)).tobytes())
    for w in window:
        h.update(str(w).encode())
    return h.hexdigest()
