"""The store's records of backtests (migration 6): one `BacktestRun` per run with its headline
figures and the full report as JSON, one `BacktestTrade` per closed round trip, keyed by run id,
so one DuckDB query compares runs:

    SELECT run_id, policy, net_pnl, sharpe, max_drawdown FROM backtest_runs ORDER BY event_time DESC;
    SELECT run_id, regime, count(*), sum(net_pnl) FROM backtest_trades GROUP BY ALL;

A run is written in one transaction (`engine.store.writer.write_records`): its row and all its trades,
or nothing."""

from __future__ import annotations

from decimal import Decimal

import msgspec


class BacktestRun(msgspec.Struct, frozen=True):
    run_id: str
    policy: str
    interval: str
    symbols: str                    # comma-separated
    accounts: str                   # SLT_ACCOUNTS syntax, "" for the single account
    start_ms: int
    end_ms: int
    bars: int
    initial_equity: Decimal
    final_equity: Decimal
    net_pnl: Decimal                # after fees and funding, open positions at the exchange's mark
    fees: Decimal
    funding: Decimal
    trades: int
    win_rate: float
    profit_factor: float | None
    expectancy: Decimal
    sharpe: float | None
    sortino: float | None
    max_drawdown: float
    max_drawdown_ms: int
    exposure: float
    turnover: float
    data_hash: str                  # digest of the bars replayed
    warnings: str                   # JSON list
    report: str                     # JSON: the whole report (per symbol, per regime)
    seconds: float
    event_time: int = 0             # when the run finished (wall ms)
    received_time: int = 0

    @property
    def record_id(self) -> str:
        return self.run_id


class BacktestTrade(msgspec.Struct, frozen=True):
    run_id: str
    trade_id: str
    account: str
    symbol: str
    side: str
    quantity: Decimal
    entry_price: Decimal
    exit_price: Decimal
    opened_at: int
    realized_pnl: Decimal
    fees: Decimal
    funding: Decimal
    net_pnl: Decimal
    reason: str
    regime: str                     # the regime the entry was decided under
    event_time: int = 0             # the exit (exchange time)
    received_time: int = 0

    @property
    def record_id(self) -> str:
        return f"{self.run_id}:{self.account}:{self.trade_id}"
