"""`slt accounts`: the configured accounts with their performance per account and per group
(from closed trades in the store) and the merged positions across accounts (latest snapshots);
numbers rounded for reading in the tables, exact in `--json`.

Reads the store read-only, so it works while the engine trades. `--close-all [REASON]` (with
`--group`) records an operator command the running engine applies (engine.accounts.commands)."""

from __future__ import annotations

import argparse
import json

import msgspec

from engine.accounts import AccountGroup, merge_positions, performance_report
from engine.accounts.commands import close_all_command
from engine.accounts.performance import PerformanceStats
from engine.cli.tables import format_table
from engine.config import Settings
from engine.core.clock import wall_ms
from engine.core.types import TradeExit
from engine.store import reader
from engine.store.lake import connect
from engine.store.risk_reads import exchange_now
from engine.store.writer import write_records
from engine.wiring import accounts_from_settings

STATS = ("trades", "wins", "losses", "win_rate", "realized_pnl", "fees", "funding", "net_pnl", "max_drawdown")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--group", choices=("aggressive", "conservative", "neutral"), help="only this group")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--close-all", metavar="REASON", nargs="?", const="operator close-all",
                        help="ask the running engine to close every position of the --group's accounts (every "
                             "account without --group) at market; applied within seconds, or when it starts")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.close_all is not None:
        return close_all(settings, AccountGroup(args.group) if args.group else None, args.close_all)
    accounts = accounts_from_settings(settings)
    if args.group:
        accounts = tuple(a for a in accounts if str(a.group) == args.group)
    lake = connect(settings, read_only=True)
    try:
        wanted = {a.id for a in accounts}
        exits = [t for t in reader.read(lake, TradeExit) if t.account in wanted]
        positions = [p for p in reader.positions(lake) if p.account in wanted]
    finally:
        lake.close()
    report = performance_report(exits, accounts)
    merged = merge_positions(positions)
    if args.json:
        print(json.dumps({"performance": report.as_dict(), "merged_positions": msgspec.to_builtins(merged)},
                         indent=2))
        return 0
    rows = [(a.id, str(a.type), str(a.group), a.weight, *_row(report.accounts[a.id])) for a in accounts]
    print("Accounts")
    print(format_table(["account", "type", "group", "weight", *STATS], rows))
    print("\nGroups")
    print(format_table(["group", "accounts", *STATS],
                       [(g, report.account_groups.get(g, 0), *_row(s)) for g, s in sorted(report.groups.items())]
                       + [("total", report.total_accounts, *_row(report.total))]))
    print("\nMerged positions")
    print(format_table(["symbol", "net_quantity", "entry_price", "unrealized_pnl", "accounts"],
                       [(s, m.net_quantity, m.entry_price, m.unrealized_pnl, ",".join(m.accounts))
                        for s, m in sorted(merged.items())]))
    return 0


def _row(stats: PerformanceStats) -> tuple[object, ...]:
    return tuple(getattr(stats, f) for f in STATS)


def close_all(settings: Settings, group: AccountGroup | None, reason: str) -> int:
    """Record the command for the engine (it owns the books and the orders; see engine.accounts.commands)."""
    lake = connect(settings)
    try:
        command = close_all_command(group, reason, exchange_now(lake), wall_ms())
        write_records(lake, [command])
    finally:
        lake.close()
    scope = f"the {group} accounts" if group else "every account"
    print(f"close-all for {scope} recorded ({command.event_id}); the engine applies it within seconds "
          "(`slt sql \"SELECT * FROM health_events WHERE component = 'accounts.batch'\"` shows what it did)")
    return 0
