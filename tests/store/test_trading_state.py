"""What the engine reads at start-up for one account (`engine.store.state`), from a real lake."""

from __future__ import annotations

from engine.core.types import Side
from engine.execution.orders import Leg
from engine.risk.regime import Regime, RegimeReading
from engine.store import Lake
from engine.store.state import load_trading_state
from engine.store.writer import write_records
from tests.execution.builders import ACCOUNT, MINUTE, order, signal


def reading(end: int, regime: Regime, symbol: str = "BTCUSDT") -> RegimeReading:
    return RegimeReading(symbol, "1m", regime, -16.0, 2.0, 1.0, 0.84, end - 86_400_000, end, 1440, event_time=end)


def test_each_stored_signal_comes_back_with_the_regime_its_entry_was_decided_under(lake: Lake) -> None:
    """A trade rebuilt from fills after a crash gets its entry's regime from here (the book only
    knew it in memory)."""
    early, late, unread = signal(0), signal(10), signal(20, side=Side.SELL)
    write_records(lake, [early, late, unread,
                         order(early, Leg.ENTRY, Side.BUY, "0.010"), order(late, Leg.ENTRY, Side.BUY, "0.010"),
                         reading(early.event_time - MINUTE, Regime.NORMAL),
                         reading(late.event_time - MINUTE, Regime.CRASH),
                         reading(late.event_time - MINUTE, Regime.RALLY, symbol="ETHUSDT")])
    state = load_trading_state(lake, ACCOUNT)
    assert {s.signal_id for s in state.signals} == {early.signal_id, late.signal_id}
    assert state.regimes == {early.signal_id: "NORMAL", late.signal_id: "CRASH"}
