"""`slt bench`: the graded benchmark (the original's PerformanceBenchmark) against the configured
exchange (`SLT_EXCHANGE`, the simulator by default: it must be running, `slt up` or `slt sim`), printed
as a table with each check's grade and limits, and stored in `benchmark_results`.

    slt bench              # the graded table, then the report line; stored under a new run id
    slt bench --json       # {"run_id", "report", "results": [...]} with the exact figures
    slt bench --clients 8  # the concurrency check with 8 clients at once (default 5)

It trades nothing: orders go to `POST /fapi/v1/order/test` only, on its own connections, so the
running engine is not disturbed. Exit code 0 when every check was measured, 1 otherwise (the table
names why), 2 for bad options. This is for operators; `make bench` is the code's own benchmarks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

import msgspec

from engine.config import ConfigError, Settings
from engine.core.clock import wall_ms
from engine.core.errors import StoreUnavailable
from engine.health.benchmark import BenchAccount, BenchTarget, measure
from engine.health.grading import CHECKS, UNMEASURED, BenchmarkResult, graded, report, rows
from engine.wiring import trading_accounts

COLUMNS = ("check", "value", "unit", "grade", "A+ below", "A below", "B below", "what")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the run as JSON (exact figures)")
    parser.add_argument("--clients", type=int, default=5, metavar="N",
                        help="clients sending a test order at once in the concurrency check (default 5)")


def target(settings: Settings, clients: int = 5) -> BenchTarget:
    """What the benchmark measures against: the configured exchange, accounts, symbols and interval."""
    accounts = tuple(BenchAccount(a.id, a.api_key, a.api_secret) for a in trading_accounts(settings))
    return BenchTarget(settings.exchange_rest_url, settings.exchange_ws_url, accounts, tuple(settings.symbols),
                       settings.interval, clients=clients, timeout_ms=int(settings.exchange_timeout * 1000))


def run_benchmark(settings: Settings, clients: int = 5) -> list[BenchmarkResult]:
    """One graded run (measured now, not stored)."""
    run_id = f"bench-{wall_ms()}"
    return graded(run_id, asyncio.run(measure(target(settings, clients), run_id=run_id)), wall_ms())


def store(settings: Settings, results: list[BenchmarkResult]) -> int:
    """Write the run to `benchmark_results` (the lake is created if there is none); rows inserted."""
    from engine.store.lake import connect
    from engine.store.migrations import migrate
    from engine.store.writer import write_records

    with connect(settings, create=True) as lake:
        migrate(lake)
        return write_records(lake, results).inserted


def table(results: list[BenchmarkResult]) -> str:
    from engine.cli.tables import format_table

    return format_table(COLUMNS, [[row[c] for c in COLUMNS] for row in rows(results)])


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.clients < 1:
        print(f"slt bench: --clients must be at least 1, got {args.clients}", file=sys.stderr)
        return 2
    try:
        results = run_benchmark(settings, args.clients)
    except ConfigError as exc:  # no keys for a live or testnet exchange
        print(f"slt bench: {exc}", file=sys.stderr)
        return 2
    summary = report(results)
    if args.json:
        print(json.dumps({"run_id": results[0].run_id, "exchange": settings.exchange, "report": summary,
                          "results": msgspec.to_builtins(results)}, indent=2))
    else:
        print(f"Graded benchmark {results[0].run_id} against {settings.exchange} ({settings.exchange_rest_url})")
        print(table(results))
        print(f"{summary['passed_tests']} of {summary['total_tests']} checks passed (A+, A or B); "
              f"grades {summary['grade_distribution']}")
    try:
        stored = store(settings, results)
    except StoreUnavailable as exc:
        print(f"slt bench: the results were not stored: {exc}", file=sys.stderr)
        return 1
    if not args.json:
        print(f"stored {stored} rows in benchmark_results (run_id = '{results[0].run_id}')")
    return 0 if all(r.grade != UNMEASURED for r in results) and len(results) == len(CHECKS) else 1
