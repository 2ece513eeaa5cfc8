"""The driver trades the replay in process, and what the engine recorded equals the simulator's account."""

from __future__ import annotations

from decimal import Decimal

from engine.core.types import Fill, FundingPayment, Order, SignalRecord, TradeExit
from tests.backtest.helpers import backtest


def test_backtest_trades_and_the_records_equal_the_exchange() -> None:
    run, bt = backtest(240)
    records = run.records
    assert run.bars == 240
    assert records.of(SignalRecord) and records.of(TradeExit), "the engine did not trade"
    account = bt.sim.exchange.accounts["bt-main"]
    fills = {f.trade_id: f for f in records.of(Fill)}
    assert sorted(fills) == sorted(str(t.trade_id) for t in account.trades)
    for trade in account.trades:
        fill = fills[str(trade.trade_id)]
        assert (fill.price, fill.quantity, fill.fee) == (trade.price, trade.quantity, trade.commission)
    ours = {o.client_order_id for o in records.of(Order)}
    theirs = {o.client_id for o in account.orders.values()} | {a.client_id for a in account.algos.values()}
    assert theirs <= ours
    realized = sum((t.realized_pnl for t in account.trades), Decimal(0))
    fees = sum((t.commission for t in account.trades), Decimal(0))
    assert account.ledger.realized == realized and account.ledger.fees == fees
    funding = sum((p.amount for p in {p.income_id: p for p in records.of(FundingPayment)}.values()), Decimal(0))
    assert funding == account.ledger.funding
    assert run.final_equity == bt.equity()
