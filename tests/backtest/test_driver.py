"""The driver trades the replay in process, and what the engine recorded equals the simulator's account."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal

from engine.backtest.driver import Backtest, build_sim
from engine.backtest.session import Request, prepare
from engine.core.types import Fill, FundingPayment, Order, SignalRecord, TradeExit
from tests.backtest.helpers import MARKET, START, backtest, settings


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


def test_two_accounts_split_every_entry_by_weight_and_each_matches_its_exchange_account() -> None:
    request = Request(interval="1m", accounts="main:PRIMARY:2:aggressive,alt:SECONDARY:1:conservative",
                      equity=Decimal(30_000), start_ms=START, end_ms=START + 180 * 60_000)
    base = dataclasses.replace(settings(), market_data_dir=MARKET)
    config, options, tapes, _, _ = prepare(base, dataclasses.replace(request, symbols=("BTCUSDT", "ETHUSDT")))
    sim, accounts = build_sim(config, options, request.equity, tapes)
    assert [(a.id, sim.exchange.accounts[f"bt-{a.id}"].ledger.deposits) for a in accounts] == \
        [("main", Decimal(20_000)), ("alt", Decimal(10_000))]
    run = asyncio.run(Backtest(config, sim, accounts).run())
    for account in ("main", "alt"):
        exits = [x for x in run.records.of(TradeExit) if x.account == account]
        fills = sorted(f.trade_id for f in run.records.of(Fill) if f.account == account)
        assert exits, f"{account} did not trade"
        assert fills == sorted(str(t.trade_id) for t in sim.exchange.accounts[f"bt-{account}"].trades)
    main_entry = {x.trade_id: x.quantity for x in run.records.of(TradeExit) if x.account == "main"}
    alt_entry = {x.trade_id: x.quantity for x in run.records.of(TradeExit) if x.account == "alt"}
    assert sum(main_entry.values()) > sum(alt_entry.values())   # the weight-2 account takes the larger parts
