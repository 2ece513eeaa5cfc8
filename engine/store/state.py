"""What the trading engine reads from the store when it starts, for reconciliation with the
exchange (`engine.execution.startup`): one account's orders, fills, funding, trades and the signals
its orders came from."""

from __future__ import annotations

from engine.core.types import Fill, FundingPayment, Order, SignalRecord, TradeEntry, TradeExit
from engine.execution.reconcile import StoreView
from engine.execution.startup import StoredState
from engine.risk.regime import RegimeReading, regimes_in_force
from engine.store import reader
from engine.store.lake import Lake


def load_trading_state(lake: Lake, account: str) -> StoredState:
    orders: list[Order] = reader.orders(lake, account)
    fills: list[Fill] = reader.fills(lake, account)
    funding: list[FundingPayment] = reader.funding(lake, account)
    entries = reader.read(lake, TradeEntry, **{"account = ?": account})
    exits = reader.read(lake, TradeExit, **{"account = ?": account})
    signal_ids = sorted({o.signal_id for o in orders if o.signal_id})
    signals: list[SignalRecord] = reader.signals(lake, signal_ids)
    symbols = sorted({s.symbol for s in signals})
    readings = reader.read(lake, RegimeReading, **{"list_contains(?, symbol)": symbols,
                                                   "window_end <= ?": max(s.event_time for s in signals)}) if symbols else []
    in_force = regimes_in_force(readings, [(s.symbol, s.event_time) for s in signals])
    regimes = {s.signal_id: str(regime) for s, regime in zip(signals, in_force) if regime is not None}
    view = StoreView(tuple(orders), frozenset(f.record_id for f in fills), frozenset(p.record_id for p in funding),
                     frozenset(e.trade_id for e in entries), frozenset(x.trade_id for x in exits))
    return StoredState(view, tuple(fills), tuple(funding), tuple(signals), len(exits), regimes)
