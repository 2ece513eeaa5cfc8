"""No look-ahead: a candle reaches the engine only after it closed, so a backtest stopped at t has
made exactly the decisions up to t that the full backtest made (signals, orders, fills, trades)."""

from __future__ import annotations

from engine.core.types import Candle, Fill, Order, SignalRecord, TradeEntry, TradeExit
from tests.backtest.helpers import START, backtest


def decisions(records: list, until: int) -> dict[str, list]:
    """What the engine decided and the exchange did up to `until`, without our wall-clock stamps."""
    def upto(kind: type) -> list:
        return [r for r in records if isinstance(r, kind) and r.event_time <= until]
    return {
        "candles": [(c.symbol, c.open_time, c.close) for c in upto(Candle)],
        "signals": [(s.signal_id, s.side, s.confidence, s.win_probability, s.admitted, s.reason) for s in upto(SignalRecord)],
        "orders": sorted({(o.client_order_id, o.side, o.type, o.quantity, o.stop_price) for o in upto(Order)}),
        "fills": [(f.trade_id, f.client_order_id, f.price, f.quantity, f.fee) for f in upto(Fill)],
        "entries": [(e.trade_id, e.price, e.quantity, e.regime) for e in upto(TradeEntry)],
        "exits": [(x.trade_id, x.price, x.realized_pnl, x.fees, x.funding, x.reason) for x in upto(TradeExit)],
    }


def test_a_backtest_on_data_cut_at_t_made_the_full_runs_decisions_up_to_t() -> None:
    """The cut run's tapes end at t (no later candle, mark or funding exists for it to see); the cuts
    are on the hour, where the simulator's mark path (interpolated within each hour) is complete."""
    full, _ = backtest(400)
    for bars in (100, 280):
        cut = START + bars * 60_000 - 1          # the close of the bars-th bar (09:00 and 12:00 UTC)
        part, _ = backtest(400, cut_ms=cut)
        assert part.bars == bars
        ours, theirs = decisions(part.records.records, cut), decisions(full.records.records, cut)
        assert ours["signals"] and ours["fills"], "nothing decided before the cut: pick a later one"
        for kind in ours:
            assert ours[kind] == theirs[kind], kind
        assert not [s for s in part.records.of(SignalRecord) if s.event_time > cut]


def test_a_backtest_stopped_at_t_made_the_full_runs_decisions_up_to_t() -> None:
    full, _ = backtest(400)
    cut = START + 250 * 60_000 - 1
    part, _ = backtest(400, stop_at_ms=cut)
    assert part.bars == 250 and part.stopped_at == cut
    ours, theirs = decisions(part.records.records, cut), decisions(full.records.records, cut)
    for kind in ours:
        assert ours[kind] == theirs[kind], kind
