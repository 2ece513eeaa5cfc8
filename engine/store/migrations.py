"""Versioned schema migrations, applied once each and recorded in `schema_migrations`.

Adding one is a one-entry change: append `Migration(<next version>, "<name>", "<SQL>")` to
`MIGRATIONS` (statements run with the lake as the default catalog; never edit an applied one).
Each migration and its `schema_migrations` row commit in one DuckLake transaction, under the
catalog's writer lock, after re-reading what is applied: two processes starting at once apply
each migration exactly once (the loser sees it applied). Without the lock (Postgres catalog) a
concurrent duplicate fails to commit and is retried, then seen as applied.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import duckdb

from engine.store.lake import Lake

log = logging.getLogger(__name__)

MONEY = "DECIMAL(38,12)"  # see schema.py for why not (38,18)
TIMES = "event_time BIGINT NOT NULL, received_time BIGINT NOT NULL"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


INITIAL = f"""
CREATE TABLE candles (
    record_id VARCHAR NOT NULL, symbol VARCHAR NOT NULL, interval VARCHAR NOT NULL,
    open_time BIGINT NOT NULL, close_time BIGINT NOT NULL,
    open DOUBLE NOT NULL, high DOUBLE NOT NULL, low DOUBLE NOT NULL, close DOUBLE NOT NULL,
    volume DOUBLE NOT NULL, closed BOOLEAN NOT NULL, {TIMES});

CREATE TABLE order_events (
    record_id VARCHAR NOT NULL, client_order_id VARCHAR NOT NULL, account VARCHAR NOT NULL,
    symbol VARCHAR NOT NULL, side VARCHAR NOT NULL, type VARCHAR NOT NULL, quantity {MONEY} NOT NULL,
    price {MONEY}, stop_price {MONEY}, reduce_only BOOLEAN NOT NULL, time_in_force VARCHAR,
    signal_id VARCHAR NOT NULL, status VARCHAR NOT NULL, exchange_order_id VARCHAR,
    filled_quantity {MONEY} NOT NULL, average_price {MONEY}, {TIMES});

CREATE TABLE fills (
    record_id VARCHAR NOT NULL, account VARCHAR NOT NULL, symbol VARCHAR NOT NULL,
    trade_id VARCHAR NOT NULL, client_order_id VARCHAR NOT NULL, exchange_order_id VARCHAR NOT NULL,
    side VARCHAR NOT NULL, quantity {MONEY} NOT NULL, price {MONEY} NOT NULL, fee {MONEY} NOT NULL,
    fee_asset VARCHAR NOT NULL, realized_pnl {MONEY} NOT NULL, maker BOOLEAN NOT NULL, {TIMES});

CREATE TABLE trade_entries (
    record_id VARCHAR NOT NULL, trade_id VARCHAR NOT NULL, account VARCHAR NOT NULL,
    symbol VARCHAR NOT NULL, side VARCHAR NOT NULL, quantity {MONEY} NOT NULL, price {MONEY} NOT NULL,
    fee {MONEY} NOT NULL, signal_id VARCHAR NOT NULL, confidence DOUBLE NOT NULL,
    win_probability DOUBLE NOT NULL, regime VARCHAR NOT NULL, stop_loss {MONEY}, take_profit {MONEY},
    {TIMES});

CREATE TABLE trade_exits (
    record_id VARCHAR NOT NULL, trade_id VARCHAR NOT NULL, account VARCHAR NOT NULL,
    symbol VARCHAR NOT NULL, quantity {MONEY} NOT NULL, price {MONEY} NOT NULL,
    realized_pnl {MONEY} NOT NULL, fees {MONEY} NOT NULL, funding {MONEY} NOT NULL,
    reason VARCHAR NOT NULL, {TIMES});

CREATE TABLE position_snapshots (
    record_id VARCHAR NOT NULL, account VARCHAR NOT NULL, symbol VARCHAR NOT NULL,
    quantity {MONEY} NOT NULL, entry_price {MONEY} NOT NULL, mark_price {MONEY} NOT NULL,
    unrealized_pnl {MONEY} NOT NULL, leverage INTEGER NOT NULL, margin_mode VARCHAR NOT NULL, {TIMES});

CREATE TABLE equity_snapshots (
    record_id VARCHAR NOT NULL, account VARCHAR NOT NULL, wallet_balance {MONEY} NOT NULL,
    unrealized_pnl {MONEY} NOT NULL, available_balance {MONEY} NOT NULL, {TIMES});

CREATE TABLE health_events (
    record_id VARCHAR NOT NULL, event_id VARCHAR NOT NULL, component VARCHAR NOT NULL,
    status VARCHAR NOT NULL, message VARCHAR NOT NULL, detail VARCHAR NOT NULL, {TIMES});

-- The latest known state of each order (order_events keeps every state change).
CREATE VIEW orders AS
SELECT * EXCLUDE (rn) FROM (
    SELECT *, row_number() OVER (
        PARTITION BY account, client_order_id
        ORDER BY event_time DESC, status IN ('FILLED', 'CANCELED', 'EXPIRED', 'REJECTED') DESC,
                 filled_quantity DESC, received_time DESC) AS rn
    FROM order_events) WHERE rn = 1;

-- Round trips: an entry and (once closed) its exit, with net PnL = realised - fees + funding.
CREATE VIEW trades AS
SELECT coalesce(e.trade_id, x.trade_id) AS trade_id, coalesce(e.account, x.account) AS account,
       coalesce(e.symbol, x.symbol) AS symbol, e.side, coalesce(e.quantity, x.quantity) AS quantity,
       e.price AS entry_price, x.price AS exit_price, e.fee AS entry_fee,
       epoch_ms(e.event_time) AS opened_at, epoch_ms(x.event_time) AS closed_at,
       e.signal_id, e.confidence, e.win_probability, e.regime, x.reason AS exit_reason,
       x.realized_pnl, x.fees, x.funding, x.realized_pnl - x.fees + x.funding AS net_pnl,
       x.trade_id IS NOT NULL AS closed
FROM trade_entries e FULL OUTER JOIN trade_exits x ON x.trade_id = e.trade_id AND x.account = e.account;

-- The latest snapshot of each position.
CREATE VIEW positions AS
SELECT * EXCLUDE (rn) FROM (
    SELECT *, row_number() OVER (PARTITION BY account, symbol ORDER BY event_time DESC, received_time DESC) AS rn
    FROM position_snapshots) WHERE rn = 1;

-- Account value over time.
CREATE VIEW equity AS
SELECT account, epoch_ms(event_time) AS taken_at, wallet_balance + unrealized_pnl AS equity, wallet_balance,
       unrealized_pnl, available_balance, event_time
FROM equity_snapshots;
"""

REGIMES = f"""
CREATE TABLE regimes (
    record_id VARCHAR NOT NULL, symbol VARCHAR NOT NULL, interval VARCHAR NOT NULL, regime VARCHAR NOT NULL,
    change_pct DOUBLE NOT NULL, volatility_pct DOUBLE NOT NULL, close_start DOUBLE NOT NULL,
    close_end DOUBLE NOT NULL, window_start BIGINT NOT NULL, window_end BIGINT NOT NULL,
    bar_count BIGINT NOT NULL, {TIMES});

-- The latest regime per symbol, with the inputs it was decided on.
CREATE VIEW regime_latest AS
SELECT * EXCLUDE (rn) FROM (
    SELECT *, row_number() OVER (PARTITION BY symbol ORDER BY window_end DESC, received_time DESC) AS rn
    FROM regimes) WHERE rn = 1;
"""

FUNDING_AND_SIGNALS = f"""
CREATE TABLE funding_payments (
    record_id VARCHAR NOT NULL, account VARCHAR NOT NULL, symbol VARCHAR NOT NULL, income_id VARCHAR NOT NULL,
    amount {MONEY} NOT NULL, asset VARCHAR NOT NULL, {TIMES});

CREATE TABLE signals (
    record_id VARCHAR NOT NULL, signal_id VARCHAR NOT NULL, policy VARCHAR NOT NULL, symbol VARCHAR NOT NULL,
    interval VARCHAR NOT NULL, side VARCHAR NOT NULL, confidence DOUBLE NOT NULL, win_probability DOUBLE NOT NULL,
    price DOUBLE NOT NULL, atr DOUBLE NOT NULL, admitted BOOLEAN NOT NULL, phase VARCHAR NOT NULL,
    reason VARCHAR NOT NULL, candle_open_time BIGINT NOT NULL, {TIMES});
"""

BENCHMARKS = f"""
-- One row per check of each graded benchmark run (`slt bench`, the benchmarks flow): the value in its
-- unit, the grade (A+, A, B, C; '-' when it could not be measured) and the figures behind it (JSON).
CREATE TABLE benchmark_results (
    record_id VARCHAR NOT NULL, run_id VARCHAR NOT NULL, check_name VARCHAR NOT NULL, value DOUBLE,
    unit VARCHAR NOT NULL, grade VARCHAR NOT NULL, details VARCHAR NOT NULL, {TIMES});
"""

LINEAGE_AND_LEDGER = f"""
ALTER TABLE signals ADD COLUMN model_version VARCHAR;
ALTER TABLE signals ADD COLUMN features VARCHAR;

CREATE TABLE signal_outcomes (
    record_id VARCHAR NOT NULL, signal_id VARCHAR NOT NULL, symbol VARCHAR NOT NULL, net_return DOUBLE NOT NULL,
    label BIGINT NOT NULL, exit_time BIGINT NOT NULL, {TIMES});

-- Each signal's predicted win probability next to its outcome once known: the closed trades it opened
-- (net PnL over the entry notional, summed over accounts; source 'trade'), or, for a signal no trade
-- took, its label on the following bars with the engine's exits (signal_outcomes; source 'label').
CREATE VIEW prediction_ledger AS
WITH traded AS (
    SELECT e.signal_id, count(x.trade_id) = count(*) AS closed,
           sum(CAST(x.realized_pnl - x.fees + x.funding AS DOUBLE))
               / sum(CAST(e.price AS DOUBLE) * CAST(e.quantity AS DOUBLE)) AS net_return,
           max(x.event_time) AS exit_time
    FROM trade_entries e LEFT JOIN trade_exits x ON x.trade_id = e.trade_id AND x.account = e.account
    GROUP BY e.signal_id),
joined AS (
    SELECT s.signal_id, s.symbol, s.interval, s.policy, s.model_version, s.win_probability, s.candle_open_time,
           t.signal_id IS NOT NULL AS traded, t.closed, t.net_return AS trade_return, t.exit_time AS trade_exit,
           o.net_return AS label_return, o.exit_time AS label_exit
    FROM signals s LEFT JOIN traded t ON t.signal_id = s.signal_id
                   LEFT JOIN signal_outcomes o ON o.signal_id = s.signal_id)
SELECT signal_id, symbol, interval, policy, model_version, win_probability, candle_open_time,
       CASE WHEN traded THEN closed ELSE label_return IS NOT NULL END AS resolved,
       CASE WHEN traded THEN (CASE WHEN closed THEN trade_return END) ELSE label_return END AS outcome_net_return,
       CAST(CASE WHEN traded THEN (CASE WHEN closed THEN trade_return END) ELSE label_return END > 0
            AS INTEGER) AS label,
       CASE WHEN traded THEN (CASE WHEN closed THEN trade_exit END) ELSE label_exit END AS resolved_time,
       CASE WHEN traded THEN 'trade' ELSE 'label' END AS source
FROM joined;
"""

BACKTESTS = f"""
-- Backtest results (`slt backtest`, engine/store/backtests.py): one row per run with its headline
-- figures and the whole report (JSON), and its closed trades keyed by run_id. A run is one transaction.
CREATE TABLE backtest_runs (
    record_id VARCHAR NOT NULL, run_id VARCHAR NOT NULL, policy VARCHAR NOT NULL, interval VARCHAR NOT NULL,
    symbols VARCHAR NOT NULL, accounts VARCHAR NOT NULL, start_ms BIGINT NOT NULL, end_ms BIGINT NOT NULL,
    bars BIGINT NOT NULL, initial_equity {MONEY} NOT NULL, final_equity {MONEY} NOT NULL, net_pnl {MONEY} NOT NULL,
    fees {MONEY} NOT NULL, funding {MONEY} NOT NULL, trades BIGINT NOT NULL, win_rate DOUBLE NOT NULL,
    profit_factor DOUBLE, expectancy {MONEY} NOT NULL, sharpe DOUBLE, sortino DOUBLE, max_drawdown DOUBLE NOT NULL,
    max_drawdown_ms BIGINT NOT NULL, exposure DOUBLE NOT NULL, turnover DOUBLE NOT NULL, data_hash VARCHAR NOT NULL,
    warnings VARCHAR NOT NULL, report VARCHAR NOT NULL, seconds DOUBLE NOT NULL, {TIMES});

CREATE TABLE backtest_trades (
    record_id VARCHAR NOT NULL, run_id VARCHAR NOT NULL, trade_id VARCHAR NOT NULL, account VARCHAR NOT NULL,
    symbol VARCHAR NOT NULL, side VARCHAR NOT NULL, quantity {MONEY} NOT NULL, entry_price {MONEY} NOT NULL,
    exit_price {MONEY} NOT NULL, opened_at BIGINT NOT NULL, realized_pnl {MONEY} NOT NULL, fees {MONEY} NOT NULL,
    funding {MONEY} NOT NULL, net_pnl {MONEY} NOT NULL, reason VARCHAR NOT NULL, regime VARCHAR NOT NULL, {TIMES});
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "candles, orders, fills, trades, positions, equity, health", INITIAL),
    Migration(2, "market regimes with their inputs", REGIMES),
    Migration(3, "funding payments and signals", FUNDING_AND_SIGNALS),
    Migration(4, "graded benchmark results", BENCHMARKS),
    Migration(5, "signal lineage (model version, features) and the prediction ledger", LINEAGE_AND_LEDGER),
    Migration(6, "backtest runs and their trades", BACKTESTS),
)

_BOOTSTRAP = "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL, name VARCHAR NOT NULL, " \
             "applied_at TIMESTAMP WITH TIME ZONE NOT NULL)"
_RETRIES = 8


def applied_versions(lake: Lake) -> set[int]:
    try:
        return {row[0] for row in lake.con.execute("SELECT version FROM schema_migrations").fetchall()}
    except duckdb.CatalogException:
        return set()


def _retryable(exc: duckdb.Error) -> bool:
    text = str(exc).lower()
    return isinstance(exc, duckdb.TransactionException) or "conflict" in text or "locked" in text


def migrate(lake: Lake, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
    """Apply every migration not yet applied; return the versions this call applied."""
    versions = [m.version for m in migrations]
    if versions != sorted(set(versions)):
        raise ValueError(f"migration versions must be unique and increasing: {versions}")
    applied: list[int] = []
    for migration in [_bootstrap(), *migrations]:
        for attempt in range(_RETRIES):
            try:
                if _apply(lake, migration) and migration.version:
                    applied.append(migration.version)
                    log.info("📝 store: applied migration %d (%s)", migration.version, migration.name)
                break
            except duckdb.Error as exc:
                if attempt == _RETRIES - 1 or not _retryable(exc):
                    raise
                time.sleep(0.05 * (attempt + 1))
    return applied


def _apply(lake: Lake, migration: Migration) -> bool:
    """Run one migration in one transaction unless it is already applied; True if it ran."""
    with lake.write_transaction() as con:
        if migration.version and migration.version in applied_versions(lake):
            return False
        for statement in _statements(migration.sql):
            con.execute(statement)
        if migration.version:
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [migration.version, migration.name])
    return True


def _bootstrap() -> Migration:
    return Migration(0, "schema_migrations", _BOOTSTRAP)


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
