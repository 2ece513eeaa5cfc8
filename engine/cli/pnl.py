"""`slt pnl`: the PnL report per symbol and account (realised, fees, funding, net, unrealised, trades,
win rate; see `engine.execution.report`). It reads the store read-only, so it works while the engine
runs; what the engine recorded in the last moments may still be in its journal (about a second).

    slt pnl                  # every account
    slt pnl --account main   # one account
    slt pnl --json           # machine-readable, exact
"""

from __future__ import annotations

import argparse
import json

from engine.cli.tables import format_table
from engine.config import Settings
from engine.core.types import TradeExit
from engine.execution.report import TOTAL, PnlReport, pnl_report
from engine.store import connect, reader


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--account", help="only this account")
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of a table")


def run(args: argparse.Namespace, settings: Settings) -> int:
    lake = connect(settings, read_only=True)
    try:
        fills = reader.fills(lake, args.account)
        funding = reader.funding(lake, args.account)
        positions = reader.positions(lake, args.account)
        exits = reader.read(lake, TradeExit, **{"account = ?": args.account})
    finally:
        lake.close()
    report = pnl_report(fills, funding, positions, exits)
    if args.json:
        for line in report.lines:
            print(json.dumps(line.as_dict()))
    else:
        print(render(report))
    return 0


MONEY = ("realised", "fees", "funding", "net", "unrealised")


def render(report: PnlReport) -> str:
    """The table: money to 8 decimals (the exchange's precision), the position rounded for reading."""
    rows = [(x.account, "total" if x.symbol == TOTAL else x.symbol, x.realized, x.fees, x.funding, x.net,
             x.unrealized, x.position, x.trades, f"{x.win_rate:.0%}" if x.win_rate is not None else "-")
            for x in report.lines]
    table = format_table(["account", "symbol", *MONEY, "position", "trades", "win rate"], rows,
                         places=dict.fromkeys(MONEY, 8))
    return table if rows else table + "\n(no fills, funding or positions recorded yet)"
