"""`slt backtest`: what the engine would have done on a period, through its own decision code against
the simulator's matching, margin and funding, in one process on exchange time.

    slt backtest                                     # bundled 1h history of SLT_SYMBOLS, all of it
    slt backtest --from 2024-01-01 --to 2024-07-01 -o reports/h1
    slt backtest --candles BTCUSDT-perp-klines-1h.parquet --funding BTCUSDT-perp-funding-8h.parquet
    slt backtest --accounts main:PRIMARY:2:aggressive,alt:SECONDARY:1:conservative --equity 50000 --json

Results go to the store (`backtest_runs`, `backtest_trades`, one transaction per run) unless
--no-store; `-o DIR` writes report.md, equity.png and report.json; `--mlflow` logs an MLflow run
with them as artifacts. Exit 0 when the run finished, 2 for bad input (the message names the file
and row), 1 when the store or MLflow could not take the results.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

from engine.config import ConfigError, Settings
from engine.core.errors import StoreUnavailable

POLICIES = "bootstrap|champion|challenger|model:VERSION"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--candles", nargs="+", type=Path, default=[], metavar="FILE",
                        help="klines Parquet files (data/market layout); default: the bundled data")
    parser.add_argument("--mark", nargs="+", type=Path, default=[], metavar="FILE", help="mark-price 1h klines")
    parser.add_argument("--funding", nargs="+", type=Path, default=[], metavar="FILE", help="funding-rate files")
    parser.add_argument("--symbols", default="", help="comma-separated (default SLT_SYMBOLS or the files' symbols)")
    parser.add_argument("--interval", default="1h", help="the engine's candle interval (default 1h)")
    parser.add_argument("--from", dest="start", default=None, metavar="DATE", help="first bar (ISO date or ms)")
    parser.add_argument("--to", dest="end", default=None, metavar="DATE", help="end, exclusive (ISO date or ms)")
    parser.add_argument("--policy", default="bootstrap", help=f"signal policy: {POLICIES} (default bootstrap)")
    parser.add_argument("--accounts", default="", metavar="SPEC", help="SLT_ACCOUNTS syntax (default: one account)")
    parser.add_argument("--equity", default="10000", metavar="USDT", help="starting equity, split by weight")
    parser.add_argument("--ticks-per-bar", type=int, default=12, help="intra-bar path points (default 12)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("-o", "--output", type=Path, default=None, metavar="DIR",
                        help="write report.md, equity.png and report.json there")
    parser.add_argument("--no-store", action="store_true", help="do not write the results to the store")
    parser.add_argument("--mlflow", action="store_true", help="log an MLflow run with the report and plot")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _progress(quiet: bool):  # type: ignore[no-untyped-def]
    if quiet:
        return None
    shown = [-1]
    tty = sys.stderr.isatty()

    def show(done: int, total: int) -> None:
        pct = min(100, done * 100 // max(1, total))
        step = 1 if tty else 10
        if pct // step != shown[0] // step or done == total:
            shown[0] = pct
            bar = "#" * (pct // 4) + "." * (25 - pct // 4)
            end = "\r" if tty and done < total else "\n"
            print(f"  [{bar}] {pct:3d}% {done}/{total} bars", end=end, file=sys.stderr, flush=True)
    return show


def request_of(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from engine.backtest.session import Request
    from engine.sim.options import parse_time

    try:
        equity = Decimal(args.equity)
    except InvalidOperation:
        raise ValueError(f"--equity must be a number of USDT, got {args.equity!r}") from None
    if not equity.is_finite() or equity <= 0:
        raise ValueError(f"--equity must be > 0, got {args.equity}")
    times = []
    for flag, text in (("--from", args.start), ("--to", args.end)):
        try:
            times.append(parse_time(text) if text else None)
        except ValueError:
            raise ValueError(f"{flag} must be an ISO date/time or epoch ms, got {text!r}") from None
    if times[0] is not None and times[1] is not None and times[1] <= times[0]:
        raise ValueError("--to must be after --from")
    symbols = tuple(s.strip().upper() for s in args.symbols.split(",") if s.strip())
    return Request(symbols=symbols, interval=args.interval, candles=tuple(args.candles), marks=tuple(args.mark),
                   funding=tuple(args.funding), start_ms=times[0], end_ms=times[1], equity=equity,
                   accounts=args.accounts, policy=args.policy, ticks_per_bar=args.ticks_per_bar)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from engine.backtest.driver import BacktestError
    from engine.backtest.markdown import summary
    from engine.backtest.output import write_outputs
    from engine.backtest.policies import PolicyError, choose
    from engine.backtest.session import run_backtest
    from engine.backtest.source import SourceError

    if settings.log_level != "debug":  # the engine logs every order at INFO: thousands of lines here
        logging.getLogger("engine").setLevel(logging.WARNING)
    try:
        request = request_of(args)
        choice = choose(args.policy, settings)
        label = choice.label
        outcome = run_backtest(settings, request, model=choice.model, progress=_progress(args.quiet or args.json))
    except (SourceError, BacktestError, PolicyError, ConfigError, ValueError) as exc:
        print(f"slt backtest: {exc}", file=sys.stderr)
        return 2
    outcome.policy = label
    code = 0
    written = write_outputs(outcome, args.output) if args.output is not None else {}
    run_id = None
    if not args.no_store:
        from engine.backtest.store import save_run
        try:
            run_id = save_run(settings, outcome, label)
        except StoreUnavailable as exc:
            print(f"slt backtest: results not stored: {exc}", file=sys.stderr)
            code = 1
    mlflow_run = None
    if args.mlflow:
        from engine.backtest.tracking import TrackingFailed, log_run
        try:
            mlflow_run = log_run(settings, outcome, written)
        except TrackingFailed as exc:
            print(f"slt backtest: MLflow: {exc}", file=sys.stderr)
            code = 1
    if args.json:
        body = outcome.report.to_json()
        body.update(run_id=run_id, policy=label, data_hash=outcome.data_hash, mlflow_run=mlflow_run,
                    bars_per_second=round(outcome.run.bars * len(outcome.settings.symbols) /
                                          max(outcome.run.seconds, 1e-9), 1))
        print(json.dumps(body, indent=2))
        return code
    for line in summary(outcome.report):
        print(line)
    print(f"speed       {outcome.run.bars} bars x {len(outcome.settings.symbols)} symbols in {outcome.run.seconds:.1f} s "
          f"(policy {label})")
    if run_id:
        print(f"stored      run {run_id}: slt sql \"select * from backtest_runs where run_id = '{run_id}'\"")
    for name, path in written.items():
        print(f"wrote       {name}: {path}")
    if mlflow_run:
        print(f"mlflow      run {mlflow_run}")
    return code
