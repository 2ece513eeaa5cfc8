"""The `slt` command (`python -m engine.cli`). Each subcommand is one module of this package exposing
`add_arguments(parser)` and `run(args, settings) -> int`; this file only dispatches. `tables` is the
one formatting helper every table command prints through."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from engine.config import ConfigError, load_settings
from engine.core.errors import StoreUnavailable
from engine.logs import setup_logging

# name -> (module, one-line help). A module is imported when its command runs (all for `slt --help`).
COMMANDS: dict[str, tuple[str, str]] = {
    "config": ("engine.cli.config", "show the effective configuration (secrets masked)"),
    "sim": ("engine.cli.sim", "run the local Binance USD-M exchange simulator until Ctrl-C"),
    "indicators": ("engine.cli.indicators", "write every indicator and ICT column of a klines Parquet file to "
                                            "another (-o)"),
    "up": ("engine.cli.up", "start Prefect, MLflow, the store and the trading engine (with SLT_EXCHANGE=sim "
                            "the exchange simulator first); Ctrl-C stops all"),
    "sql": ("engine.cli.sql", "query the store (read-only); without a query, open the DuckDB prompt"),
    "accounts": ("engine.cli.accounts", "performance per account and group, merged positions, and close-all "
                                        "per group (--close-all)"),
    "risk": ("engine.cli.risk", "regimes, risk parameters and the kill switch (--trip/--reset)"),
    "feed": ("engine.cli.feed", "run the market data feed alone, writing closed candles to the store"),
    "pnl": ("engine.cli.pnl", "PnL per symbol and account: realised, fees, funding, unrealised, trades, win rate"),
    "train": ("engine.cli.train", "train the signal model walk-forward, print its figures with intervals and the "
                                  "gate's decision, register it in MLflow (champion only with an edge)"),
    "learn": ("engine.cli.learn", "learn train (= slt train) and learn evaluate (= slt model evaluate): the signal "
                                  "model's training and its test on candles it never saw"),
    "model": ("engine.cli.model", "the signal model in MLflow: champion and challenger, promote VERSION, rollback, "
                                  "evaluate on unseen candles"),
    "flows": ("engine.cli.flows", "the Prefect deployments (schedule, last and next run); `run NAME` starts one "
                                  "now and follows it to its end"),
    "backtest": ("engine.cli.backtest", "replay a period through the engine's own decisions against the simulator's "
                                        "matching, in process; report, plot and store rows (-o DIR, --json)"),
    "health": ("engine.cli.health", "the running engine's detailed health report (--json), from its /health"),
    "bench": ("engine.cli.bench", "the graded benchmark (A+/A/B/C) against the configured exchange, test orders "
                                  "only; printed and stored in benchmark_results (--json)"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `only`, just that command's module is imported for its options."""
    parser = argparse.ArgumentParser(prog="slt", description="SelfLearningTrader")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(_module=module)
        if only is None or only == name:
            importlib.import_module(module).add_arguments(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(chosen if chosen in COMMANDS else None).parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"slt: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level)
    try:
        return int(importlib.import_module(args._module).run(args, settings) or 0)
    except StoreUnavailable as exc:  # no lake yet, or a missing DuckDB part: say so, no traceback
        print(f"slt {args.command}: {exc}", file=sys.stderr)
        return 1

