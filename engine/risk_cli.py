"""`slt risk`: the risk report from the store, and the kill switch's manual controls.

The report shows the latest regime per symbol with the inputs it was decided on, the risk
parameters in force, the table, and the kill switch, rebuilt from today's equity snapshots and
the operator's commands (engine.risk.history) exactly as the engine holds it: the same accounts
(`SLT_ACCOUNTS`), the same reads (`engine.store.risk_reads`), and commands at the time the engine
applied them. "Now" is the latest exchange time in the store (the simulator replays history, so
the wall clock would name the wrong day), never before the switch's last recorded event.
`--trip REASON` and `--reset` record an operator command that the running engine picks up within
a few seconds (it polls the store) and every restart replays.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from decimal import Decimal

from engine.accounts import accounts_from_settings
from engine.config import Settings
from engine.core.clock import ManualClock
from engine.core.errors import StoreUnavailable
from engine.core.types import HealthEvent
from engine.risk import RiskManager
from engine.risk.history import COMPONENT, Command, book_equity, command_event, replay
from engine.risk.parameters import RISK_TABLE
from engine.store.lake import ALIAS, Lake, connect
from engine.store.reader import query
from engine.store.risk_reads import kill_switch_history, latest_regimes
from engine.store.sql_cli import format_table
from engine.store.writer import write_records


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--trip", metavar="REASON", help="halt new entries until --reset (exits stay allowed)")
    group.add_argument("--reset", action="store_true", help="re-arm the kill switch")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        lake = connect(settings, read_only=not (args.trip or args.reset))
    except StoreUnavailable as exc:
        print(f"slt risk: {exc}", file=sys.stderr)
        return 1
    try:
        now = exchange_now(lake)
        if args.trip or args.reset:
            command = Command.TRIP if args.trip else Command.RESET
            write_records(lake, [command_event(command, now, args.trip or "manual reset", time.time_ns() // 10**6)])
        manager, events = risk_from_store(lake, settings, now)
    finally:
        lake.close()
    report = manager.report()
    recent = [{"at_ms": e.event_time, "status": e.status, "message": e.message} for e in events[-10:]]
    if args.json:
        print(json.dumps({**report.as_dict(), "kill_switch_events": recent}, indent=2))
        return 0
    print_report(report)
    if recent:
        print("\nKill switch events (latest 10: operator commands, applied, tripped, re-armed)")
        print(format_table(["at_ms", "status", "message"], [(e["at_ms"], e["status"], e["message"]) for e in recent]))
    return 0


def exchange_now(lake: Lake) -> int:
    now = query(lake, f"SELECT greatest((SELECT max(event_time) FROM {ALIAS}.equity_snapshots), "
                      f"(SELECT max(event_time) FROM {ALIAS}.candles), (SELECT max(window_end) FROM {ALIAS}.regimes), "
                      f"(SELECT max(event_time) FROM {ALIAS}.health_events WHERE component = ?)) AS now",
                [COMPONENT])[0]["now"]
    return int(now) if now is not None else time.time_ns() // 10**6


def risk_from_store(lake: Lake, settings: Settings, now: int) -> tuple[RiskManager, list[HealthEvent]]:
    """A RiskManager holding the stored regimes and the kill switch replayed up to `now` (the
    configured accounts' equity, as the engine sums it), and the kill switch's events."""
    accounts = [a.id for a in accounts_from_settings(settings)]
    snapshots, events = kill_switch_history(lake, now, accounts)
    switch = replay(Decimal(str(settings.max_daily_drawdown)), book_equity(snapshots), events)
    manager = RiskManager({}, clock=ManualClock(now), kill_switch=switch)
    for reading in latest_regimes(lake):
        manager.update_regime(reading)
    return manager, events


def print_report(report: object) -> None:
    data = report.as_dict()  # type: ignore[attr-defined]
    print("Regimes (latest per symbol, with their inputs)")
    print(format_table(["symbol", "regime", "change_pct", "volatility_pct", "window_end", "age_s"],
                       [(s, r["regime"], r["change_pct"], r["volatility_pct"], r["window_end"],
                         round(data["regime_age_s"][s], 1)) for s, r in data["regimes"].items()]))
    print(f"\nBook regime (strictest): {data['book_regime']}")
    print("\nRisk table")
    print(format_table(["regime", "risk_multiplier", "max_leverage", "position_ratio", "max_concurrent_orders"],
                       [(str(p.regime), p.risk_multiplier, p.max_leverage, p.position_ratio,
                         p.max_concurrent_orders) for p in RISK_TABLE.values()]))
    ks = data["kill_switch"]
    state = "ENTRIES ALLOWED" if ks["entries_allowed"] else "TRIPPED: new entries blocked, exits allowed"
    print(f"\nKill switch: {state}")
    print(f"  limit {Decimal(ks['limit']):.2%} daily drawdown; day {ks['day'] or '-'}; "
          f"peak {ks['day_peak']}; equity {ks['equity']}; drawdown {Decimal(ks['drawdown']):.2%}")
    if ks["trip"]:
        print(f"  tripped at {ks['trip']['at_ms']}: {ks['trip']['reason']}")
        if ks["rearms_at_ms"]:
            print(f"  re-arms at {ks['rearms_at_ms']} (next UTC midnight) or on `slt risk --reset`")
