"""`slt risk`: the risk report from the store, and the kill switch's manual controls.

The report shows the latest regime per symbol with the inputs it was decided on, the risk
parameters in force, the table, and the kill switch, rebuilt from today's equity snapshots and
the operator's commands (engine.risk.history) exactly as the engine holds it: the same accounts
(`SLT_ACCOUNTS`), the same reads (`engine.store.risk_reads`), and commands at the time the engine
applied them. "Now" is the latest exchange time in the store (the simulator replays history, so
the wall clock would name the wrong day), never before the switch's last recorded event.
Tables show times as ISO-8601 UTC and numbers rounded for reading; `--json` keeps the exact values
and the epoch-ms times. `--trip REASON` and `--reset` record an operator command that the running
engine picks up within a few seconds (it polls the store) and every restart replays.
"""

from __future__ import annotations

import argparse
import json
from decimal import Decimal

from engine.cli.tables import format_table, iso_utc, readable
from engine.config import Settings
from engine.core.clock import wall_ms
from engine.risk import RiskReport
from engine.risk.history import Command, command_event
from engine.risk.parameters import RISK_TABLE
from engine.store.lake import connect
from engine.store.risk_reads import exchange_now, risk_from_store
from engine.store.writer import write_records
from engine.wiring import accounts_from_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--trip", metavar="REASON", help="halt new entries until --reset (exits stay allowed)")
    group.add_argument("--reset", action="store_true", help="re-arm the kill switch")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (exact values, times in ms)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    lake = connect(settings, read_only=not (args.trip or args.reset))
    try:
        now = exchange_now(lake)
        if args.trip or args.reset:
            command = Command.TRIP if args.trip else Command.RESET
            write_records(lake, [command_event(command, now, args.trip or "manual reset", wall_ms())])
        accounts = [a.id for a in accounts_from_settings(settings)]
        manager, events = risk_from_store(lake, accounts, Decimal(str(settings.max_daily_drawdown)), now)
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
        print(format_table(["at", "status", "message"], [(e["at_ms"], e["status"], e["message"]) for e in recent],
                           times={"at"}))
    return 0


def print_report(report: RiskReport) -> None:
    print("Regimes (latest per symbol, with their inputs)")
    print(format_table(["symbol", "regime", "change_pct", "volatility_pct", "window_end", "age_s"],
                       [(s, str(r.regime), r.change_pct, r.volatility_pct, r.window_end, report.regime_age_s[s])
                        for s, r in report.regimes.items()], times={"window_end"}))
    print(f"\nBook regime (strictest): {report.book_regime}")
    print("\nRisk table")
    print(format_table(["regime", "risk_multiplier", "max_leverage", "position_ratio", "max_concurrent_orders"],
                       [(str(p.regime), p.risk_multiplier, p.max_leverage, p.position_ratio,
                         p.max_concurrent_orders) for p in RISK_TABLE.values()]))
    ks = report.kill_switch
    state = "ENTRIES ALLOWED" if ks.entries_allowed else "TRIPPED: new entries blocked, exits allowed"
    print(f"\nKill switch: {state}")
    print(f"  limit {ks.limit:.2%} daily drawdown; day {ks.day or '-'}; peak {_amount(ks.day_peak)}; "
          f"equity {_amount(ks.equity)}; drawdown {ks.drawdown:.2%}")
    if ks.trip:
        print(f"  tripped at {iso_utc(ks.trip.at_ms)}: {ks.trip.reason}")
        if ks.rearms_at_ms:
            print(f"  re-arms at {iso_utc(ks.rearms_at_ms)} (next UTC midnight) or on `slt risk --reset`")


def _amount(value: Decimal | None) -> str:
    return "-" if value is None else readable(value)
