"""`slt indicators INPUT.parquet -o OUTPUT.parquet`: every indicator and ICT column of a klines file.

Reads candles in the layout of data/market (open_time, open, high, low, close, volume, symbol,
interval; one symbol and interval per file), writes `open_time` plus every column of
`engine.indicators.COLUMNS` as Parquet. Large files show progress on stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TextIO

import polars as pl

from engine.config import Settings
from engine.core.errors import SltError
from engine.indicators import compute

PROGRESS_MIN_BARS = 50_000


class ProgressPrinter:
    """Plain progress on a stream: redrawn in place on a terminal, one line per 10 % otherwise."""

    def __init__(self, out: TextIO, total: int) -> None:
        self.out = out
        self.total = total
        self.tty = out.isatty()
        self.started = time.monotonic()
        self._shown = -1

    def __call__(self, stage: str, done: int, total: int) -> None:
        step = 1 if self.tty else 10
        percent = 100 * done // max(total, 1)
        if percent // step == self._shown and done < total:
            return
        self._shown = percent // step
        name = {"standard": "standard indicators", "ict": "ICT features"}.get(stage, stage)
        line = f"indicators: {name} {percent:3d}% ({done:,}/{total:,} bars, {time.monotonic() - self.started:.1f} s)"
        self.out.write(("\r" + line + ("\n" if done >= total else "")) if self.tty else line + "\n")
        self.out.flush()
        if done >= total:
            self._shown = -1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="klines Parquet file (data/market layout)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="Parquet file to write")
    parser.add_argument("--backend", choices=("auto", "talib", "numpy"), default="auto",
                        help="standard indicators through TA-Lib or NumPy/Polars (default: TA-Lib if installed)")
    parser.add_argument("--no-ict", action="store_true", help="skip the ICT features")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def run(args: argparse.Namespace, settings: Settings) -> int:
    del settings  # the command needs no configuration
    try:
        candles = pl.read_parquet(args.input)
    except (OSError, pl.exceptions.PolarsError) as exc:
        print(f"slt indicators: cannot read {args.input}: {exc}", file=sys.stderr)
        return 2
    for column in ("symbol", "interval"):
        if column in candles.columns and candles.get_column(column).n_unique() > 1:
            print(f"slt indicators: {args.input} mixes several values of {column!r}; "
                  "indicators need one symbol and interval per file", file=sys.stderr)
            return 2
    show = not args.quiet and candles.height >= PROGRESS_MIN_BARS
    progress = ProgressPrinter(sys.stderr, candles.height) if show else None
    try:
        frame = compute(candles, backend=args.backend, ict=not args.no_ict, progress=progress)
    except SltError as exc:
        print(f"slt indicators: {args.input}: {exc}", file=sys.stderr)
        return 1
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(args.output, compression="zstd")
    except OSError as exc:
        print(f"slt indicators: cannot write {args.output}: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(f"wrote {frame.height:,} bars x {frame.width} columns to {args.output}", file=sys.stderr)
    return 0
