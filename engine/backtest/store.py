"""A finished backtest into the store: its run row and its trades in one transaction (all or none)."""

from __future__ import annotations

import json

from engine.backtest.report import join_trades
from engine.backtest.session import Outcome
from engine.config import Settings
from engine.core.clock import wall_ms
from engine.core.types import TradeEntry, TradeExit
from engine.store.backtests import BacktestRun, BacktestTrade


def records_of(outcome: Outcome, policy: str, run_id: str | None = None) -> list[BacktestRun | BacktestTrade]:
    """The run row first, then one row per closed trade."""
    report, run, settings = outcome.report, outcome.run, outcome.settings
    now = wall_ms()
    run_id = run_id or f"bt-{now}-{outcome.data_hash[:8] or 'files'}"
    c, t = report.curve, report.trades
    accounts = ",".join(f"{a.id}:{a.type.value}:{a.weight}:{a.group.value}" for a in settings.accounts)
    row = BacktestRun(run_id, policy, settings.interval, ",".join(settings.symbols), accounts, report.start_ms,
                      report.end_ms, c.bars, c.initial_equity, c.final_equity, c.net_pnl, c.fees, c.funding,
                      t.trades, t.win_rate, t.profit_factor, t.expectancy, c.sharpe, c.sortino, c.max_drawdown,
                      c.max_drawdown_ms, c.exposure, c.turnover, outcome.data_hash, json.dumps(list(report.warnings)),
                      json.dumps(report.to_json(), separators=(",", ":")), run.seconds, now, now)
    trades = [BacktestTrade(run_id, x.trade_id, x.account, x.symbol, x.side, x.quantity, x.entry_price, x.exit_price,
                            x.opened_at, x.realized, x.fees, x.funding, x.net, x.reason, x.regime, x.closed_at, now)
              for x in join_trades(run.records.of(TradeEntry), run.records.of(TradeExit))]
    return [row, *trades]


def save_run(settings: Settings, outcome: Outcome, policy: str) -> str:
    """Write the run (creating the lake and applying migrations when needed); its run id."""
    from engine.store.lake import connect
    from engine.store.migrations import migrate
    from engine.store.writer import write_records

    records = records_of(outcome, policy)
    with connect(settings, create=True) as lake:
        migrate(lake)
        write_records(lake, records)
    return records[0].run_id
