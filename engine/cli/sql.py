"""`slt sql`: ad-hoc queries over the lake, attached read-only, so they work while the engine and
other processes write. The table shows times as ISO-8601 UTC and numbers rounded for reading
(engine.cli.tables); `--csv` prints the exact values.

    slt sql "SELECT symbol, sum(net_pnl) FROM trades GROUP BY symbol"   # a table
    slt sql --csv "SELECT * FROM fills"                                 # CSV
    slt sql                                                             # the DuckDB prompt

The prompt is the real DuckDB CLI of the `duckdb-cli` package (same DuckDB version), started with
an init file (written to data/run/duckdb-init.sql) that loads the two extensions by path, attaches
the lake read-only and makes it the default catalog.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import sys
import time
from pathlib import Path

import duckdb

from engine.cli.tables import EPOCH_MS_COLUMNS, exact, format_table
from engine.config import Settings
from engine.core.errors import StoreUnavailable
from engine.store.lake import ALIAS, attach_sql, connect, load_sql, parse_catalog


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", nargs="?", help="SQL to run; without it, open the DuckDB prompt")
    parser.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    parser.add_argument("--timing", action="store_true",
                        help="print to stderr the ms spent loading extensions, attaching the lake and querying")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.query is None:
        return prompt(settings)
    lake = connect(settings, read_only=True)
    attached = time.perf_counter()
    try:
        with lake.reading() as cur:
            cur.execute(f"USE {ALIAS}")  # the user's unqualified table names mean the lake
            result = cur.execute(args.query)
            columns = [d[0] for d in result.description or ()]
            rows = result.fetchall()
    except duckdb.Error as exc:
        print(f"slt sql: {exc}", file=sys.stderr)
        return 1
    finally:
        lake.close()
    done = time.perf_counter()
    if args.timing:
        print(f"load_ms={lake.timings['load'] * 1000:.1f} attach_ms={lake.timings['attach'] * 1000:.1f} "
              f"query_ms={(done - attached) * 1000:.1f}", file=sys.stderr)
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[exact(v) for v in row] for row in rows])
    elif columns:
        print(format_table(columns, rows, times=EPOCH_MS_COLUMNS))
    return 0


def duckdb_binary() -> Path:
    spec = importlib.util.find_spec("duckdb_cli")
    if spec is None or spec.origin is None:
        raise StoreUnavailable("the duckdb-cli package is not installed (pip install duckdb-cli)")
    path = Path(spec.origin).parent / "duckdb"
    if not path.is_file():
        raise StoreUnavailable(f"the DuckDB CLI binary is missing at {path}")
    return path


def init_file(settings: Settings) -> Path:
    """Write data/run/duckdb-init.sql: load the extensions, attach the lake read-only, USE it."""
    catalog = parse_catalog(settings.store_catalog)
    if catalog.path is not None and not catalog.path.exists():
        raise StoreUnavailable(f"no DuckLake catalog at {catalog.path}: run `slt up` (or `make run`) once to create it")
    lines = ["-- written by `slt sql`: the lake, read-only", *[s + ";" for s in load_sql()],
             attach_sql(catalog, None, read_only=True) + ";", f"USE {ALIAS};"]
    path = settings.run_dir / "duckdb-init.sql"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def prompt(settings: Settings) -> int:
    """Replace this process with the DuckDB prompt over the lake."""
    binary, init = duckdb_binary(), init_file(settings)
    sys.stdout.flush()
    os.execv(binary, [str(binary), "-init", str(init)])
    return 0  # not reached
