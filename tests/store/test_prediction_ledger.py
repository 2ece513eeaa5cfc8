"""The prediction ledger view: each signal's probability joined to its outcome, from a closed trade or,
for a signal no trade took, from its label on the following bars."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.core.types import ExitReason, Side, SignalOutcome, SignalRecord, TradeEntry, TradeExit
from engine.store import Lake
from engine.store.writer import write_records
from tests.store.conftest import T0


def signal(name: str, probability: float, model_version: str | None = "7") -> SignalRecord:
    return SignalRecord(name, "model" if model_version else "bootstrap", "ETHUSDT", "1h", Side.BUY, 0.5, probability,
                        2000.0, 20.0, True, "model", "ok", T0, event_time=T0 + 3_600_000,
                        received_time=T0 + 3_600_001, model_version=model_version, features='{"rsi": 51.0}')


def entry(trade: str, name: str, account: str, quantity: str) -> TradeEntry:
    return TradeEntry(trade, account, "ETHUSDT", Side.BUY, Decimal(quantity), Decimal("2000"), Decimal("0.1"),
                      signal_id=name, event_time=T0 + 3_600_100)


def exit_(trade: str, account: str, quantity: str, pnl: str, at: int) -> TradeExit:
    return TradeExit(trade, account, "ETHUSDT", Decimal(quantity), Decimal("2010"), Decimal(pnl), Decimal("0.4"),
                     Decimal("-0.1"), ExitReason.TAKE_PROFIT, event_time=at)


def test_outcomes_from_trades_and_labels(lake: Lake) -> None:
    write_records(lake, [
        signal("closed", 0.61), entry("a1", "closed", "main", "1"), exit_("a1", "main", "1", "10", T0 + 9_000_000),
        entry("b1", "closed", "second", "0.5"), exit_("b1", "second", "0.5", "5", T0 + 9_500_000),
        signal("open", 0.55), entry("a2", "open", "main", "1"),
        signal("half_closed", 0.52), entry("a3", "half_closed", "main", "1"), entry("b3", "half_closed", "second", "1"),
        exit_("a3", "main", "1", "-3", T0 + 8_000_000),
        signal("untaken", 0.40, None), SignalOutcome("untaken", "ETHUSDT", -0.0031, 0, T0 + 7_200_000),
        signal("pending", 0.45),
        # a trade outcome wins over a label for the same signal
        SignalOutcome("open", "ETHUSDT", 0.02, 1, T0 + 7_200_000),
    ])
    rows = lake.con.execute(
        "SELECT signal_id, policy, model_version, win_probability, candle_open_time, resolved, outcome_net_return, "
        "label, resolved_time, source FROM prediction_ledger ORDER BY signal_id").fetchall()
    by = {r[0]: r[1:] for r in rows}
    assert set(by) == {"closed", "open", "half_closed", "untaken", "pending"}
    # (10 - 0.4 - 0.1) + (5 - 0.4 - 0.1) = 14.0 over 2000 * 1.5 of entry notional
    assert by["closed"][:5] == ("model", "7", 0.61, T0, True)
    assert by["closed"][5] == pytest.approx(14.0 / 3000.0)
    assert by["closed"][6:] == (1, T0 + 9_500_000, "trade")
    assert by["open"][4:] == (False, None, None, None, "trade")
    assert by["half_closed"][4:] == (False, None, None, None, "trade")
    assert by["untaken"] == ("bootstrap", None, 0.40, T0, True, -0.0031, 0, T0 + 7_200_000, "label")
    assert by["pending"][4:] == (False, None, None, None, "label")


def test_signals_carry_their_lineage(lake: Lake) -> None:
    write_records(lake, [signal("s", 0.6)])
    row = lake.con.execute("SELECT policy, model_version, features->>'rsi' FROM signals").fetchone()
    assert row == ("model", "7", "51.0")
