"""`slt train`: train the signal model on the bundled history (or given files), validate it
walk-forward, print every figure with its interval and base rate and the gate's decision, then log
and register it in MLflow (`SLT_MLFLOW_TRACKING_URI`, the server `make run` starts).

    slt train                                   # bundled 1h history of SLT_SYMBOLS (data/market), extended by
                                                # the store's candles, plus the engine's own closed trades
    slt train --no-store                        # the bundled history alone
    slt train --candles a.parquet b.parquet [--funding ...] [--mark ...]
    slt train --no-register                     # figures only, MLflow untouched

Exit code 0 when trained and registered (promoted or not: the decision says which), 1 when MLflow
does not answer or fails (no alias moved), 2 for unusable or too little data.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import polars as pl

from engine.config import Settings
from engine.core.errors import DataError
from engine.core.priority import lower_priority
from engine.learning.dataset import Dataset, MarketData
from engine.learning.labels import ExitSpec
from engine.learning.lake_sources import training_sources
from engine.learning.registry import RegistrationFailed, RegistryUnavailable, publish
from engine.learning.report import render
from engine.learning.sources import bundled, from_files
from engine.learning.training import train
from engine.learning.validation import NotEnoughData

HISTORY_INTERVAL = "1h"  # the interval the bundled history covers in full


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--candles", nargs="+", type=Path, metavar="FILE",
                        help="klines Parquet files in the data/market layout, one per symbol")
    parser.add_argument("--funding", nargs="+", type=Path, default=[], metavar="FILE",
                        help="funding Parquet files, matched to --candles by symbol")
    parser.add_argument("--mark", nargs="+", type=Path, default=[], metavar="FILE",
                        help="mark-price klines, matched to --candles by symbol")
    parser.add_argument("--interval", default=HISTORY_INTERVAL, help="bundled history's interval (default 1h)")
    parser.add_argument("--no-register", action="store_true", help="print the figures, do not touch MLflow")
    parser.add_argument("--no-store", action="store_true",
                        help="bundled history only: not the store's candles nor the engine's own trades")


def history(args: argparse.Namespace, settings: Settings) -> list[MarketData]:
    if not args.candles:
        market = settings.market_data_dir or settings.data_dir / "market"
        return [bundled(market, symbol, args.interval) for symbol in settings.symbols]
    return _files(args)


def sources(args: argparse.Namespace, settings: Settings) -> tuple[list[MarketData], pl.DataFrame | None]:
    """Given files as they are; otherwise the bundled history extended by the store's candles, and
    the engine's own closed trades (unless --no-store)."""
    if args.candles or getattr(args, "no_store", False):
        return history(args, settings), None
    found = training_sources(settings, settings.symbols, args.interval)
    print(f"  {found.note}", file=sys.stderr)
    return found.history, found.own


def _files(args: argparse.Namespace) -> list[MarketData]:
    out = []
    for candles in args.candles:
        symbol = _symbol(candles)
        funding = next((p for p in args.funding if _symbol(p) == symbol), None)
        mark = next((p for p in args.mark if _symbol(p) == symbol), None)
        out.append(from_files(candles, mark, funding))
    return out


def _symbol(path: Path) -> str:
    return path.name.split("-", 1)[0]


def code_commit() -> str:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                              cwd=Path(__file__).resolve().parent, check=False)
    except OSError:
        return "unknown"
    return done.stdout.strip() or "unknown"


def run(args: argparse.Namespace, settings: Settings) -> int:
    lower_priority()
    try:
        data, own = sources(args, settings)
        training = train(data, ExitSpec.from_settings(settings), on_dataset=_announce, own=own,
                         progress=lambda done, total: print(f"  fold {done}/{total} done", file=sys.stderr))
    except (DataError, NotEnoughData, ValueError) as exc:
        print(f"slt train: {exc}; nothing registered", file=sys.stderr)
        return 2
    if args.no_register:
        print(render(training, training.decision))
        return 0
    try:
        published = publish(training, settings.mlflow_tracking_uri, code_commit=code_commit())
    except (RegistryUnavailable, RegistrationFailed) as exc:
        print(render(training, training.decision))
        print(f"slt train: {exc}", file=sys.stderr)
        return 1
    print(render(training, published.decision))
    print(f"MLflow: run {published.run_id}, signal-model version {published.version}, "
          f"aliases {', '.join(published.aliases)} ({settings.mlflow_tracking_uri})")
    if not published.decision.promote:
        print("The engine keeps the bootstrap policy.")
    return 0


def _announce(dataset: Dataset) -> None:
    print(f"  dataset: {dataset.rows} signals, {len(dataset.features)} features ({dataset.version}); "
          "walk-forward...", file=sys.stderr)
